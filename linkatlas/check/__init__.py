"""Checking link targets: each distinct target is asked once, politely, and its answer (status,
redirect, or why there was none) is appended to the check log the build reads."""

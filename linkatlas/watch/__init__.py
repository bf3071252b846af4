"""Watching broken backlinks over time: changes between snapshots (diff and the changes log),
digests after a build (notify, ignore list), one-shot refresh runs and re-checks."""

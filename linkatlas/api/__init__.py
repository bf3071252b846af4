"""Answers: the v2 `broken_backlinks` request (params, conditions, planner) run over the current
snapshot, written in each format, and charged to a token in the ledger; the ASGI app serving it."""

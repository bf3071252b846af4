"""Answer a `broken_backlinks` request from a snapshot: the one code path of `query` and the
HTTP API (spec/CLI.md: "same result as the API")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb

from ..snapshot import Snapshot
from .formats import render
from .planner import Plan, Request, plan

__all__ = ["answer", "fetch", "open_reader"]

_FETCH = 2048


def open_reader() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def fetch(con: duckdb.DuckDBPyConnection, query: Plan) -> Iterator[list[tuple[Any, ...]]]:
    """Result batches of a plan, fetched incrementally (bounded memory)."""
    cursor = con.cursor()
    cursor.execute(query.sql, query.params)
    while batch := cursor.fetchmany(_FETCH):
        yield batch
    cursor.close()


def answer(con: duckdb.DuckDBPyConnection, snapshot: Snapshot, request: Request
           ) -> tuple[list[list[tuple[Any, ...]]], Iterator[bytes]]:
    """Run and render a request (validated by `parse_request`). Rows are fetched before
    rendering starts, so a failed query raises before any byte is written (and billed)."""
    query = plan(request, snapshot.table)
    batches = list(fetch(con, query))
    return batches, render(request.output, query.columns, batches)

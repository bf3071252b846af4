"""Answer a request from a snapshot in-process (`linkatlas query`, the demo, the tests): the
API's execution (`execute`), streamed to the caller instead of spooled and billed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from ..snapshot import Snapshot
from .execute import FETCH, Deadline, execute, translated
from .params import QUERY_TIMEOUT
from .planner import Plan, Request, plan

__all__ = ["answer", "fetch", "open_reader"]


def open_reader(memory_limit: str = "1GB") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for answering: UTC times, bounded memory (sorts spill to disk).

    GLOBAL, because each request runs on a `cursor()`, which does not inherit session
    settings. The Parquet footer is cached (parsing it cost ~17 ms per query at 10M rows),
    and the optimizer does not read every row group's statistics to plan one range scan."""
    # Sorts that outgrow the limit spill to the system temp dir, not to the working directory.
    spill = Path(tempfile.gettempdir()) / "linkatlas-duckdb"
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": str(spill)})
    for setting in ("TimeZone = 'UTC'", "parquet_metadata_cache = true",
                    "disabled_optimizers = 'statistics_propagation,join_order'"):
        con.execute(f"SET GLOBAL {setting}")
    return con


def fetch(con: duckdb.DuckDBPyConnection, query: Plan, seconds: float = QUERY_TIMEOUT
          ) -> Iterator[list[tuple[Any, ...]]]:
    """The raw result batches of a plan (for tools and tests), under the same deadline and
    error translation as an answer."""
    with Deadline(seconds) as deadline, translated(deadline):
        cursor = deadline.cursor(con)
        cursor.execute(query.sql, query.params)
        while batch := cursor.fetchmany(FETCH):
            yield batch


def answer(con: duckdb.DuckDBPyConnection, snapshot: Snapshot, request: Request,
           seconds: float = QUERY_TIMEOUT) -> Iterator[bytes]:
    """Run and render a request (validated by `parse_request`) as the API does (`execute`),
    streaming, all within `seconds`: the query runs before this returns, so a failing query
    raises before any byte is out."""
    compiled = plan(request, snapshot)
    deadline = Deadline(seconds).__enter__()
    try:
        chunks = execute(con, request, compiled, deadline).chunks
    except BaseException:
        deadline.__exit__()
        raise
    return _closing(chunks, deadline)


def _closing(chunks: Iterator[bytes], deadline: Deadline) -> Iterator[bytes]:
    """`chunks`, then the deadline's timer stopped and its cursors closed."""
    try:
        yield from chunks
    finally:
        deadline.__exit__()

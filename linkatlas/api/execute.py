"""Running a planned request on DuckDB: the one execution path of `linkatlas query` and the HTTP
API (spec/CLI.md: "same result as the API"). They differ only in where the bytes go.

One deadline covers every DuckDB step of a request (the row count php needs, the query, each
batch fetched and rendered); DuckDB's errors become the project's errors here and nowhere else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ..errors import QueryError
from .formats import render
from .params import QUERY_TIMEOUT
from .planner import Plan, Request

__all__ = ["FETCH", "QUERY_TIMEOUT", "Answer", "Deadline", "execute", "translated"]

log = logging.getLogger("linkatlas.api")
FETCH = 4096  # rows per batch fetched from DuckDB and rendered at once


class Deadline:
    """One time limit for every cursor of one request: when it passes, each of them is
    interrupted (only these: other requests' cursors are other DuckDB connections)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def cursor(self, db: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """A new cursor of `db`, interrupted with the others when the deadline passes."""
        cursor = db.cursor()
        with self._lock:
            self._cursors.append(cursor)
            if self.fired:
                cursor.interrupt()
        return cursor

    def check(self) -> None:
        """Raise the timeout error once the deadline has passed (between two batches)."""
        if self.fired:
            raise self.error()

    def error(self) -> QueryError:
        return QueryError("", f"query timeout: the request ran past {self.seconds:g} s")

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for cursor in self._cursors:
                cursor.interrupt()

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()


@contextmanager
def translated(deadline: Deadline) -> Iterator[None]:
    """DuckDB's errors as the project's: a timeout, or a failure whose details (paths, library
    messages) go to the log only."""
    try:
        yield
    except duckdb.InterruptException:
        raise deadline.error() from None
    except duckdb.Error as exc:
        if deadline.fired:
            raise deadline.error() from None
        log.warning("query failed: %s", exc)
        raise QueryError("", _failure(exc)) from None


def _failure(exc: duckdb.Error) -> str:
    """What a user may read of a DuckDB failure: its kind, never its paths or internals."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return "query failed: the server ran out of memory; try a smaller limit"
    return "query failed: the index could not be read; try again later"


@dataclass
class Answer:
    """A request whose query has run: `chunks` renders its rows (each DuckDB error raised as
    QueryError); `rows` counts the rows rendered so far."""

    chunks: Iterator[bytes] = field(init=False)
    rows: int = 0


def execute(db: duckdb.DuckDBPyConnection, request: Request, compiled: Plan,
            deadline: Deadline) -> Answer:
    """Run `compiled` (the plan of `request`) under `deadline`. The query and its first batch
    run before this returns, so a query that cannot run raises before any byte is out."""
    answer = Answer()
    with translated(deadline):
        count = None
        if request.output == "php":  # serialize() writes the element count first
            row = deadline.cursor(db).execute(compiled.count_sql,
                                              compiled.count_params).fetchone()
            count = int(row[0]) if row else 0
            deadline.check()
        cursor = deadline.cursor(db)
        cursor.execute(compiled.sql, compiled.params)
        first = cursor.fetchmany(FETCH)

    def batches() -> Iterator[list[tuple[Any, ...]]]:
        batch = first
        while batch:
            answer.rows += len(batch)
            yield batch
            deadline.check()
            batch = cursor.fetchmany(FETCH)

    def chunks() -> Iterator[bytes]:
        with translated(deadline):
            yield from render(request.output, compiled.columns, batches(), count,
                              request.columns, raw_csv=request.csv_raw)
            deadline.check()
        if count is not None and count != answer.rows:  # php's header would not match
            raise QueryError("", "query failed: the index changed during the request; "
                                 "try again")

    answer.chunks = chunks()
    return answer

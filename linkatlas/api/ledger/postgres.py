"""The token ledger on PostgreSQL (psycopg 3, connections from psycopg_pool): the SQL of
`base.Ledger`, with row locks.

The debit is the same single `UPDATE … WHERE rows_left >= cost RETURNING`: PostgreSQL locks the
token's row for the rest of the transaction, and a concurrent debit waits for it, then re-checks
its WHERE clause against the committed row (READ COMMITTED), so no debit is lost or overspent.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolClosed

from ...errors import LedgerError
from .base import Ledger, Row, Run, redact_url, same_process, scrub

__all__ = ["PgLedger"]

_Connection = psycopg.Connection[TupleRow]

# Any constant will do: it only keeps two processes from creating the schema at once.
_SCHEMA_LOCK = 0x6C696E6B6174

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tokens (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        rows_limit BIGINT NOT NULL CHECK (rows_limit >= 0),
        rows_left BIGINT NOT NULL CHECK (rows_left >= 0),
        revoked BOOLEAN NOT NULL DEFAULT FALSE,
        created TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS charges (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        hash TEXT NOT NULL REFERENCES tokens (hash),
        at TEXT NOT NULL,
        cost BIGINT NOT NULL CHECK (cost >= 0),
        rows_left_after BIGINT NOT NULL CHECK (rows_left_after >= 0))""",
    "CREATE INDEX IF NOT EXISTS charges_hash ON charges (hash, id)",
)


class PgLedger(Ledger):
    """A ledger in a PostgreSQL database; the tables are created on first open.

    The first connection is made directly, so that a bad URL, a wrong password or an
    unreachable server is one error at once, in the driver's words (password taken out);
    the pool (`pool_size` connections at most, each waited for `wait` seconds) opens after."""

    def __init__(self, url: str, *, pool_size: int = 8, wait: float = 30.0) -> None:
        self._url = url
        self.label = redact_url(url)
        self._wait = wait
        self._pid = os.getpid()
        timeout = max(2, math.ceil(wait))  # libpq's least useful value is 2 s
        # autocommit: the transactions are explicit (`conn.transaction()`)
        options: dict[str, Any] = {"autocommit": True, "connect_timeout": timeout}
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=timeout) as conn:
                self._configure(conn)
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    for statement in _SCHEMA:
                        conn.execute(statement)
        except psycopg.Error as exc:
            raise LedgerError(f"cannot open ledger {self.label}: {scrub(str(exc), url)}"
                              ) from None
        self._pool: ConnectionPool[_Connection] = ConnectionPool(
            url, kwargs=options, min_size=1, max_size=pool_size, timeout=wait,
            configure=self._configure, name="linkatlas-ledger", open=True)

    def _configure(self, conn: _Connection) -> None:
        # A row locked by someone else fails after `wait`, it does not hang a request.
        conn.execute(f"SET lock_timeout = {int(self._wait * 1000)}")

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Run]:
        # READ COMMITTED for both kinds: the debit's safety comes from its row lock.
        same_process(self._pid)
        try:
            with self._pool.connection() as conn, conn.transaction():
                def run(sql: str, params: tuple[object, ...]) -> list[Row]:
                    cursor = conn.execute(sql.replace("?", "%s"), params)
                    return cursor.fetchall() if cursor.description is not None else []

                yield run
        except PoolClosed:
            raise LedgerError("ledger is closed") from None
        except psycopg.Error as exc:
            raise LedgerError(f"ledger {self.label}: {scrub(str(exc), self._url)}") from None

    def close(self) -> None:
        self._pool.close()

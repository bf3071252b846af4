"""The token ledger on PostgreSQL (psycopg 3): the SQL of `ledger.py`, with row locks.

The debit is the same single `UPDATE … WHERE rows_left >= cost RETURNING`: PostgreSQL locks the
token's row for the rest of the transaction, and a concurrent debit waits for it, then re-checks
its WHERE clause against the committed row (READ COMMITTED), so no debit is lost or overspent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow

from ..errors import LedgerError
from .ledger import Ledger, Row, Run, _Pool, _scrub, redact_url

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
    """A ledger in a PostgreSQL database; the tables are created on first open."""

    def __init__(self, url: str, *, pool_size: int = 8, wait: float = 30.0) -> None:
        self._url = url
        self.label = redact_url(url)
        self._wait = wait
        self._connect_timeout = max(2, math.ceil(wait))  # libpq's least useful value is 2 s
        self._pool: _Pool[_Connection] = _Pool(self._connect, _close, pool_size, wait)
        with self._tx(write=True) as run:
            run("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA:
                run(statement, ())

    def _connect(self) -> _Connection:
        try:
            conn = psycopg.connect(self._url, autocommit=True,
                                   connect_timeout=self._connect_timeout)
            # A row locked by someone else fails after `wait`, it does not hang a request.
            conn.execute(f"SET lock_timeout = {int(self._wait * 1000)}")
            return conn
        except psycopg.Error as exc:
            raise LedgerError(f"cannot open ledger {self.label}: {_scrub(str(exc), self._url)}"
                              ) from None

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Run]:
        # READ COMMITTED for both kinds: the debit's safety comes from its row lock.
        try:
            with self._pool.lend() as conn, conn.transaction():
                def run(sql: str, params: tuple[object, ...]) -> list[Row]:
                    cursor = conn.execute(sql.replace("?", "%s"), params)
                    return cursor.fetchall() if cursor.description is not None else []

                yield run
        except psycopg.Error as exc:
            raise LedgerError(f"ledger {self.label}: {_scrub(str(exc), self._url)}") from None

    def close(self) -> None:
        self._pool.close()


def _close(conn: _Connection) -> None:
    conn.close()

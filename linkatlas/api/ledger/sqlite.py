"""The default ledger: one SQLite file in WAL mode, shared by every server process.

Writes start with BEGIN IMMEDIATE, which takes the file's write lock before reading, so a debit
cannot interleave with another from any thread or process; waiters queue on busy_timeout.
Each thread keeps one connection of its own (sqlite3 connections are cheap to keep, and a
thread never waits for another's); it is closed when its thread ends, or by `close`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...errors import LedgerError
from .base import Ledger, Run, same_process

__all__ = ["SqliteLedger"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tokens (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        rows_limit INTEGER NOT NULL CHECK (rows_limit >= 0),
        rows_left INTEGER NOT NULL CHECK (rows_left >= 0),
        revoked INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS charges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hash TEXT NOT NULL REFERENCES tokens (hash),
        at TEXT NOT NULL,
        cost INTEGER NOT NULL CHECK (cost >= 0),
        rows_left_after INTEGER NOT NULL CHECK (rows_left_after >= 0))""",
    "CREATE INDEX IF NOT EXISTS charges_hash ON charges (hash, id)",
)


class _Owned:
    """One thread's connection, closed when the thread ends (its thread-local goes) or when
    the ledger closes (sqlite3 connections cannot be referenced weakly; this can)."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __del__(self) -> None:
        self.conn.close()


class SqliteLedger(Ledger):
    """A ledger in the SQLite file `path`; the tables are created on first open."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.label = f"sqlite://{path}"
        self._timeout = timeout
        self._local = threading.local()
        self._owned: weakref.WeakSet[_Owned] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(f"cannot open ledger {self.label}: {exc.strerror}") from None
        with self._tx(write=True) as run:
            for statement in _SCHEMA:
                run(statement, ())

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                   check_same_thread=False)  # `close` runs on another thread
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            self._use_wal(conn)
            # WAL + NORMAL: a commit survives a crash of any process; only a power loss can
            # drop the last debits (an under-charge, never an overspend), and a debit no
            # longer waits for an fsync (0.7 → 0.35 ms, bench/api.py).
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {self.label}: {exc}") from None
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """WAL mode (it stays in the file). Switching needs the file to itself and SQLite does
        not wait for that (busy_timeout does not apply): server processes or threads opening
        a new ledger at once retry until the timeout."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use."""
        same_process(self._pid)
        owned: _Owned | None = getattr(self._local, "owned", None)
        if owned is None:
            owned = _Owned(self._connect())
            with self._lock:
                if self._closed:
                    raise LedgerError("ledger is closed")  # `owned` goes, and closes
                self._owned.add(owned)
            self._local.owned = owned
        return owned.conn

    def _forget(self) -> None:
        """Drop this thread's connection after an error: its state is unknown."""
        self._local.owned = None

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Run]:
        if self._closed:
            raise LedgerError("ledger is closed")
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield lambda sql, params: conn.execute(sql, params).fetchall()
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._forget()
            raise LedgerError(f"ledger {self.label}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            owned = list(self._owned)
        for each in owned:
            each.conn.close()

"""The token ledger: row budgets per API token, stored as hashes, debited atomically.

spec/API.md "Billing (rows)": tokens are 40 lower-case hex characters; each has `rows_limit` and
`rows_left`; a request that `rows_left` cannot pay is refused and charges nothing; concurrent
debits from any number of threads and server processes never overspend or lose a debit.

Only the SHA-256 of a token is stored, so a copy of the ledger cannot be used to call the API.
Every successful debit also appends a row to the `charges` journal in the same transaction, so
`rows_limit - rows_left` always equals the journal's sum for a token (audits, and the tests).
This module is the interface: `Ledger` runs the same SQL on every database, through the one
transaction hook each implementation supplies (`sqlite.py`, `postgres.py`; `?` marks are
rewritten for PostgreSQL there). The implementations import this module and never each other.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from ... import clock
from ...errors import LedgerError
from ..billing import MAX_ROWS, check_rows

__all__ = [
    "Charge",
    "Debit",
    "Ledger",
    "Row",
    "Run",
    "TokenInfo",
    "same_process",
    "new_token",
    "redact_url",
    "scrub",
    "token_hash",
]

_TOKEN = re.compile(r"[0-9a-f]{40}")
_NAME_MAX = 100

Row = tuple[Any, ...]
Run = Callable[[str, tuple[object, ...]], list[Row]]  # runs one statement in a transaction

_COLUMNS = "hash, name, rows_limit, rows_left, revoked, created"


@dataclass(frozen=True)
class TokenInfo:
    """One token as `tokens list` shows it; `hint` is the first 8 hex digits of its hash."""

    name: str
    rows_limit: int
    rows_left: int
    revoked: bool
    created: str
    hint: str


@dataclass(frozen=True)
class Charge:
    """The outcome of one debit: `ok` is False when `rows_left` could not pay `cost`."""

    ok: bool
    rows_left: int
    cost: int
    id: int = field(default=0, compare=False)  # the journal row of a debit, for `refund`


@dataclass(frozen=True)
class Debit:
    """One row of the append-only `charges` journal."""

    at: str
    cost: int
    rows_left_after: int


def new_token() -> str:
    """A fresh token: 40 lower-case hex digits, never all digits (some clients take those for
    numbers and drop leading zeros)."""
    while True:
        token = secrets.token_hex(20)
        if not token.isdigit():
            return token


_HINT = re.compile("[0-9a-f]{8}")


def token_hash(token: str) -> str:
    """The stored form of a well-formed token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _digest(token: object) -> str | None:
    """The hash of `token`, or None when it is not a well-formed token (any input is safe)."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    return token_hash(token)


def _info(row: Row) -> TokenInfo:
    digest, name, rows_limit, rows_left, revoked, created = row
    return TokenInfo(str(name), int(rows_limit), int(rows_left), bool(revoked), str(created),
                     str(digest)[:8])


def _check_name(name: object) -> str:
    if (not isinstance(name, str) or not name.strip() or len(name) > _NAME_MAX
            or not name.isprintable()):
        raise LedgerError(f"name: must be 1 to {_NAME_MAX} printable characters")
    return name


def redact_url(url: str) -> str:
    """`url` fit for a message or a log: any password replaced by `***`, length bounded."""
    # Everything up to the last `@` counts as user info: redacting too much beats leaking.
    text = url
    head, sep, rest = url.partition("://")
    if sep and "@" in rest:
        userinfo, _, tail = rest.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        if colon:
            text = f"{head}://{user}:***@{tail}"
    text = re.sub(r"(?i)(password\s*=\s*)[^&\s]*", r"\1***", text)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 200 else text[:200] + "…"


def _password(url: str) -> str | None:
    """The password in `url`, also when the URL cannot be parsed (then: what lies between the
    first `:` after `://` and the last `@`)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password is None:
        head, sep, rest = url.partition("://")
        password = rest.rpartition("@")[0].partition(":")[2] if sep else ""
    return password or None


def scrub(message: str, url: str) -> str:
    """`message` (from a database driver) with the password of `url` taken out, if it is there
    (the driver may quote the whole URL, or any part of it, when it cannot parse it)."""
    message = message.replace(url, redact_url(url))
    password = _password(url)
    for secret in sorted({password, unquote(password)}, key=len, reverse=True) if password else ():
        message = message.replace(secret, "***")
    return message.strip().splitlines()[0] if message.strip() else "unknown error"


def same_process(pid: int) -> None:
    """Refuse to use, in a forked child, connections a ledger opened in process `pid`: two
    processes on one socket or SQLite handle corrupt each other's transactions."""
    if os.getpid() != pid:
        raise LedgerError("ledger was opened in another process: open it in each worker")


class Ledger(ABC):
    """Tokens and their row budgets; implementations supply a transaction over their
    database (`_tx`) and `close`."""

    label = "ledger"

    @abstractmethod
    def _tx(self, write: bool) -> AbstractContextManager[Run]:
        """A transaction; `write` ones take the write lock before reading anything. A driver's
        error leaves it as a LedgerError (no secret in its text)."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection; the ledger answers LedgerError ("closed") afterwards."""

    def create(self, name: str, rows: int) -> str:
        """A new token with a budget of `rows`; the token is returned once and never stored."""
        name = _check_name(name)
        rows = check_rows(rows, "rows", 0)
        token = new_token()
        with self._tx(write=True) as run:
            run(f"INSERT INTO tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash(token), name, rows, rows, False, clock.iso(clock.now())))
        return token

    def list(self) -> list[TokenInfo]:
        """Every token, revoked ones too, oldest first."""
        with self._tx(write=False) as run:
            rows = run(f"SELECT {_COLUMNS} FROM tokens ORDER BY created, name, hash", ())
        return [_info(row) for row in rows]

    def topup(self, token: str, rows: int) -> TokenInfo:
        """Add `rows` to both `rows_left` and `rows_limit` of a live token."""
        rows = check_rows(rows, "rows", 1)
        digest = self._known(token)
        with self._tx(write=True) as run:
            found = run("UPDATE tokens SET rows_limit = rows_limit + ?, rows_left = rows_left + ?"
                        f" WHERE hash = ? AND NOT revoked AND rows_limit <= ? RETURNING {_COLUMNS}",
                        (rows, rows, digest, MAX_ROWS - rows))
            if not found:
                self._why_not(run, digest, f"rows: the limit would pass {MAX_ROWS}")
        return _info(found[0])

    def revoke(self, token: str) -> None:
        """Revoke a token for good; revoking it again is harmless."""
        digest = self._known(token)
        with self._tx(write=True) as run:
            if not run("UPDATE tokens SET revoked = ? WHERE hash = ? RETURNING hash",
                       (True, digest)):
                raise LedgerError("unknown token")

    def revoke_hint(self, hint: str) -> TokenInfo:
        """Revoke the one token whose hint (`tokens list`) is `hint`: for a token whose owner
        lost it, since only hashes are kept. An ambiguous or unknown hint revokes nothing."""
        if not isinstance(hint, str) or not _HINT.fullmatch(hint):
            raise LedgerError("hint: not a hint (the 8 hex digits `tokens list` shows)")
        with self._tx(write=True) as run:
            rows = run(f"SELECT {_COLUMNS} FROM tokens WHERE hash LIKE ?", (hint + "%",))
            if len(rows) != 1:
                raise LedgerError(f"hint {hint!r} matches {len(rows)} tokens; give the token")
            run("UPDATE tokens SET revoked = ? WHERE hash = ?", (True, rows[0][0]))
        return _info(rows[0])

    def info(self, token: str) -> TokenInfo | None:
        """The live token `token`, or None when it is unknown, revoked or not a token at all."""
        digest = _digest(token)
        if digest is None:
            return None
        with self._tx(write=False) as run:
            rows = run(f"SELECT {_COLUMNS} FROM tokens WHERE hash = ? AND NOT revoked", (digest,))
        if not rows or not hmac.compare_digest(str(rows[0][0]), digest):
            return None
        return _info(rows[0])

    def charge(self, token: str, cost: int) -> Charge:
        """Debit `cost` rows if `rows_left` can pay them, in one statement; else charge nothing.

        An unknown, revoked or malformed token is refused with `rows_left` 0.
        """
        cost = check_rows(cost, "cost", 0)
        digest = _digest(token)
        if digest is None:
            return Charge(False, 0, cost)
        with self._tx(write=True) as run:
            # The row lock (PostgreSQL) or the write lock (SQLite) makes test-and-debit one step.
            done = run("UPDATE tokens SET rows_left = rows_left - ? WHERE hash = ?"
                       " AND NOT revoked AND rows_left >= ? RETURNING hash, rows_left",
                       (cost, digest, cost))
            if done and hmac.compare_digest(str(done[0][0]), digest):
                left = int(done[0][1])
                row = run("INSERT INTO charges (hash, at, cost, rows_left_after)"
                          " VALUES (?, ?, ?, ?) RETURNING id",
                          (digest, clock.iso(clock.now()), cost, left))
                return Charge(True, left, cost, int(row[0][0]))
            rows = run("SELECT rows_left FROM tokens WHERE hash = ? AND NOT revoked", (digest,))
        return Charge(False, int(rows[0][0]) if rows else 0, cost)

    def refund(self, token: str, charge: Charge) -> bool:
        """Undo one debit whose answer was not delivered: its journal row goes and its rows
        come back, in one transaction (so the journal still sums to what was spent). False
        when there is nothing to undo (refunded already, or not a debit of `token`)."""
        digest = _digest(token)
        if digest is None or not charge.ok:
            return False
        with self._tx(write=True) as run:
            gone = run("DELETE FROM charges WHERE id = ? AND hash = ? RETURNING cost",
                       (charge.id, digest))
            if gone:
                run("UPDATE tokens SET rows_left = rows_left + ? WHERE hash = ?",
                    (int(gone[0][0]), digest))
        return bool(gone)

    def journal(self, token: str) -> builtins.list[Debit]:
        """The successful debits of `token`, oldest first (empty for anything not a token)."""
        digest = _digest(token)
        if digest is None:
            return []
        with self._tx(write=False) as run:
            rows = run("SELECT at, cost, rows_left_after FROM charges WHERE hash = ? ORDER BY id",
                       (digest,))
        return [Debit(str(at), int(cost), int(after)) for at, cost, after in rows]

    def _known(self, token: str) -> str:
        digest = _digest(token)
        if digest is None:
            raise LedgerError("token: not a token (40 lower-case hex characters)")
        return digest

    @staticmethod
    def _why_not(run: Run, digest: str, otherwise: str) -> NoReturn:
        rows = run("SELECT revoked FROM tokens WHERE hash = ?", (digest,))
        if not rows:
            raise LedgerError("unknown token")
        raise LedgerError("token is revoked" if rows[0][0] else otherwise)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

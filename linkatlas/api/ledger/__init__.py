"""The token ledger (spec/API.md Billing): the interface and its shared SQL (`base`), one
implementation per database (`sqlite`, `postgres`), and `open_ledger`, which picks one by URL."""

from __future__ import annotations

from pathlib import Path

from ...errors import LedgerError
from .base import Charge, Debit, Ledger, TokenInfo, new_token, redact_url, token_hash
from .sqlite import SqliteLedger

__all__ = [
    "Charge",
    "Debit",
    "Ledger",
    "SqliteLedger",
    "TokenInfo",
    "new_token",
    "open_ledger",
    "redact_url",
    "token_hash",
]


def open_ledger(url: str | None, data: Path, wait: float = 30.0) -> Ledger:
    """The ledger at `url` (spec/CLI.md `--ledger`): None is `sqlite:///DATA/ledger.sqlite`,
    `sqlite:///abs/path` a SQLite file (always absolute), `postgresql://…` a PostgreSQL
    database. Anything else is a LedgerError that names the URL, password redacted.
    `wait`: seconds an operation waits for a lock, a connection or the database server."""
    if url is None:
        return SqliteLedger(data / "ledger.sqlite", timeout=wait)
    scheme = url.partition(":")[0].lower()
    path = url[len("sqlite:"):]
    if scheme == "sqlite" and path.startswith("///") and path.strip("/"):
        # `sqlite:///abs/path`; the `sqlite:////abs/path` of SQLAlchemy means the same here.
        return SqliteLedger(Path("/" + path.lstrip("/")), timeout=wait)
    if scheme in ("postgresql", "postgres") and url[len(scheme):].startswith("://"):
        try:
            from .postgres import PgLedger
        except ImportError:
            raise LedgerError("a PostgreSQL ledger needs psycopg and psycopg_pool: pip install "
                              "'psycopg[binary,pool]'") from None
        return PgLedger(url, wait=wait)
    raise LedgerError(f"ledger: unsupported URL {redact_url(url)!r}"
                      " (use sqlite:///PATH or postgresql://…)")

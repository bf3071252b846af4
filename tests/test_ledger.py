"""The token ledger on SQLite and on a real PostgreSQL server: tokens, hashes, atomic billing."""

from __future__ import annotations

import itertools
import os
import random
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import psycopg
import pytest

from linkatlas.api.ledger import Charge, Ledger, SqliteLedger, open_ledger, token_hash
from linkatlas.errors import LedgerError
from tests.postgres import fresh_database, postgres_url  # noqa: F401  (a fixture, by name)

_databases = itertools.count()

HOSTILE = [
    "",
    "a" * 10_240,
    "\x00",
    "0123456789abcdef0123456789abcdef0123456\x00",
    "é" * 40,
    "\ud800" * 40,
    "'; DROP TABLE tokens; --",
    "' OR '1'='1' --                         ",
    "0123456789ABCDEF0123456789ABCDEF01234567",
    "0123456789abcdef0123456789abcdef01234567\n",
    " 0123456789abcdef0123456789abcdef01234567",
    "0123456789abcdef0123456789abcdef0123456",
    "%",
    "?",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'ledger.sqlite'}"
    server: str = request.getfixturevalue("postgres_url")
    return fresh_database(server, f"ledger_{next(_databases)}")


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(ledger_url, tmp_path) as opened:
        yield opened


def _dump(url: str) -> str:
    """Everything stored in the ledger's two tables, as text."""
    query = "SELECT * FROM tokens", "SELECT * FROM charges"
    if url.startswith("sqlite:"):
        with sqlite3.connect(url[len("sqlite://"):]) as conn:
            return repr([conn.execute(q).fetchall() for q in query])
    with psycopg.connect(url) as pg:
        return repr([pg.execute(q).fetchall() for q in query])


def test_create_list_topup_revoke(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-01T00:00:00Z")
    first = ledger.create("alice", 1000)
    second = ledger.create("bob", 0)
    listed = ledger.list()
    assert [(t.name, t.rows_limit, t.rows_left, t.revoked) for t in listed] == [
        ("alice", 1000, 1000, False), ("bob", 0, 0, False)]
    assert {t.created for t in listed} == {"2024-03-01T00:00:00Z"}
    assert [t.hint for t in listed] == [token_hash(first)[:8], token_hash(second)[:8]]

    after = ledger.topup(second, 250)
    assert (after.rows_limit, after.rows_left) == (250, 250)
    assert ledger.info(second) == after

    ledger.revoke(first)
    ledger.revoke(first)  # again: harmless
    assert ledger.info(first) is None
    assert [t.revoked for t in ledger.list()] == [True, False]
    with pytest.raises(LedgerError, match="revoked") as raised:
        ledger.topup(first, 10)
    assert first not in str(raised.value)


def test_unknown_and_bad_arguments(ledger: Ledger) -> None:
    token = ledger.create("x", 10)
    stranger = "ab" * 20
    for call in (lambda: ledger.topup(stranger, 5), lambda: ledger.revoke(stranger)):
        with pytest.raises(LedgerError, match="unknown token") as raised:
            call()
        assert stranger not in str(raised.value)
    for bad_rows in (-1, True, 2.5, 2**62 + 1):
        with pytest.raises(LedgerError, match="rows"):
            ledger.create("x", bad_rows)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="rows"):
        ledger.topup(token, 0)
    for bad_name in ("", "   ", "a\nb", "a\x00", "n" * 101, "\ud800"):
        with pytest.raises(LedgerError, match="name"):
            ledger.create(bad_name, 1)
    with pytest.raises(LedgerError, match="cost"):
        ledger.charge(token, -1)
    assert ledger.info(token) is not None and ledger.journal(token) == []


def test_token_format(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = [ledger.create(f"t{i}", 1) for i in range(30)]
    assert len(set(tokens)) == 30
    for token in tokens:
        assert len(token) == 40 and set(token) <= set("0123456789abcdef")
        assert not token.isdigit()
    draws = iter(["1" * 40, "2" * 40, "0a" * 20])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(draws))
    assert ledger.create("numeric", 1) == "0a" * 20


def test_only_hashes_are_stored(ledger: Ledger, ledger_url: str, tmp_path: Path) -> None:
    token = ledger.create("secret", 100)
    assert ledger.charge(token, 7).ok
    ledger.close()
    stored = _dump(ledger_url)
    assert token_hash(token) in stored
    assert token not in stored
    for path in tmp_path.glob("ledger.sqlite*"):  # the file and its WAL, byte for byte
        assert token.encode() not in path.read_bytes()


def test_hostile_tokens(ledger: Ledger) -> None:
    real = ledger.create("real", 100)
    for hostile in HOSTILE:
        assert ledger.info(hostile) is None, repr(hostile)
        assert ledger.charge(hostile, 1) == Charge(False, 0, 1)
        assert ledger.journal(hostile) == []
        with pytest.raises(LedgerError) as raised:
            ledger.topup(hostile, 1)
        with pytest.raises(LedgerError):
            ledger.revoke(hostile)
        assert hostile not in str(raised.value) or hostile in ("", "%", "?")
    info = ledger.info(real)
    assert info is not None and info.rows_left == 100 and len(ledger.list()) == 1


def test_a_refund_undoes_one_debit_once(ledger: Ledger) -> None:
    token = ledger.create("buyer", 100)
    kept, undone = ledger.charge(token, 30), ledger.charge(token, 20)
    assert ledger.refund(token, undone) and not ledger.refund(token, undone)  # only once
    assert not ledger.refund(ledger.create("other", 5), kept)  # not that token's debit
    assert ledger.info(token).rows_left == 70
    assert [d.cost for d in ledger.journal(token)] == [30]  # the journal still sums up


def test_charge_arithmetic_and_refusal(ledger: Ledger) -> None:
    token = ledger.create("buyer", 100)
    assert ledger.charge(token, 30) == Charge(True, 70, 30)
    assert ledger.charge(token, 71) == Charge(False, 70, 71)  # refused: nothing charged
    assert ledger.charge(token, 70) == Charge(True, 0, 70)
    assert ledger.charge(token, 1) == Charge(False, 0, 1)
    assert ledger.charge(token, 0) == Charge(True, 0, 0)
    after = ledger.topup(token, 10)
    assert (after.rows_limit, after.rows_left) == (110, 10)
    assert ledger.charge(token, 11) == Charge(False, 10, 11)
    assert ledger.charge(token, 10) == Charge(True, 0, 10)
    assert [(d.cost, d.rows_left_after) for d in ledger.journal(token)] == [
        (30, 70), (70, 0), (0, 0), (10, 0)]
    ledger.revoke(token)
    assert ledger.charge(token, 0) == Charge(False, 0, 0)
    assert len(ledger.journal(token)) == 4


def _hammer(url: str, data: str, token: str, seed: int, threads: int,
            attempts: int) -> list[Charge]:
    """`threads` clients charging `token` at once, each `attempts` random costs."""
    start = threading.Barrier(threads)

    def client(number: int) -> list[Charge]:
        rng = random.Random(seed * 1000 + number)
        start.wait()
        return [shared.charge(token, rng.randint(1, 20)) for _ in range(attempts)]

    with open_ledger(url, Path(data)) as shared, ThreadPoolExecutor(threads) as pool:
        return [c for done in pool.map(client, range(threads)) for c in done]


def _check_books(ledger: Ledger, token: str, limit: int, charges: list[Charge]) -> None:
    paid = [c for c in charges if c.ok]
    spent = sum(c.cost for c in paid)
    assert paid and len(paid) < len(charges)  # the budget ran out part of the way
    assert all(c.rows_left >= 0 for c in charges)
    assert all(c.rows_left < c.cost for c in charges if not c.ok)
    info = ledger.info(token)
    assert info is not None and info.rows_left == limit - spent >= 0
    journal = ledger.journal(token)
    assert len(journal) == len(paid) and sum(d.cost for d in journal) == spent
    left = limit
    for debit in journal:  # each debit starts where the one before ended: none lost
        left -= debit.cost
        assert debit.rows_left_after == left
    assert Counter(d.rows_left_after for d in journal) == Counter(c.rows_left for c in paid)


def test_concurrent_threads(ledger: Ledger, ledger_url: str, tmp_path: Path) -> None:
    limit = 3000  # 60 clients × 12 charges of 1..20 ask for about 7,500
    token = ledger.create("busy", limit)
    charges = _hammer(ledger_url, str(tmp_path), token, seed=1, threads=60, attempts=12)
    _check_books(ledger, token, limit, charges)


def test_concurrent_processes(ledger: Ledger, ledger_url: str, tmp_path: Path) -> None:
    limit = 1500  # 4 processes × 10 clients × 8 charges of 1..20 ask for about 3,400
    token = ledger.create("busier", limit)
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        runs = [pool.submit(_hammer, ledger_url, str(tmp_path), token, seed, 10, 8)
                for seed in range(4)]
        charges = [c for run in runs for c in run.result(timeout=120)]
    _check_books(ledger, token, limit, charges)


def test_reopen_keeps_tokens_and_concurrent_opens(ledger_url: str, tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:  # schema creation races between server processes
        opened = list(pool.map(lambda _: open_ledger(ledger_url, tmp_path), range(4)))
    token = opened[0].create("kept", 5)
    for each in opened:
        each.close()
    with open_ledger(ledger_url, tmp_path) as again:
        info = again.info(token)
        assert info is not None and info.rows_left == 5
    with pytest.raises(LedgerError, match="closed"):
        opened[0].info(token)


def test_default_and_sqlite_urls(tmp_path: Path) -> None:
    with open_ledger(None, tmp_path / "data") as ledger:
        ledger.create("d", 1)
    assert (tmp_path / "data" / "ledger.sqlite").is_file()
    nested = tmp_path / "a" / "b" / "l.sqlite"
    with open_ledger(f"sqlite://{nested}", tmp_path) as ledger:
        assert ledger.list() == []
    assert nested.is_file()
    with open_ledger(f"sqlite:///{nested}", tmp_path) as ledger:  # SQLAlchemy's spelling
        assert isinstance(ledger, SqliteLedger) and ledger.path == nested
    with pytest.raises(LedgerError, match="cannot open ledger"):
        open_ledger(f"sqlite://{tmp_path}", tmp_path)  # a directory


@pytest.mark.parametrize("url", [
    "", "sqlite://", "sqlite:ledger.db", "sqlite:///", "sqlite:////", "mysql://u:hunter2@h/db",
    "postgresql:/db", "ftp://h/?password=hunter2", "http://u:hunter2@[::1/db",
    "postgres ql://u:hunter2@h/db",
])
def test_unsupported_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(LedgerError) as raised:
        open_ledger(url, tmp_path)
    assert "hunter2" not in str(raised.value)
    if url.startswith("mysql"):
        assert "mysql://u:***@h/db" in str(raised.value)


@pytest.mark.parametrize("url", [
    "postgresql://u:hunter2@127.0.0.1:1/db",
    "postgresql://u:hun%zzter2@127.0.0.1:1/db",
    "postgresql://u@127.0.0.1:1/db?password=hunter2",
    "postgresql://u:hunter2@127.0.0.1:1/db?sslmode=nonsense",
    # unparsable: the driver quotes the URL back (issue 13, row 16)
    "postgresql://u:hunter2@[::1/db", "postgresql://u:hunter2@[::1:5432/db?x=1",
    "postgresql://u:hun%25ter2@[::1/db", "postgresql://u:hunter2@127.0.0.1:port/db",
])
def test_postgres_errors_hide_the_password(tmp_path: Path, url: str) -> None:
    with pytest.raises(LedgerError, match="ledger") as raised:
        open_ledger(url, tmp_path)
    assert "hunter2" not in str(raised.value) and "zzter" not in str(raised.value)
    assert "hun%25ter2" not in str(raised.value) and "hun%ter2" not in str(raised.value)


def test_revoke_by_hint(ledger: Ledger) -> None:
    token = ledger.create("lost", 10)
    hint = next(info.hint for info in ledger.list() if info.name == "lost")
    with pytest.raises(LedgerError):
        ledger.revoke_hint("zz" * 4)
    assert ledger.revoke_hint(hint).name == "lost"
    assert ledger.info(token) is None


def _open_files(name: str) -> int:
    """How many file descriptors of this process point at a file called `name`."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += os.readlink(fd).endswith("/" + name)
        except OSError:  # closed in between
            continue
    return count


def test_sqlite_connections_end_with_their_threads(tmp_path: Path) -> None:
    """A server's worker threads come and go: each one's connection goes with it, and close()
    closes the rest, so a long-running server holds no more files than it has threads.
    (SQLite closes a file only when no connection of the process has it open any more.)"""
    with ThreadPoolExecutor(1) as one:  # opened and used by a thread that then ends
        ledger = one.submit(open_ledger, None, tmp_path).result()
        token = one.submit(ledger.create, "t", 5).result()
    for _ in range(3):
        threads = [threading.Thread(target=ledger.info, args=(token,)) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert _open_files("ledger.sqlite") == 0
    assert ledger.info(token) is not None
    assert _open_files("ledger.sqlite") == 1  # this thread's connection
    ledger.close()
    assert _open_files("ledger.sqlite") == 0

"""What a stranger's connection can make the server hold (issue 13, rows 2, 8, 9, 11, 12, 17):
bodies refused before they are buffered, slow headers cut off, private answers marked so,
tokens redacted however they are spelled, no server path or internals in any answer, a
locked ledger answered within seconds."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn

from linkatlas.api.app import redact
from linkatlas.api.params import MAX_QUERY
from linkatlas.server import NoDelayH11, Settings, create_app

from .archives import example_index
from .ports import free_port


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return example_index(tmp_path_factory.mktemp("limits"))


@pytest.fixture
def app(data: Path, tmp_path: Path) -> Iterator[object]:
    made = create_app(Settings(data, f"sqlite:///{tmp_path}/ledger.sqlite"))
    yield made
    made.state.api.ledger.close()


def _call(app: object, method: str, url: str, **kwargs: object) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(call())


def test_a_huge_post_body_is_refused_without_being_read(app: object) -> None:
    sent = [0]

    async def body() -> AsyncIterator[bytes]:
        for _ in range(12_800):  # 800 MB if it were all read
            sent[0] += 65536
            yield b"x" * 65536

    response = _call(app, "POST", "/", content=body())
    assert orjson.loads(response.content) == {
        "error": f"request body: larger than {MAX_QUERY} bytes"}
    assert sent[0] <= 2 * 65536  # refused while streaming, after the cap

    declared = _call(app, "POST", "/", content=b"token=x",
                     headers={"Content-Length": str(800 << 20)})
    assert orjson.loads(declared.content)["error"].startswith("request body: larger than")


def test_a_post_body_under_the_cap_is_a_query(app: object) -> None:
    token = app.state.api.ledger.create("t", 100)  # type: ignore[attr-defined]
    response = _call(app, "POST", "/", content=f"token={token}&from=subscription_info".encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert orjson.loads(response.content)["info"]["rows_left"] == 100


def test_token_bearing_answers_are_private_and_not_sniffed(app: object) -> None:
    token = app.state.api.ledger.create("t", 10_000)  # type: ignore[attr-defined]
    for query in (f"token={token}&from=subscription_info",
                  f"token={token}&from=broken_backlinks&target=example.com&mode=domain",
                  f"token={token}&from=broken_backlinks&target=example.com&mode=nope",
                  "token=bad&from=subscription_info"):
        response = _call(app, "GET", "/?" + query)
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_head_answers_nothing_and_bills_nothing(app: object) -> None:
    token = app.state.api.ledger.create("t", 10_000)  # type: ignore[attr-defined]
    response = _call(app, "HEAD", f"/?token={token}&from=broken_backlinks&target=example.com"
                                  "&mode=domain")
    assert response.status_code == 200 and response.content == b""
    assert app.state.api.ledger.info(token).rows_left == 10_000  # type: ignore[attr-defined]
    assert app.state.api.ledger.journal(token) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("spelling", ["token", "t%6Fken", "%74oken", "TOKEN", "t%6fken"])
def test_tokens_are_redacted_however_the_name_is_spelled(spelling: str) -> None:
    secret = "0123456789abcdef0123456789abcdef01234567"
    line = redact(f"/?from=subscription_info&{spelling}={secret}&x=1")
    assert secret not in line and "[redacted]" in line and "from=subscription_info" in line


def test_access_log_never_holds_an_encoded_token(app: object,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    token = app.state.api.ledger.create("t", 100)  # type: ignore[attr-defined]
    with caplog.at_level(logging.INFO, logger="linkatlas.access"):
        response = _call(app, "GET", f"/?t%6Fken={token}&from=subscription_info")
    assert orjson.loads(response.content)["info"]["rows_left"] == 100  # the parser's token
    assert caplog.records and token not in caplog.text


def test_no_server_path_in_pages_or_errors(data: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-data"
    empty.mkdir()
    for folder in (data, empty):
        app = create_app(Settings(folder, f"sqlite:///{tmp_path}/{folder.name}.sqlite"))
        token = app.state.api.ledger.create("t", 100)
        pages = [_call(app, "GET", "/").text, _call(app, "GET", "/docs").text,
                 _call(app, "GET", f"/?token={token}&from=broken_backlinks&target=x.com"
                                   "&mode=domain").text]
        app.state.api.ledger.close()
        for page in pages:
            assert str(folder) not in page and str(tmp_path) not in page
    assert orjson.loads(pages[-1]) == {"error": "no index to answer from yet; try again later"}


def test_a_damaged_snapshot_file_is_a_plain_error(data: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(data, copy, symlinks=True)
    for part in (copy / "current").resolve().glob("broken_backlinks/*.parquet"):
        part.write_bytes(b"PAR1 this is not parquet PAR1")
    app = create_app(Settings(copy, f"sqlite:///{tmp_path}/l.sqlite"))
    token = app.state.api.ledger.create("t", 1000)
    body = _call(app, "GET", f"/?token={token}&from=broken_backlinks&target=example.com"
                             "&mode=domain").text
    app.state.api.ledger.close()
    assert orjson.loads(body) == {
        "error": "query failed: the index could not be read; try again later"}
    assert str(tmp_path) not in body and "parquet" not in body.lower()


def test_a_limit_of_thousands_of_digits_is_a_plain_error(app: object) -> None:
    token = app.state.api.ledger.create("t", 100)  # type: ignore[attr-defined]
    for digits in (30, 5000, 60_000):
        response = _call(app, "GET", f"/?token={token}&from=broken_backlinks&target=x.com"
                                     f"&mode=domain&limit={'9' * digits}")
        assert orjson.loads(response.content) == {
            "error": "limit: must be an integer from 1 to 5000000"}


def test_a_locked_ledger_is_a_clear_error_within_two_seconds(data: Path,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    app = create_app(Settings(data, f"sqlite:///{path}"))
    token = app.state.api.ledger.create("t", 10_000)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        started = time.perf_counter()
        response = _call(app, "GET", f"/?token={token}&from=broken_backlinks"
                                     "&target=example.com&mode=domain")
        took = time.perf_counter() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert took < 2.5
    assert orjson.loads(response.content) == {
        "error": "billing is unavailable right now; try again in a few seconds"}
    assert str(path) not in response.text
    assert app.state.api.ledger.info(token).rows_left == 10_000
    app.state.api.ledger.close()


class _QuickH11(NoDelayH11):
    header_timeout = 0.5


def test_a_slow_client_cannot_hold_a_connection(app: object) -> None:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=_QuickH11,  # type: ignore
                            log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        def held(opening: bytes, drip: bytes) -> float:
            """Seconds until the server closes a connection that drips its headers."""
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                started = time.monotonic()
                sock.sendall(opening)
                sock.settimeout(0.1)
                while time.monotonic() - started < 5:
                    try:
                        if sock.recv(1024) == b"":
                            return time.monotonic() - started
                    except TimeoutError:
                        pass
                    try:
                        sock.sendall(drip)
                    except OSError:
                        return time.monotonic() - started
            return 99.0

        assert held(b"GET /docs HTTP/1.1\r\nHost: t\r\n", b"X: y\r\n") < 1.5  # slowloris
        assert held(b"", b"") < 1.5  # connects, says nothing
        # after one whole answer, the next request's headers are timed again
        assert held(b"GET /docs HTTP/1.1\r\nHost: t\r\n\r\nGET /docs HTTP/1.1\r\n",
                    b"X: y\r\n") < 1.5
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:  # a normal client
            assert client.get("/docs").status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)

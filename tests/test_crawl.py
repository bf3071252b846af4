"""The crawler against tiny loopback servers: archives, politeness, resume, hostile answers.

Every server here listens on 127.0.0.1 and tells hosts apart by the Host header; names are
`.test` names from a hosts file with hosts_only, so no DNS query leaves the machine.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import brotli
import pytest
from fastwarc.warc import ArchiveIterator, WarcRecordType
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from linkatlas.crawl import CrawlOptions, CrawlStats, run
from linkatlas.crawl.links import decode_body, list_links

NOW = "2024-05-01T12:00:00Z"
HOSTS = ("alpha.test", "beta.test", "gamma.test", "bad.test")


# -- a tiny HTTP/1.1 server ------------------------------------------------------------------
@dataclass
class Request:
    host: str
    path: str
    headers: dict[str, str]
    start: float = 0.0
    end: float = 0.0
    parallel: int = 0  # requests to this host in progress when this one started


Writer = asyncio.StreamWriter
Handler = Callable[[Request, Writer], Awaitable[bool]]  # returns: keep the connection alive


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None,
             reason: str = "OK") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    fields = {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body))}
    fields.update(headers or {})
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Server:
    """A loopback HTTP server in its own thread; `log` holds every request it answered."""

    handler: Handler
    port: int = 0
    log: list[Request] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(5)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, limit=1 << 20))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                host = headers.get("host", "").split(":")[0]
                request = Request(host, path, headers, start=time.monotonic())
                self.active[host] = self.active.get(host, 0) + 1
                request.parallel = self.active[host]
                self.log.append(request)
                try:
                    keep = await self.handler(request, writer)
                    await writer.drain()
                finally:
                    self.active[host] -= 1
                    request.end = time.monotonic()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self, host: str | None = None) -> list[str]:
        return [r.path for r in self.log if host is None or r.host == host]

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LINKATLAS_NOW", NOW)
    (tmp_path / "hosts").write_text("127.0.0.1 " + " ".join(HOSTS) + "\n")
    return tmp_path / "data"


def options(data: Path, **changes: object) -> CrawlOptions:
    base: dict[str, object] = dict(hosts=data.parent / "hosts", hosts_only=True, delay=0.0,
                                   timeout=5.0, concurrency=8, robots_retry=0.1)
    base.update(changes)
    return CrawlOptions(**base)  # type: ignore[arg-type]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], Server]]:
    servers: list[Server] = []

    def start(handler: Handler) -> Server:
        servers.append(Server(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def records(data: Path, kind: WarcRecordType = WarcRecordType.response) -> list[dict[str, object]]:
    """Records of every archive, checked by both fastwarc and warcio (digests, framing)."""
    out: list[dict[str, object]] = []
    for path in sorted((data / "archives").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in WarcioIterator(stream, check_digests=True):
                record.raw_stream.read()  # content_stream(): warcio 1.8 vs brotli 1.2
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=kind, parse_http=True):
                body = record.reader.read()
                out.append({"url": record.headers["WARC-Target-URI"],
                            "ip": record.headers.get("WARC-IP-Address"),
                            "date": record.headers.get("WARC-Date"),
                            "truncated": record.headers.get("WARC-Truncated"),
                            "concurrent": record.headers.get("WARC-Concurrent-To"),
                            "status": record.http_headers.status_code if record.http_headers
                            else None,
                            "headers": dict(record.http_headers) if record.http_headers else {},
                            "body": body, "file": path.name})
    return out


def observations(data: Path) -> list[dict[str, object]]:
    return [json.loads(line) for path in sorted((data / "checks").glob("*.jsonl"))
            for line in path.read_text().splitlines()]


# -- a small multi-host web ------------------------------------------------------------------
def small_web(pages: int = 6, robots: dict[str, tuple[int, str]] | None = None,
              latency: float = 0.0) -> Handler:
    """Each host has /, /p1…/pN; each page links to the next page, to the same page on the
    next host, and to /private/x; robots: host → (status, body) of its robots.txt."""
    robots = robots or {}

    async def handle(request: Request, writer: Writer) -> bool:
        if latency:
            await asyncio.sleep(latency)
        if request.path == "/robots.txt":
            status, text = robots.get(request.host, (404, ""))
            writer.write(response(status, text.encode(), {"Content-Type": "text/plain"}))
            return True
        if request.host not in HOSTS[:3] or not (request.path == "/" or
                                                 request.path.startswith(("/p", "/private"))):
            writer.write(response(404, b"no"))
            return True
        number = 0 if request.path == "/" else int(request.path.rsplit("p", 1)[1] or 0) \
            if request.path.startswith("/p") and request.path[2:].isdigit() else 0
        following = HOSTS[(HOSTS.index(request.host) + 1) % 3]
        links = ['<a href="/private/x">private</a>']
        if number < pages:
            links.append(f'<a href="/p{number + 1}">next</a>')
            links.append(f'<a href="//{following}:{request.headers["host"].split(":")[1]}'
                         f'/p{number + 1}">there</a>')
        writer.write(response(200, f"<html><body>{''.join(links)}</body></html>".encode()))
        return True

    return handle


def test_crawl_archives_every_page_once_with_request_and_response(
        data: Path, serve: Callable[[Handler], Server]) -> None:
    server = serve(small_web(pages=4))
    stats = run(data, [server.url("alpha.test")], options(data))
    pages = {f"http://{h}:{server.port}/p{n}" for h in HOSTS[:3] for n in range(1, 5)}
    pages |= {server.url(h, "/private/x") for h in HOSTS[:3]} | {server.url("alpha.test")}
    responses = records(data)
    fetched = [r["url"] for r in responses if not str(r["url"]).endswith("/robots.txt")]
    assert sorted(fetched) == sorted(pages)  # each once
    assert stats.fetched == len(pages) and stats.done and stats.queued == 0
    assert stats.robots_fetched == 3
    requests = records(data, WarcRecordType.request)
    assert len(requests) == len(responses)
    ids = {r["concurrent"] for r in requests}
    assert None not in ids and len(ids) == len(requests)
    assert {r["ip"] for r in responses + requests} == {"127.0.0.1"}
    assert {str(r["date"])[:19] for r in responses} == {NOW[:19]}
    agents = {r.headers.get("user-agent") for r in server.log}
    assert len(agents) == 1 and "linkatlas" in agents.pop()  # type: ignore[operator]


def test_rerun_fetches_nothing_again_and_recrawl_after_starts_a_new_round(
        data: Path, serve: Callable[[Handler], Server], monkeypatch: pytest.MonkeyPatch) -> None:
    server = serve(small_web(pages=2))
    first = run(data, [server.url("alpha.test")], options(data))
    second = run(data, [server.url("alpha.test")], options(data, recrawl_after=7))
    assert first.fetched > 0 and second.fetched == 0
    monkeypatch.setenv("LINKATLAS_NOW", "2024-05-09T12:00:00Z")
    third = run(data, [server.url("alpha.test")], options(data, recrawl_after=7))
    assert third.fetched == first.fetched
    dates = {str(r["date"])[:10] for r in records(data)}
    assert dates == {"2024-05-01", "2024-05-09"}


def test_bounds_max_pages_and_max_depth(data: Path, serve: Callable[[Handler], Server]) -> None:
    server = serve(small_web(pages=10))
    stats = run(data, [server.url("alpha.test")], options(data, max_pages=5))
    assert stats.fetched == 5 and not stats.done
    assert len([p for p in server.paths() if p != "/robots.txt"]) == 5
    other = data.parent / "other"
    stats = run(other, [server.url("beta.test", "/p1")], options(other.parent / "data",
                                                                max_depth=1))
    # depth 0: /p1; depth 1: /private/x, /p2, gamma /p2
    assert stats.fetched == 4


def test_robots_txt_rules_and_crawl_delay(data: Path,
                                          serve: Callable[[Handler], Server]) -> None:
    robots = {"alpha.test": (200, "User-agent: *\nDisallow: /private\n"),
              "beta.test": (200, "User-agent: linkatlas\nDisallow: /\n"),
              "gamma.test": (200, "User-agent: *\nCrawl-delay: 0.3\nDisallow: /private\n")}
    server = serve(small_web(pages=3, robots=robots))
    stats = run(data, [server.url("alpha.test"), server.url("gamma.test")], options(data))
    assert not [p for p in server.paths() if p.startswith("/private")]
    assert server.paths("beta.test") == ["/robots.txt"]
    assert stats.robots_blocked > 0
    gamma = [r.start for r in server.log if r.host == "gamma.test" and r.path != "/robots.txt"]
    assert len(gamma) >= 3
    assert min(b - a for a, b in zip(gamma, gamma[1:], strict=False)) >= 0.28


def test_robots_txt_unreachable_disallows_and_4xx_allows(
        data: Path, serve: Callable[[Handler], Server]) -> None:
    robots = {"alpha.test": (503, ""), "beta.test": (404, ""), "gamma.test": (410, "")}
    server = serve(small_web(pages=2, robots=robots))
    stats = run(data, [server.url("alpha.test"), server.url("beta.test")],
                options(data, robots_attempts=2, robots_retry=0.05))
    assert server.paths("alpha.test") == ["/robots.txt", "/robots.txt"]
    assert "/p1" in server.paths("beta.test") and "/p1" in server.paths("gamma.test")
    assert not stats.done  # alpha's pages wait for a later run
    stats = run(data, [], options(data, robots_attempts=2, robots_retry=0.05))
    assert stats.fetched == 0 and server.paths("alpha.test").count("/robots.txt") == 4


def test_politeness_per_host_parallelism_and_delay(data: Path,
                                                   serve: Callable[[Handler], Server]) -> None:
    server = serve(small_web(pages=12, latency=0.15))
    run(data, [server.url(h) for h in HOSTS[:3]], options(data, per_host=2, concurrency=16))
    assert max(r.parallel for r in server.log) == 2  # two per host, never more
    overlapping = sum(1 for a in server.log for b in server.log
                      if a.host != b.host and a.start < b.start < a.end)
    assert overlapping > 0  # hosts are fetched in parallel
    other = data.parent / "delayed"
    server.log.clear()
    run(other, [server.url("alpha.test")], options(data, delay=0.1, per_host=4, max_pages=6))
    starts = sorted(r.start for r in server.log if r.host == "alpha.test")
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.09



def test_a_429_with_retry_after_pauses_its_host_only(data: Path,
                                                      serve: Callable[[Handler], Server]) -> None:
    """alpha's /p1 answers 429 with Retry-After: 1 (then 503 with Retry-After: 3600, longer than
    the cap: not waited for); alpha sends nothing for that second, beta goes on meanwhile."""
    web = small_web(pages=4, latency=0.02)
    answers = {"/p1": "1", "/p2": "3600"}

    async def handle(request: Request, writer: Writer) -> bool:
        pause = answers.pop(request.path, None) if request.host == "alpha.test" else None
        if pause is not None:
            status, reason = (429, "Too Many Requests") if pause == "1" else (503, "Busy")
            writer.write(response(status, b"later", {"Retry-After": pause}, reason))
            return True
        return await web(request, writer)

    server = serve(handle)
    run(data, [server.url("alpha.test"), server.url("beta.test")], options(data, per_host=1))
    alpha = [r for r in server.log if r.host == "alpha.test" and r.path != "/robots.txt"]
    busy = next(n for n, r in enumerate(alpha) if r.path == "/p1")
    assert alpha[busy + 1].start - alpha[busy].start >= 0.95  # the Retry-After was honoured
    assert any(alpha[busy].start < r.start < alpha[busy + 1].start
               for r in server.log if r.host == "beta.test")  # the other host was not held
    away = next(n for n, r in enumerate(alpha) if r.path == "/p2")
    assert away + 1 == len(alpha) or alpha[away + 1].start - alpha[away].start < 0.9
    statuses = {r["url"]: r["status"] for r in records(data)}
    assert statuses[server.url("alpha.test", "/p1")] == 429  # archived as it came


# -- redirects --------------------------------------------------------------------------------
def test_redirects_are_recorded_and_followed_through_the_frontier(
        data: Path, serve: Callable[[Handler], Server]) -> None:
    async def handle(request: Request, writer: Writer) -> bool:
        port = request.headers["host"].split(":")[1]
        if request.path == "/":
            body = b'<a href="/loop-a">a</a><a href="/chain/0">c</a><a href="/moved">m</a>'
            writer.write(response(200, body))
        elif request.path == "/moved":
            writer.write(response(301, b"", {"Location": f"http://beta.test:{port}/landed"},
                                  reason="Moved Permanently"))
        elif request.path == "/loop-a":
            writer.write(response(302, b"", {"Location": "/loop-b"}, reason="Found"))
        elif request.path == "/loop-b":
            writer.write(response(302, b"", {"Location": "/loop-a"}, reason="Found"))
        elif request.path.startswith("/chain/"):
            step = int(request.path.rsplit("/", 1)[1])
            writer.write(response(307, b"", {"Location": f"/chain/{step + 1}"}))
        else:
            writer.write(response(200 if request.path == "/landed" else 404, b"<p>end</p>"))
        return True

    server = serve(handle)
    stats = run(data, [server.url("alpha.test")], options(data, max_redirects=3))
    by_url = {r["url"]: r for r in records(data)}
    assert by_url[server.url("alpha.test", "/moved")]["status"] == 301
    assert by_url[server.url("beta.test", "/landed")]["status"] == 200
    assert server.paths("alpha.test").count("/loop-a") == 1
    assert server.paths("alpha.test").count("/loop-b") == 1
    chain = [p for p in server.paths() if p.startswith("/chain/")]
    assert chain == ["/chain/0", "/chain/1", "/chain/2", "/chain/3"]
    assert stats.by_status[302] == 2 and stats.done


# -- hostile servers --------------------------------------------------------------------------
BOMB_SIZE = 200 * 1024 * 1024


def _bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * (1 << 20)
    head = b"<html><body><a href='/after-bomb'>x</a>"
    return packer.compress(head) + b"".join(packer.compress(zeros) for _ in
                                            range(BOMB_SIZE >> 20)) + packer.flush()


async def hostile(request: Request, writer: Writer) -> bool:
    """bad.test: one misbehaviour per path; /ok works, to show the crawl goes on."""
    path = request.path
    if path == "/robots.txt":
        writer.write(response(404))
    elif path == "/drip":  # headers, then a byte every 50 ms, for ever
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                     b"Content-Length: 999999\r\n\r\n")
        for _ in range(10_000):
            writer.write(b"<")
            await writer.drain()
            await asyncio.sleep(0.05)
        return False
    elif path == "/slow-headers":  # nothing at all for a long time
        await asyncio.sleep(30)
        return False
    elif path == "/endless":  # a chunked body that never ends
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"<p>" + b"x" * 65536 + b"</p>"
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for _ in range(100_000):
            writer.write(frame)
            await writer.drain()
        return False
    elif path == "/bad-status":
        writer.write(b"HTTP/1.1 OK-ish\r\nContent-Length: 0\r\n\r\n")
        return False
    elif path == "/garbage":
        writer.write(b"\x16\x03\x01 this is not http at all\r\n\r\n")
        return False
    elif path == "/long-length":  # promises more than it sends, then hangs up
        writer.write(response(200, b"<a href='/ok'>x</a>", {"Content-Length": "100000"}))
        return False
    elif path == "/short-length":  # sends more than it promised, keeps the connection
        writer.write(response(200, b"<a href='/ok2'>x</a>GARBAGE-GARBAGE-GARBAGE",
                              {"Content-Length": "19"}))
        return True
    elif path == "/bomb":
        writer.write(response(200, BOMB, {"Content-Encoding": "gzip"}))
    elif path == "/links":
        body = "".join(f'<a href="/l/{n}">{n}</a>' for n in range(100_000)).encode()
        writer.write(response(200, b"<html><body>" + body))
    else:
        writer.write(response(200, b"<p>fine</p>"))
    return True


BOMB = _bomb()


@pytest.mark.parametrize(("path", "expect"), [
    ("/drip", {"truncated": "time"}),
    ("/slow-headers", {"error": "timeout"}),
    ("/endless", {"truncated": "length"}),
    ("/bad-status", {"error": "other"}),
    ("/garbage", {"error": "other"}),
    ("/long-length", {"truncated": "disconnect"}),
    ("/short-length", {"error": "other"}),  # aiohttp rejects the surplus: a protocol error
    ("/bomb", {"status": 200}),
])
def test_hostile_server_is_bounded_and_the_crawl_goes_on(
        data: Path, serve: Callable[[Handler], Server], path: str,
        expect: dict[str, object]) -> None:
    server = serve(hostile)
    start = time.monotonic()
    stats = run(data, [server.url("bad.test", path), server.url("bad.test", "/ok")],
                options(data, timeout=1.0, max_body=1 << 20, max_decoded=1 << 20))
    assert time.monotonic() - start < 4
    assert "/ok" in server.paths()
    by_url = {r["url"]: r for r in records(data)}
    assert by_url[server.url("bad.test", "/ok")]["status"] == 200
    if "error" in expect:
        seen = [o for o in observations(data) if o["url"] == server.url("bad.test", path)]
        assert [(o["error"], o["source"], o["method"]) for o in seen] == [
            (expect["error"], "crawl", "crawl")]
        assert stats.errors == 1
    else:
        record = by_url[server.url("bad.test", path)]
        assert record["truncated"] == expect.get("truncated")
        assert len(record["body"]) <= 1 << 20  # type: ignore[arg-type]
    if path == "/bomb":  # stored as received (compressed), parsed decoded: the link was seen
        assert by_url[server.url("bad.test", path)]["body"] == BOMB
        assert "/after-bomb" in server.paths()


def test_a_page_with_100000_links_is_bounded(data: Path,
                                             serve: Callable[[Handler], Server]) -> None:
    server = serve(hostile)
    start = time.monotonic()
    stats = run(data, [server.url("bad.test", "/links")],
                options(data, max_links=500, max_pages=50, concurrency=16))
    assert time.monotonic() - start < 10
    assert stats.fetched == 50 and stats.queued == 451


def test_decode_body_bounds_gzip_deflate_and_brotli_bombs() -> None:
    zeros = b"\0" * (64 << 20)
    for coding, packed in [("gzip", gzip.compress(zeros, 1)), ("deflate", zlib.compress(zeros)),
                           ("br", brotli.compress(zeros, quality=1))]:
        decoded = decode_body(packed, coding, 1 << 20)
        assert len(decoded) == 1 << 20, coding
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert decode_body(raw.compress(b"<a>") + raw.flush(), "deflate", 100) == b"<a>"
    # Bytes not coded as labelled, or in an unknown coding, are read as they are (codings.py).
    assert decode_body(b"not gzip", "gzip", 100) == b"not gzip"
    assert decode_body(b"x", "compress", 100) == b"x"


def test_list_links_follows_what_a_browser_would() -> None:
    html = (b'<html><head><base href="http://x.test/dir/"><link rel="canonical" href="/c">'
            b'<link rel="stylesheet" href="/s.css"></head><body><a href="a#frag">a</a>'
            b'<a href="mailto:x@y">m</a><area href="/area"><iframe src="//y.test/f"></iframe>'
            b'<form action="/form"></form><a href="a">again</a></body></html>')
    assert list_links(html, "http://x.test/page") == [
        "http://x.test/c", "http://x.test/dir/a", "http://x.test/area", "http://y.test/f"]
    nofollow = b'<meta name="robots" content="noindex, nofollow"><a href="/a">a</a>'
    assert list_links(nofollow, "http://x.test/") == []
    assert list_links(b'<a href="/a">a</a>', "http://x.test/", robots_header="nofollow") == []


# -- content as received; names and addresses -------------------------------------------------
def test_a_link_header_canonical_is_followed_and_archived(
        data: Path, serve: Callable[[Handler], Server]) -> None:
    """A page whose only link is in its HTTP Link header (two header lines, the canonical in
    the second): the crawler fetches the target and archives its answer."""
    async def handle(request: Request, writer: Writer) -> bool:
        if request.path == "/":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n"
                         b"Link: </style.css>; rel=preload; as=style\r\n"
                         b'Link: </canonical?a=1>; rel="canonical"\r\n\r\n')
        else:
            writer.write(response(200 if request.path == "/canonical?a=1" else 404, b"<p>x</p>"))
        return True

    server = serve(handle)
    stats = run(data, [server.url("alpha.test")], options(data))
    assert server.paths() == ["/robots.txt", "/", "/canonical?a=1"]
    assert stats.fetched == 2 and stats.done
    archived = {str(r["url"]): r["status"] for r in records(data)}
    assert archived[server.url("alpha.test", "/canonical?a=1")] == 200


def test_compressed_pages_are_stored_as_received_and_parsed_decoded(
        data: Path, serve: Callable[[Handler], Server]) -> None:
    pages = {"/": ("gzip", gzip.compress(b'<a href="/br">br</a>')),
             "/br": ("br", brotli.compress(b'<a href="/deflate">d</a>')),
             "/deflate": ("deflate", zlib.compress(b'<a href="/end">e</a>'))}

    async def handle(request: Request, writer: Writer) -> bool:
        coding, body = pages.get(request.path, ("identity", b"end"))
        writer.write(response(200, body, {"Content-Encoding": coding}))
        return True

    server = serve(handle)
    run(data, [server.url("alpha.test")], options(data))
    by_url = {r["url"]: r for r in records(data)}
    for path, (coding, body) in pages.items():
        record = by_url[server.url("alpha.test", path)]
        assert record["body"] == body
        assert record["headers"]["Content-Encoding"] == coding  # type: ignore[index]
    assert server.url("alpha.test", "/end") in by_url
    assert "br" in server.log[0].headers["accept-encoding"]


def test_nxdomain_and_refused_addresses_become_observations(
        data: Path, serve: Callable[[Handler], Server]) -> None:
    async def handle(request: Request, writer: Writer) -> bool:
        port = request.headers["host"].split(":")[1]
        body = (f'<a href="http://nowhere.test:{port}/">x</a>'
                f'<a href="http://127.0.0.2:{port}/">y</a><a href="http://10.1.2.3/">z</a>')
        writer.write(response(200, body.encode()))
        return True

    server = serve(handle)
    stats = run(data, [server.url("alpha.test")], options(data))
    seen = {o["url"]: o["error"] for o in observations(data)}
    assert seen == {f"http://nowhere.test:{server.port}/": "dns",
                    f"http://127.0.0.2:{server.port}/": "address",
                    "http://10.1.2.3/": "address"}
    assert stats.errors == 3 and stats.by_error == {"dns": 1, "address": 2}
    assert len(server.log) == 2  # robots.txt and the seed: nothing reached 127.0.0.2


# -- kill -9 and resume -----------------------------------------------------------------------
CHILD = """
import sys
from pathlib import Path
from linkatlas.crawl import CrawlOptions, run
data, hosts, seed = sys.argv[1:4]
run(Path(data), [seed], CrawlOptions(hosts=Path(hosts), hosts_only=True, delay=0.0,
                                     concurrency=4, per_host=2))
"""


def test_kill_9_leaves_valid_archives_and_the_rerun_completes_without_refetching(
        data: Path, serve: Callable[[Handler], Server]) -> None:
    server = serve(small_web(pages=40, latency=0.05))
    argv = [sys.executable, "-c", CHILD, str(data), str(data.parent / "hosts"),
            server.url("alpha.test")]
    env = dict(os.environ)
    progress = [0]
    for _ in range(3):
        child = subprocess.Popen(argv, env=env)
        # Kill it once it has archived something new (a loaded machine starts it slowly),
        # or after 30 s.
        deadline = time.monotonic() + 30
        while len(records(data)) <= progress[-1] and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait()
        progress.append(len(records(data)))  # every archive is readable after the kill
    assert progress == sorted(set(progress)) and progress[-1] < 124  # killed mid-crawl
    stats = run(data, [server.url("alpha.test")], options(data))
    assert stats.done
    fetched = [r["url"] for r in records(data) if not str(r["url"]).endswith("robots.txt")]
    assert len(fetched) == len(set(fetched)) == 3 * 41 + 1  # every page, once
    page_requests = [p for p in server.paths() if p != "/robots.txt"]
    assert len(page_requests) - len(fetched) <= 4 * 3  # at most the kills' requests in flight


def test_progress_reports_the_counters(data: Path, serve: Callable[[Handler], Server]) -> None:
    server = serve(small_web(pages=3, latency=0.05))
    seen: list[CrawlStats] = []
    stats = run(data, [server.url("alpha.test")], options(data, delay=0.2, per_host=1),
                progress=lambda s: seen.append(
                    CrawlStats(fetched=s.fetched, queued=s.queued, hosts_waiting=s.hosts_waiting)))
    assert seen and seen[-1].fetched == stats.fetched and stats.pages_per_s > 0
    assert any(s.hosts_waiting for s in seen) and stats.host_waits
    assert stats.archives and all((data / "archives" / a).exists() for a in stats.archives)

"""One address policy, in every spelling (issue 13, row 3): crawl and check against a real
server on 127.0.0.2, reached through each literal form an HTTP stack may accept, fetch
nothing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from linkatlas.check.checker import CheckOptions, check_urls
from linkatlas.crawl import CrawlOptions
from linkatlas.crawl import run as crawl
from linkatlas.net.resolver import canonical_ip, is_public
from linkatlas.observations import CheckLog

# 127.0.0.2, spelled as inet_aton, WHATWG and the IPv6 embeddings read it
FORMS = ["127.0.0.2", "127.2", "127.0.2", "2130706434", "0177.0.0.2", "0x7f.2", "0x7f000002",
         "0x7f.0.0.2", "017700000002", "127.0.0.2.", "[::ffff:127.0.0.2]", "[::127.0.0.2]",
         "[64:ff9b::7f00:2]", "[2002:7f00:2::]", "[::ffff:7f00:2]"]


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        body = b"<html><title>internal</title><a href='/secret'>s</a></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def internal() -> Iterator[int]:
    """A real HTTP server on 127.0.0.2 (not in the hosts file): nothing may reach it."""
    _Counting.hits = []
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _hosts(tmp_path: Path) -> Path:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 a.test\n")
    return hosts


def test_the_server_is_reachable_by_its_plain_address(internal: int) -> None:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.2:{internal}/", timeout=5) as response:
        assert response.status == 200  # so "nothing fetched" below means refused


def test_check_refuses_every_spelling(internal: int, tmp_path: Path) -> None:
    urls = [f"http://{form}:{internal}/x" for form in FORMS]
    options = CheckOptions(hosts=_hosts(tmp_path), hosts_only=True, timeout=0.5, backoff=0.05,
                           retries=1)

    async def main() -> None:
        with CheckLog(tmp_path) as log:
            await check_urls(urls, log, options, None)

    asyncio.run(main())
    assert _Counting.hits == []


def test_crawl_refuses_every_spelling(internal: int, tmp_path: Path) -> None:
    seeds = [f"http://{form}:{internal}/" for form in FORMS]
    crawl(tmp_path / "data", seeds, CrawlOptions(hosts=_hosts(tmp_path), hosts_only=True,
                                                 delay=0.0, max_pages=50))
    assert _Counting.hits == []


@pytest.mark.parametrize("form", [f.strip("[]") for f in FORMS])
def test_every_spelling_is_canonical_and_refused(form: str) -> None:
    assert not is_public(form)
    assert canonical_ip(form) is not None


@pytest.mark.parametrize(("host", "public"), [
    ("8.8.8.8", True), ("134744072", True), ("0x8.0x8.0x8.0x8", True), ("2001:4860::8888", True),
    ("64:ff9b::808:808", True), ("2002:808:808::", True), ("0", False), ("0.0.0.0", False),
    ("10.1", False), ("0300.0250.1.1", False), ("::ffff:10.0.0.1", False), ("::1", False)])
def test_public_addresses_stay_public(host: str, public: bool) -> None:
    assert is_public(host) is public


@pytest.mark.parametrize("host", ["example.test", "1.2.3.4.example", "a1", "1e1"])
def test_names_are_not_literals(host: str) -> None:
    assert canonical_ip(host) is None


@pytest.mark.parametrize("host", ["08.1", "1.2.3.4.5", "256.1.1.1", "1.16777216", "0x100.1"])
def test_malformed_numbers_are_refused_not_resolved(host: str) -> None:
    with pytest.raises(ValueError):
        canonical_ip(host)

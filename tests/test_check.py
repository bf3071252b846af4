"""The target checker against a loopback server that answers every case (issue 6)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from linkatlas.check.checker import CheckOptions, CheckStats, check_urls, run
from linkatlas.net import error_kind
from linkatlas.net.resolver import HostNotFound
from linkatlas.net.retry import retry_after
from linkatlas.observations import CheckLog, Observation
from linkatlas.rules.verdicts import verdict

NAMES = ["a.test", "b.test", "cap.test", *(f"h{n}.test" for n in range(1, 6)), "rob.test",
         "rob500.test", "robmoved.test"]


class Site:
    """aiohttp.web on 127.0.0.1 in its own thread; routes by path, counts by Host."""

    def __init__(self) -> None:
        self.hits: Counter[tuple[str, str, str]] = Counter()   # (method, host, path)
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.inflight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.total = 0
        self.peak_total = 0
        self.sequences: dict[str, list[int]] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        self.runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def stop(self) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.split(":")[0]
        path = request.path
        self.hits[(request.method, host, path)] += 1
        self.times[path].append(time.monotonic())
        self.inflight[host] += 1
        self.total += 1
        self.peak[host] = max(self.peak[host], self.inflight[host])
        self.peak_total = max(self.peak_total, self.total)
        try:
            return await self.answer(request, host, path)
        finally:
            self.inflight[host] -= 1
            self.total -= 1

    async def answer(self, request: web.Request, host: str, path: str) -> web.StreamResponse:
        head = request.method == "HEAD"
        if path in ("/robots.txt", "/moved-robots.txt") and host.startswith("rob"):
            if host == "rob500.test":
                return web.Response(status=500)
            if host == "robmoved.test" and path == "/robots.txt":
                return web.Response(status=301, headers={"Location": "/moved-robots.txt"})
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if path in ("/404", "/410", "/500", "/503"):
            return web.Response(status=int(path[1:]))
        if path == "/head405":  # refuses HEAD; GET has a body far longer than a check reads
            return web.Response(status=405) if head else web.Response(body=b"x" * 1_000_000)
        if path == "/head404":  # lies to HEAD
            return web.Response(status=404 if head else 200)
        if path == "/slow":
            await asyncio.sleep(3)
        if path == "/sluggish":
            await asyncio.sleep(0.15)
        if path == "/reset":
            sock = request.transport.get_extra_info("socket") if request.transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if path in ("/r1", "/loop-a", "/loop-b") or path.startswith("/chain/"):
            target = {"/r1": "r2?x=1", "/loop-a": "/loop-b", "/loop-b": "/loop-a"}.get(path)
            if target is None:
                target = f"/chain/{int(path.rsplit('/', 1)[1]) + 1}"
            return web.Response(status=301, headers={"Location": target})
        if path == "/r2":
            return web.Response(status=302, headers={"Location": self.url("B.test", "/r3#x")})
        if path == "/429":
            return web.Response(status=429, headers={"Retry-After": "1"})
        if path == "/429-once" and self.hits[("HEAD", host, path)] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        if path == "/503-busy":
            return web.Response(status=503, headers={"Retry-After": "0"})
        if path in ("/503-away", "/429-away"):
            return web.Response(status=int(path[1:4]), headers={"Retry-After": "3600"})
        if path == "/503-once" and self.hits[("HEAD", host, path)] == 1:
            later = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
            return web.Response(status=503, headers={"Retry-After": later})
        if path.startswith("/seq"):  # answers the codes of its sequence, the last one repeats
            codes = self.sequences[path]
            return web.Response(status=codes.pop(0) if len(codes) > 1 else codes[0])
        if path.startswith("/busy"):
            await asyncio.sleep(0.04)
            if host == "cap.test" and self.inflight[host] > 2:
                return web.Response(status=503)  # overloaded: a checker must not cause this
        return web.Response(text="ok")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    server = Site()
    server.start()
    yield server
    server.stop()


@dataclass
class Result:
    stats: CheckStats
    observations: list[Observation] = field(default_factory=list)

    def by_url(self) -> dict[str, Observation]:
        return {o.url: o for o in self.observations}


def check(tmp_path: Path, urls: list[str],
          progress: Callable[[CheckStats], None] | None = None,
          previous: dict[str, tuple[int, str]] | None = None, **changes: Any) -> Result:
    """Check urls with test-sized timeouts; every name in NAMES is 127.0.0.1, others NXDOMAIN."""
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 " + " ".join(NAMES) + "\n")
    settings: dict[str, Any] = dict(hosts=hosts, hosts_only=True, timeout=0.5, backoff=0.05,
                                    retries=2, retry_after_cap=2.0, confirm_delay=0.05)
    options = CheckOptions(**(settings | changes))

    async def main() -> CheckStats:
        with CheckLog(tmp_path) as log:
            return await check_urls(urls, log, options, progress, previous=previous)

    stats = asyncio.run(main())
    lines = b"".join(p.read_bytes() for p in sorted((tmp_path / "checks").glob("*.jsonl")))
    observations = [Observation(**orjson.loads(line)) for line in lines.splitlines()]
    return Result(stats, observations)


def one(result: Result) -> Observation:
    assert len(result.observations) == 1, result.observations
    return result.observations[0]


@pytest.mark.parametrize(("path", "code", "method", "kind"), [
    ("/ok", 200, "HEAD", "good"),
    ("/404", 404, "GET", "broken"),
    ("/410", 410, "GET", "broken"),
    ("/500", 500, "GET", "broken"),
    ("/503", 503, "GET", "broken"),        # no Retry-After: retried, then believed
    ("/head405", 200, "GET", "good"),         # HEAD refused, GET decides
    ("/head404", 200, "GET", "good"),         # HEAD lies, GET decides
    ("/sluggish", 200, "HEAD", "good"),       # slow but within the timeout
    ("/429-once", 200, "HEAD", "good"),       # Retry-After honoured, then answered
    ("/503-once", 200, "HEAD", "good"),       # Retry-After as an HTTP-date
])
def test_status_verdicts(site: Site, tmp_path: Path, path: str, code: int, method: str,
                         kind: str) -> None:
    result = check(tmp_path, [site.url("a.test", path)])
    observation = one(result)
    assert (observation.http_code, observation.error, observation.method) == (code, "", method)
    assert verdict(observation.http_code, observation.error) == kind
    assert result.stats.verdicts == Counter({kind: 1})


def test_head_is_tried_first_and_get_confirms_a_4xx(site: Site, tmp_path: Path) -> None:
    check(tmp_path, [site.url("b.test", "/410")])
    assert site.hits[("HEAD", "b.test", "/410")] == 1
    assert site.hits[("GET", "b.test", "/410")] == 1


def test_retry_after_is_honoured(site: Site, tmp_path: Path) -> None:
    site.times.pop("/429-once", None)
    site.hits.pop(("HEAD", "b.test", "/429-once"), None)
    result = check(tmp_path, [site.url("b.test", "/429-once")])
    assert one(result).http_code == 200
    first, second = site.times["/429-once"][:2]
    assert second - first >= 0.95
    assert result.stats.retries == 1


def test_persistent_429_is_logged_as_transient(site: Site, tmp_path: Path) -> None:
    started = time.monotonic()
    result = check(tmp_path, [site.url("a.test", "/429")], retries=1)
    observation = one(result)
    assert (observation.http_code, observation.error) == (429, "")
    assert verdict(observation.http_code, observation.error) == "undecided"
    assert time.monotonic() - started >= 0.95  # waited for Retry-After before the retry


def test_a_503_that_outlasts_its_retries_is_broken(site: Site, tmp_path: Path) -> None:
    result = check(tmp_path, [site.url("a.test", "/503-busy")])
    assert (one(result).http_code, one(result).error, result.stats.retries) == (503, "", 2)
    assert site.hits[("HEAD", "a.test", "/503-busy")] == 3


def test_a_long_retry_after_is_not_waited_for(site: Site, tmp_path: Path) -> None:
    started = time.monotonic()
    result = check(tmp_path, [site.url("a.test", "/503-away"), site.url("b.test", "/429-away")])
    assert {(o.http_code, verdict(o.http_code, o.error)) for o in result.observations} == {
        (503, "broken"), (429, "undecided")}
    assert result.stats.retries == 0 and time.monotonic() - started < 1


def test_timeout_is_transient_not_broken(site: Site, tmp_path: Path) -> None:
    result = check(tmp_path, [site.url("a.test", "/slow")], timeout=0.3, retries=1)
    observation = one(result)
    assert (observation.http_code, observation.error) == (0, "timeout")
    assert result.stats.verdicts == Counter({"undecided": 1})
    assert result.stats.retries == 1


def test_reset_is_transient(site: Site, tmp_path: Path) -> None:
    observation = one(check(tmp_path, [site.url("a.test", "/reset")], retries=1))
    assert (observation.http_code, observation.error) == (0, "reset")


def test_refused_is_transient(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    observation = one(check(tmp_path, [f"http://a.test:{port}/"], retries=1))
    assert (observation.http_code, observation.error) == (0, "refused")


def test_unknown_host_is_dns_at_once(tmp_path: Path) -> None:
    result = check(tmp_path, ["http://nope.test/page"])
    assert one(result) == Observation(url="http://nope.test/page", time=one(result).time,
                                      http_code=0, error="dns")
    assert result.stats.retries == 0 and result.stats.requests == 1
    assert result.stats.verdicts == Counter({"broken": 1})


def test_refused_address_makes_no_request(tmp_path: Path) -> None:
    result = check(tmp_path, ["http://10.1.2.3/", "http://127.0.0.2:9/"])
    assert {(o.url, o.error) for o in result.observations} == {
        ("http://10.1.2.3/", "address"), ("http://127.0.0.2:9/", "address")}
    assert result.stats.retries == 0


def test_redirect_chain_observes_each_hop(site: Site, tmp_path: Path) -> None:
    result = check(tmp_path, [site.url("a.test", "/r1")])
    seen = {o.url: (o.http_code, o.location) for o in result.observations}
    assert seen == {
        site.url("a.test", "/r1"): (301, site.url("a.test", "/r2?x=1")),
        site.url("a.test", "/r2?x=1"): (302, site.url("b.test", "/r3")),
        site.url("b.test", "/r3"): (200, ""),
    }
    assert result.stats.redirects_queued == 2
    assert result.stats.verdicts == Counter({"good": 3})
    assert site.hits[("GET", "b.test", "/r3")] == 0  # a 3xx to HEAD is believed


def test_redirect_loops_and_long_chains_are_bounded(site: Site, tmp_path: Path) -> None:
    result = check(tmp_path, [site.url("a.test", "/loop-a"), site.url("a.test", "/chain/0")],
                   max_redirects=3)
    urls = sorted(o.url for o in result.observations)
    assert urls == sorted([site.url("a.test", p) for p in (
        "/loop-a", "/loop-b", "/chain/0", "/chain/1", "/chain/2", "/chain/3")])


def test_duplicates_and_other_schemes_are_skipped(site: Site, tmp_path: Path) -> None:
    url = site.url("a.test", "/ok")
    result = check(tmp_path, [url, url.replace("a.test", "A.TEST") + "#top", "mailto:x@a.test",
                              url])
    assert [o.url for o in result.observations] == [url]
    assert result.stats.skipped == 3


def test_per_host_and_global_limits_are_kept(site: Site, tmp_path: Path) -> None:
    urls = [site.url(host, f"/busy/{n}") for n in range(24) for host in ("h1.test", "h2.test")]
    site.peak.clear()
    result = check(tmp_path, urls, per_host=3, concurrency=10)
    assert result.stats.verdicts == Counter({"good": 48})
    assert site.peak["h1.test"] == 3 and site.peak["h2.test"] == 3
    urls = [site.url(f"h{h}.test", f"/busy/g{n}") for n in range(8) for h in range(1, 6)]
    site.peak_total = 0
    check(tmp_path, urls, per_host=3, concurrency=4)
    assert site.peak_total == 4


def test_a_host_that_would_overload_stays_good(site: Site, tmp_path: Path) -> None:
    urls = [site.url("cap.test", f"/busy/{n}") for n in range(30)]
    result = check(tmp_path, urls, per_host=2, concurrency=16)
    assert result.stats.verdicts == Counter({"good": 30})


def test_a_new_broken_verdict_is_confirmed(site: Site, tmp_path: Path) -> None:
    url = site.url("a.test", "/seq-flap")
    site.sequences["/seq-flap"] = [404, 404, 200]  # HEAD and GET fail once, then it is fine
    result = check(tmp_path, [url], previous={url: (200, "")})
    assert (one(result).http_code, result.stats.confirmations) == (200, 1)


def test_a_fix_is_confirmed(site: Site, tmp_path: Path) -> None:
    url = site.url("b.test", "/seq-fixed")
    site.sequences["/seq-fixed"] = [200]
    result = check(tmp_path, [url], previous={url: (404, "")})
    assert (one(result).http_code, result.stats.confirmations) == (200, 1)
    assert site.hits[("HEAD", "b.test", "/seq-fixed")] == 2


def test_a_confirmed_break_is_logged(site: Site, tmp_path: Path) -> None:
    url = site.url("b.test", "/404")
    result = check(tmp_path, [url, "http://nope.test/"],
                   previous={url: (200, ""), "http://nope.test/": (301, "")})
    assert {(o.url, o.http_code, o.error) for o in result.observations} == {
        (url, 404, ""), ("http://nope.test/", 0, "dns")}
    assert result.stats.confirmations == 2


def test_no_confirmation_without_a_previous_verdict(site: Site, tmp_path: Path) -> None:
    url = site.url("a.test", "/410")
    result = check(tmp_path, [url], previous={url: (0, "timeout")})
    assert (one(result).http_code, result.stats.confirmations) == (410, 0)


def test_observations_are_written_as_they_are_made(site: Site, tmp_path: Path) -> None:
    written: list[tuple[int, int]] = []

    def progress(stats: CheckStats) -> None:
        lines = sum(p.read_bytes().count(b"\n") for p in (tmp_path / "checks").glob("*"))
        written.append((stats.observed, lines))

    urls = [site.url("h3.test", f"/busy/w{n}") for n in range(12)]
    result = check(tmp_path, urls, progress=progress, per_host=1)
    assert written and all(lines >= observed for observed, lines in written)
    assert written[-1] == (12, 12)
    assert result.stats.urls_per_second > 0


def test_run_opens_a_log(site: Site, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 a.test\n")
    stats = run(tmp_path, [site.url("a.test", "/ok")], CheckOptions(hosts=hosts, hosts_only=True))
    assert stats.observed == 1 and stats.table == Counter({("good", 200, ""): 1})
    assert len(list((tmp_path / "checks").glob("*.jsonl"))) == 1


def test_observation_time_comes_from_the_clock(site: Site, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKATLAS_NOW", "2024-05-01T12:00:00Z")
    assert one(check(tmp_path, [site.url("a.test", "/ok")])).time == "2024-05-01T12:00:00Z"


def test_retry_after_forms() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after("Wed, 01 May 2024 12:00:30 GMT", now) == 30.0
    assert retry_after("Wed, 01 May 2024 11:00:00 GMT", now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def test_error_kinds() -> None:
    try:
        raise OSError("wrapped") from HostNotFound(None, "x")
    except OSError as exc:
        assert error_kind(exc) == "dns"
    assert error_kind(TimeoutError()) == "timeout"
    assert error_kind(ConnectionResetError()) == "reset"
    assert error_kind(RuntimeError()) == "other"


@pytest.mark.parametrize("pause_host", [False, True])
def test_retry_after_pauses_the_host_only_when_asked(site: Site, tmp_path: Path,
                                                     pause_host: bool) -> None:
    host = "h4.test" if pause_host else "h5.test"
    other = f"/ok-{host}"
    site.hits[("HEAD", host, "/429-once")] = 0  # its next HEAD answers 429, Retry-After: 1
    check(tmp_path, [site.url(host, "/429-once"), site.url(host, other)], per_host=1,
          pause_host=pause_host)
    waited = site.times[other][0] - site.times["/429-once"][-2]  # since the 429
    assert (waited >= 0.95) is pause_host, waited


def test_an_untrusted_certificate_is_transient_tls(tmp_path: Path) -> None:
    import http.server
    import ssl
    import subprocess
    import threading

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=a.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://a.test:{server.server_address[1]}/"
        observation = one(check(tmp_path, [url], retries=0))
    finally:
        server.shutdown()
        server.server_close()
    assert (observation.http_code, observation.error) == (0, "tls")


@pytest.mark.parametrize("host", ["rob.test", "robmoved.test"])
def test_a_target_robots_txt_disallows_is_not_fetched(site: Site, tmp_path: Path,
                                                      host: str) -> None:
    result = check(tmp_path, [site.url(host, "/private/404"), site.url(host, "/404")])
    assert {o.url: (o.http_code, o.error) for o in result.observations} == {
        site.url(host, "/private/404"): (0, "robots"), site.url(host, "/404"): (404, "")}
    assert not any(path == "/private/404" for _, name, path in site.hits if name == host)
    assert verdict(0, "robots") == "undecided" and result.stats.errors["robots"] == 1
    assert result.stats.retries == 0


def test_robots_txt_is_ignored_for_the_users_own_hosts(site: Site, tmp_path: Path) -> None:
    result = check(tmp_path, [site.url("rob.test", "/private/410")],
                   ignore_robots_for=frozenset({"rob.test"}))
    assert (one(result).http_code, one(result).error) == (200, "")  # fetched: HEAD answered
    assert site.hits[("HEAD", "rob.test", "/private/410")] == 1


def test_a_robots_txt_that_fails_does_not_stop_the_check(site: Site, tmp_path: Path) -> None:
    result = check(tmp_path, [site.url("rob500.test", "/private/404"),
                              "http://gone-host.test/private/x"])
    assert {o.url: (o.http_code, o.error) for o in result.observations} == {
        site.url("rob500.test", "/private/404"): (200, ""),
        "http://gone-host.test/private/x": (0, "dns")}

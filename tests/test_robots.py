"""The crawler obeys robots.txt as RFC 9309 §2.3.1 says, for the answers a site really gives:
429 (too many requests) holds the crawl back like a 5xx; redirects are followed (up to five
hops) and the file at the end is obeyed; more hops than that make the file unavailable (allow
all). Served by test_crawl's loopback server; the checker's robots.txt is in test_check."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from linkatlas.crawl import CrawlOptions, run
from linkatlas.crawl.robots import RobotsCache

from .test_crawl import Handler, Request, Server, Writer, options, response, small_web
from .test_crawl import data as data  # noqa: F401  (fixtures, used by name)
from .test_crawl import serve as serve  # noqa: F401

DISALLOW_PRIVATE = b"User-agent: *\nDisallow: /private\n"
HOPS = 5  # RFC 9309 §2.3.1.2: follow at least five consecutive redirects


def _redirecting_robots(hops: int, end: bytes = DISALLOW_PRIVATE) -> Handler:
    """small_web, but alpha.test's /robots.txt redirects `hops` times before the file."""
    pages = small_web(pages=2)

    async def handle(request: Request, writer: Writer) -> bool:
        if request.host == "alpha.test" and request.path.startswith(("/robots", "/hop")):
            step = 0 if request.path == "/robots.txt" else int(request.path[4:])
            if step < hops:
                writer.write(response(301, b"", {"Location": f"/hop{step + 1}"}))
            else:
                writer.write(response(200, end, {"Content-Type": "text/plain"}))
            return True
        return await pages(request, writer)

    return handle


def _private(server: Server, host: str) -> list[str]:
    return [p for p in server.paths(host) if p.startswith("/private")]


@pytest.mark.parametrize("code", [429, 500])
def test_a_robots_txt_answering_429_or_500_holds_the_crawl_back(
        data: Path, serve: Callable[[Handler], Server], code: int) -> None:  # noqa: F811
    server = serve(small_web(pages=2, robots={"alpha.test": (code, "")}))
    stats = run(data, [server.url("alpha.test")],
                options(data, robots_attempts=2, robots_retry=0.3))
    assert server.paths("alpha.test") == ["/robots.txt", "/robots.txt"]  # asked again, no page
    first, second = (r.start for r in server.log if r.host == "alpha.test")
    assert second - first >= 0.3  # after robots_retry, not at once
    assert stats.fetched == 0 and not stats.done  # the pages wait for a later run


def test_a_robots_txt_that_is_not_utf8_is_obeyed(
        data: Path, serve: Callable[[Handler], Server]) -> None:  # noqa: F811
    pages = small_web(pages=2)

    async def handle(request: Request, writer: Writer) -> bool:
        if request.host == "alpha.test" and request.path == "/robots.txt":
            text = "# Caf\u00e9 M\u00fcller\n".encode("latin-1") + DISALLOW_PRIVATE
            writer.write(response(200, text, {"Content-Type": "text/plain"}))
            return True
        return await pages(request, writer)

    server = serve(handle)
    run(data, [server.url("alpha.test")], options(data))
    assert "/p1" in server.paths("alpha.test")
    assert _private(server, "alpha.test") == []


@pytest.mark.parametrize("hops", [1, HOPS])
def test_a_redirected_robots_txt_is_followed_and_obeyed(
        data: Path, serve: Callable[[Handler], Server], hops: int) -> None:  # noqa: F811
    server = serve(_redirecting_robots(hops))
    run(data, [server.url("alpha.test")], options(data))
    assert server.paths("alpha.test")[:hops + 1] == [
        "/robots.txt", *(f"/hop{k}" for k in range(1, hops + 1))]
    assert "/p1" in server.paths("alpha.test")
    assert _private(server, "alpha.test") == []


def test_a_robots_txt_behind_too_many_redirects_allows_everything(
        data: Path, serve: Callable[[Handler], Server]) -> None:  # noqa: F811
    server = serve(_redirecting_robots(HOPS + 1))
    run(data, [server.url("alpha.test")], options(data))
    assert f"/hop{HOPS + 1}" not in server.paths("alpha.test")
    assert _private(server, "alpha.test") == ["/private/x"]


# -- the cache's rules, on a clock the test moves ----------------------------------------------
ORIGIN = "http://alpha.test"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_000_000.0]  # a machine up for 11 days
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def test_a_robots_txt_is_used_for_a_day_then_fetched_again(clock: list[float]) -> None:
    cache = RobotsCache(CrawlOptions())
    cache.store_answer(ORIGIN, 200, DISALLOW_PRIVATE)
    clock[0] += 23 * 3600
    robots = cache.get(ORIGIN)
    assert robots is not None and not robots.allows(ORIGIN + "/private/x")
    clock[0] += 2 * 3600  # RFC 9309 §2.4: not used for more than 24 hours
    assert cache.get(ORIGIN) is None


def test_a_redirect_that_could_not_be_followed_allows_everything(clock: list[float]) -> None:
    """A final 3xx (no usable Location, or too many hops) is "unavailable" (§2.3.1.2): its
    body is never read as rules."""
    robots = RobotsCache(CrawlOptions()).store_answer(ORIGIN, 300, b"User-agent: *\nDisallow: /")
    assert robots.allows(ORIGIN + "/private/x") and not robots.failures


def test_an_unreachable_robots_txt_disallows_everything_until_its_retry_time(
        clock: list[float]) -> None:
    """5xx or unreachable (§2.3.1.4): nothing may be fetched; the file is asked for again
    `robots_retry` seconds later (the crawler pauses the host until `retry_at`), and after
    `robots_attempts` failures the verdict stands for the rest of the run."""
    cache = RobotsCache(CrawlOptions(robots_retry=60.0, robots_attempts=2))
    failed_at = clock[0]
    robots = cache.store_answer(ORIGIN, 503, b"User-agent: *\nAllow: /")
    assert not robots.allows(ORIGIN + "/p1") and robots.failures == 1
    assert cache.retry_at(ORIGIN) == failed_at + 60.0
    clock[0] = failed_at + 59.5
    assert cache.get(ORIGIN) is robots and not cache.gave_up(ORIGIN)  # still waiting
    clock[0] = failed_at + 60.0
    assert cache.get(ORIGIN) is None  # due again, at the second
    robots = cache.store_failure(ORIGIN)
    assert not robots.allows(ORIGIN + "/p1") and robots.failures == 2
    assert cache.retry_at(ORIGIN) == clock[0] + 60.0
    clock[0] += 3600
    assert cache.gave_up(ORIGIN)
    assert cache.get(ORIGIN) is robots  # no third request in this run


def test_a_dead_origin_is_looked_up_again_after_a_day(clock: list[float]) -> None:
    """A name that does not exist (or an address refused) fails every URL of its origin
    without a request; the verdict is kept like a robots.txt, a day."""
    cache = RobotsCache(CrawlOptions())
    robots = cache.store_dead(ORIGIN, "dns")
    assert robots.dead == "dns" and not robots.allows(ORIGIN + "/p1")
    clock[0] += 23 * 3600
    assert cache.get(ORIGIN) is robots
    clock[0] += 2 * 3600
    assert cache.get(ORIGIN) is None

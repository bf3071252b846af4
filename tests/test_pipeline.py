"""The whole job on the sample web over loopback: crawl → check → build → query, two rounds.

The sample web knows its own truth (`expected_broken`); a polite crawl plus the checker must
find exactly those targets, and the second round must show history and recoveries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from linkatlas import snapshot
from linkatlas.check.checker import CheckOptions
from linkatlas.check.checker import run as check
from linkatlas.crawl import CrawlOptions
from linkatlas.crawl import run as crawl
from linkatlas.index import build
from linkatlas.index.due import due_targets
from linkatlas.sample import SampleServer, Web, generate, serve_in_thread
from linkatlas.sample.server import Request

from .ports import free_port


def observe(data: Path, web: Web, port: int, hosts: Path) -> None:
    """One round's observations: a crawl of the sample web, then a check of the due targets."""
    crawl(data, web.seeds(port), CrawlOptions(hosts=hosts, hosts_only=True, delay=0.0,
                                              concurrency=16, per_host=4, recrawl_after=1))
    due = due_targets(data, 1)
    check(data, due.urls, CheckOptions(hosts=hosts, hosts_only=True, backoff=0.05,
                                       confirm_delay=0.05, retry_after_cap=1.5),
          previous=due.previous, fresh=due.fresh)


def _round(data: Path, web: Web, port: int, hosts: Path) -> None:
    observe(data, web, port, hosts)
    build(data, workers=1)


def _broken_targets(data: Path) -> set[str]:
    table = snapshot.current(data).table
    return {row[0] for row in duckdb.sql(f"SELECT DISTINCT url_to FROM '{table}'").fetchall()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, SampleServer]]:
    port = free_port()
    web = generate(seed=3, pages=120)
    with serve_in_thread(web, port) as server:
        yield tmp_path_factory.mktemp("pipeline"), port, server


def test_two_rounds_find_exactly_the_broken_targets(world: tuple[Path, int, SampleServer],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root, port, server = world
    data = root / "data"
    hosts = root / "hosts"
    first = generate(seed=3, pages=120)
    first.write_hosts(hosts)
    monkeypatch.setenv("LINKATLAS_NOW", "2024-05-01T00:00:00Z")
    _round(data, first, port, hosts)
    assert _broken_targets(data) == first.expected_broken(port)

    second = generate(seed=3, pages=120, round=1)
    second.write_hosts(hosts)
    server.switch(second)
    monkeypatch.setenv("LINKATLAS_NOW", "2024-05-10T00:00:00Z")
    _round(data, second, port, hosts)
    assert _broken_targets(data) == second.expected_broken(port)

    table = snapshot.current(data).table
    rows = duckdb.sql(f"""SELECT count(*) FILTER (WHERE prev_visited IS NOT NULL),
                                 count(*) FILTER (WHERE first_seen < TIMESTAMP '2024-05-05'),
                                 count(*) FILTER (WHERE broken_at >= TIMESTAMP '2024-05-10')
                          FROM '{table}'""").fetchall()[0]
    assert all(count > 0 for count in rows), rows


# Arrival times come from the server's thread: a request recorded late (the thread was not
# scheduled) shortens the gap to the next one, never the span from one request to a later one
# by more than that lateness. So politeness is judged over windows: requests i..j of one host
# must span at least (j - i) * delay - JITTER. With a 0.5 s delay and 1 s for one late record
# (seen: 0.45 s at a load average of 29 on 2 cores), 10 requests must still span 3.5 s; a
# crawler without the pause sends a host's queued URLs at once.
JITTER = 1.0


def _politeness_breaches(log: list[Request], web: Web, delay: float) -> list[str]:
    """Hosts whose requests came faster than `delay` apart (Crawl-delay: 1 on delta.test)."""
    shared = {a for a in web.hosts.values() if list(web.hosts.values()).count(a) > 1}
    by_host: dict[str, list[float]] = {}
    for request in log:
        by_host.setdefault(request.host.split(":")[0], []).append(request.time)
    breaches = []
    for host, times in by_host.items():
        if web.hosts[host] in shared:
            continue  # the server logs an alias (www.alpha.test) under its primary name
        pause = 1.0 if host == "delta.test" else delay  # its Crawl-delay: 1
        breaches += [f"{host}: requests {i}..{j} in {times[j] - times[i]:.3f} s"
                     for i in range(len(times)) for j in range(i + 1, len(times))
                     if times[j] - times[i] < (j - i) * pause - JITTER]
    return breaches


def _crawl_logged(tmp_path: Path, delay: float,
                  per_host: int) -> tuple[Web, list[Request], int]:
    """Crawl the sample web with these options; the web, the server's request log, its port."""
    port = free_port()
    web = generate(seed=5, pages=60)
    hosts = tmp_path / "hosts"
    web.write_hosts(hosts)
    with serve_in_thread(web, port) as server:
        stats = crawl(tmp_path / "data", web.seeds(port), CrawlOptions(
            hosts=hosts, hosts_only=True, delay=delay, per_host=per_host, concurrency=16))
        log = list(server.log)
    assert stats.done and stats.fetched > 100
    return web, log, port


def test_crawling_the_sample_web_is_polite(tmp_path: Path) -> None:
    from protego import Protego

    from linkatlas.crawl import DEFAULT_USER_AGENT
    from linkatlas.extract.capture import Capture
    from linkatlas.extract.records import read_archive

    delay = 0.5
    web, log, port = _crawl_logged(tmp_path, delay, per_host=2)
    assert _politeness_breaches(log, web, delay) == []
    counts = Counter(request.host.split(":")[0] for request in log)
    assert max(counts.values()) >= 9  # a window long enough for the check to bite
    for request in log:
        host = request.host.split(":")[0]
        assert request.user_agent == DEFAULT_USER_AGENT
        robots = web.robots(host)
        if request.target != "/robots.txt" and robots is not None:
            rules = Protego.parse(robots)
            assert rules.can_fetch(f"http://{host}{request.target}", "linkatlas"), request
    for host in counts:
        first = next(r for r in log if r.host.split(":")[0] == host)
        assert first.target == "/robots.txt", host  # robots.txt before any page
    # every answer the server gave is in the archives, once (the log names an alias by its
    # primary host, so paths are compared)
    archived = sorted(item.url.split(str(port), 1)[1] for path in
                      (tmp_path / "data" / "archives").iterdir() for item in read_archive(path)
                      if isinstance(item, Capture))
    assert archived == sorted(r.target for r in log)


def test_the_politeness_check_catches_an_impolite_crawler(tmp_path: Path) -> None:
    """The check above is not vacuous: a crawler with no pause and 8 requests per host fails it."""
    web, log, _ = _crawl_logged(tmp_path, 0.0, per_host=8)
    assert _politeness_breaches(log, web, 0.5)

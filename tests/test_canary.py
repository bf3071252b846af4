"""NXDOMAIN is believed only from a resolver that answers real names (spec/COLUMNS.md): with a
resolver that says NXDOMAIN to everything, nothing is broken; with one that answers the
canaries, an unknown name is `dns`. A real DNS server on 127.0.0.1 plays the resolver."""

from __future__ import annotations

from pathlib import Path

import orjson

from linkatlas.check.checker import CheckOptions
from linkatlas.check.checker import run as check
from linkatlas.crawl import CrawlOptions
from linkatlas.crawl import run as crawl
from linkatlas.rules.verdicts import verdict

from .dns import dns_server
from .test_check import Site, site  # noqa: F401 - the fixture

CANARIES = ("canary-one.test", "canary-two.test")


def _logged(data: Path) -> dict[str, tuple[int, str]]:
    lines = b"".join(p.read_bytes() for p in sorted((data / "checks").glob("*.jsonl")))
    return {o["url"]: (o["http_code"], o["error"])
            for o in map(orjson.loads, lines.splitlines())}


def _options(nameserver: str, **more: object) -> CheckOptions:
    return CheckOptions(nameserver=nameserver, canaries=CANARIES, allow_private=True,
                        timeout=2.0, retries=1, backoff=0.05, confirm_delay=0.05,
                        **more)  # type: ignore[arg-type]


def test_a_resolver_that_says_nxdomain_to_everything_breaks_nothing(
        site: Site, tmp_path: Path) -> None:  # noqa: F811
    urls = [f"http://healthy-{n}.test:{site.port}/ok" for n in range(5)]
    with dns_server({}) as (nameserver, asked):
        stats = check(tmp_path, urls, _options(nameserver))
    assert set(CANARIES) <= set(asked)  # it did ask: the canaries proved it wrong
    assert stats.resolver_works is False
    logged = _logged(tmp_path)
    assert logged == {url: (0, "resolver") for url in urls}
    assert all(verdict(*status) == "undecided" for status in logged.values())


def test_a_working_resolver_is_believed(site: Site, tmp_path: Path) -> None:  # noqa: F811
    names = {CANARIES[1]: "192.0.2.1", "alive.test": "127.0.0.1"}
    with dns_server(names) as (nameserver, _):
        stats = check(tmp_path, [f"http://alive.test:{site.port}/ok",
                                 f"http://vanished.test:{site.port}/ok"], _options(nameserver))
    assert stats.resolver_works is True
    assert _logged(tmp_path) == {f"http://alive.test:{site.port}/ok": (200, ""),
                                 f"http://vanished.test:{site.port}/ok": (0, "dns")}


def test_the_crawler_doubts_a_lying_resolver_too(tmp_path: Path) -> None:
    def run(data: Path, names: dict[str, str]) -> tuple[bool | None, dict[str, tuple[int, str]]]:
        with dns_server(names) as (nameserver, _):
            stats = crawl(data, ["http://gone.test/"], CrawlOptions(
                nameserver=nameserver, canaries=CANARIES, delay=0.0, robots_retry=0.0,
                robots_attempts=1))
        return stats.resolver_works, _logged(data)

    # A resolver proven to work: gone.test's NXDOMAIN is believed (the crawl logs it).
    assert run(tmp_path / "believed", {CANARIES[0]: "192.0.2.1"}) == (
        True, {"http://gone.test/": (0, "dns")})
    # One that answers NXDOMAIN to the canaries too: never `dns`.
    works, logged = run(tmp_path / "doubted", {})
    assert works is False and all(error != "dns" for _, error in logged.values())

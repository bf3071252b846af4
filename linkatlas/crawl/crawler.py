"""The crawl loop: breadth-first over the frontier, polite per host, every answer archived.

One asyncio task dispatches; each fetch is its own task. Which host (name without port,
spec/CLI.md) may go next and when is net/polite.py's (--per-host, --concurrency, --delay raised
by Crawl-delay, a Retry-After pausing the host); this loop decides what to do with the URL it
hands out: robots.txt first, then the fetch. What a fetch yields is handled in one synchronous
step: WARC records written and flushed, then the frontier updated and committed with the
archive offset, so a `kill -9` at any moment loses nothing committed and refetches nothing
recorded (frontier.py).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from .. import clock
from ..errors import UsageError
from ..net.polite import HostSchedule, InFlight
from ..net.resolver import read_hosts
from ..net.retry import busy, retry_after, server_now
from ..net.robots import MAX_ROBOTS_BYTES, MAX_ROBOTS_REDIRECTS, origin_of
from ..observations import CheckLog, Observation
from ..urls import normalize
from .fetcher import Fetched, Fetcher, RecordingResolver
from .frontier import BLOCKED, DONE, FAILED, Entry, Frontier
from .links import decode_body, fetched_html, page_links
from .offloop import LinkLister
from .options import CrawlOptions, CrawlStats
from .robots import RobotsCache
from .warcwriter import WarcWriter

__all__ = ["Crawler", "frontier_path"]

log = logging.getLogger("linkatlas.crawl")

_BATCH = 1000             # URLs leased from the frontier at a time
_MEMORY_CAP = 100_000     # URLs held in host queues at most
_PROGRESS_EVERY = 0.5     # seconds between progress callbacks


def frontier_path(data: Path) -> Path:
    return data / "crawl" / "frontier.sqlite"


class Crawler:
    """One run of `linkatlas crawl` over the data directory."""

    def __init__(self, data: Path, options: CrawlOptions,
                 progress: Callable[[CrawlStats], None] | None = None) -> None:
        self.data = data
        self.options = options
        self.progress = progress
        self.stats = CrawlStats()
        self.frontier = Frontier(frontier_path(data), max_host_urls=options.max_host_pages)
        self.writer = WarcWriter(data, max_bytes=options.warc_max_bytes,
                                 user_agent=options.user_agent,
                                 resume=self.frontier.last_checkpoint())
        self.robots = RobotsCache(options)
        self._lister = LinkLister()
        hosts = read_hosts(options.hosts) if options.hosts is not None else None
        self.resolver = RecordingResolver(hosts, hosts_only=options.hosts_only,
                                          allow_private=options.allow_private,
                                          nameserver=options.nameserver,
                                          canaries=options.canaries)
        self._checks: CheckLog | None = None
        self._hosts: HostSchedule[Entry] = HostSchedule(
            concurrency=options.concurrency, per_host=options.per_host, delay=options.delay)
        self._inflight: InFlight | None = None
        self._robots_pending: set[str] = set()
        self._deferred: list[int] = []     # leased, but their host's robots.txt never answered
        self._exhausted = False
        self._started = 0
        self._stopping = False
        self._t0 = time.monotonic()
        self._last_progress = 0.0

    # -- setup ------------------------------------------------------------------------------
    def _seed(self, seeds: list[str]) -> None:
        urls: list[str] = []
        for seed in seeds:
            url = normalize(seed)
            if url is None:
                raise UsageError(f"not an http(s) URL: {seed!r}")
            urls.append(url)
        self.frontier.seed(urls)
        if self.options.recrawl_after is not None:
            before = clock.now() - timedelta(days=self.options.recrawl_after)
            self.frontier.recrawl(clock.iso(before))
        self.stats.queued = self.frontier.due()

    async def crawl(self, seeds: list[str]) -> CrawlStats:
        self._inflight = InFlight(self._hosts)
        self._seed(seeds)
        self.frontier.begin()
        self.frontier.checkpoint(*self.writer.start())
        self.frontier.commit()
        self.stats.archives = self.writer.written
        try:
            if self.resolver.canaries.names:  # is an NXDOMAIN to be believed? (net/canary.py)
                self.stats.resolver_works = await self.resolver.resolver_works()
            async with Fetcher(self.options, self.resolver) as self.fetcher:
                await self._loop()
        finally:
            await self._inflight.close()
            self._lister.close()
            self._close()
        self.stats.done = not self._stopping and not self._deferred and self.stats.queued == 0
        self._report(force=True)
        return self.stats

    def _close(self) -> None:
        leftover = [entry.id for entry in self._hosts.items()]
        self.frontier.release(leftover + self._deferred)
        self.frontier.commit()
        self.writer.close()
        self.frontier.close()
        if self._checks is not None:
            self._checks.close()

    # -- the loop ---------------------------------------------------------------------------
    async def _loop(self) -> None:
        assert self._inflight is not None
        while True:
            self._refill()
            self._start_due()
            self._report()
            if not self._inflight.tasks and (self._stopping or (
                    not self._hosts.queued and self._exhausted and not self._robots_pending)):
                return
            await self._inflight.wait(longest=_PROGRESS_EVERY)

    def _refill(self) -> None:
        if self._exhausted or self._stopping:
            return
        low = max(4 * self.options.concurrency, 256)
        now = time.monotonic()
        queued = self._hosts.queued
        after = self._hosts.next_time()
        idle = after is None or after > now
        if queued >= low and not (idle and queued < _MEMORY_CAP):
            return
        entries = self.frontier.lease(_BATCH)
        self.frontier.commit()
        if len(entries) < _BATCH:
            self._exhausted = True
        for entry in entries:
            self._hosts.add(entry.host, entry, now)

    def _start_due(self) -> None:
        """Start what the schedule lets go now: robots.txt of an origin first, then its URLs."""
        hosts = self._hosts
        now = time.monotonic()
        while not self._stopping and (due := hosts.take(now)) is not None:
            host, entry = due
            origin = origin_of(entry.url)
            robots = self.robots.get(origin)
            if robots is None:
                hosts.add(host, entry, now, first=True)
                if self.robots.gave_up(origin):
                    self._defer(host, origin)
                else:  # the host waits for its robots.txt
                    hosts.hold(host)
                    if origin not in self._robots_pending:
                        self._robots_pending.add(origin)
                        self._start(host, origin, self._fetch_robots(host, origin))
                continue
            if robots.dead:
                self._record(entry, Fetched(entry.url, error=robots.dead, detail=" (robots.txt)"))
                continue
            if robots.failures:  # unreachable robots.txt: wait for the retry
                hosts.add(host, entry, now, first=True)
                if self.robots.gave_up(origin):
                    self._defer(host, origin)
                else:
                    hosts.pause(host, self.robots.retry_at(origin))
                continue
            if not robots.allows(entry.url):
                self._blocked(entry)
                continue
            if self.options.max_pages is not None and self._started >= self.options.max_pages:
                self._stopping = True
                hosts.add(host, entry, now, first=True)
                return
            self._started += 1
            self._start(host, origin, self._fetch_page(host, entry))

    def _start(self, host: str, origin: str, work: Coroutine[Any, Any, None]) -> None:
        assert self._inflight is not None
        delay = self.robots.delay_for(origin)
        if delay and self._hosts.pending(host):
            waits = self.stats.host_waits
            waits[host] = waits.get(host, 0.0) + delay
        self._inflight.start(host, work, delay=delay)

    def _defer(self, host: str, origin: str) -> None:
        """robots.txt never answered: leave the origin's URLs for a later run."""
        gone = self._hosts.remove(host, lambda entry: origin_of(entry.url) == origin)
        self._deferred.extend(entry.id for entry in gone)

    # -- fetches ----------------------------------------------------------------------------
    async def _fetch_page(self, host: str, entry: Entry) -> None:
        try:
            fetched = await self.fetcher.fetch(entry.url)
            self._pause_if_busy(host, fetched)
            self._record(entry, fetched, await self._page_links(entry, fetched))
        except Exception:  # a bug must not stop the crawl; the URL stays for a later run
            log.exception("crawl: %s failed", entry.url)
            self._deferred.append(entry.id)

    def _pause_if_busy(self, host: str, fetched: Fetched) -> None:
        """A 429, or a 503 with Retry-After, pauses the host for the Retry-After when it is at
        most `retry_after_cap` (longer: the server is away for long, and the crawl goes on).
        The answer itself is archived as it came."""
        header = fetched.header("Retry-After")
        if not header:
            return
        pause = retry_after(header, server_now(fetched.header("Date"), clock.now()))
        if busy(fetched.status, pause) and pause is not None \
                and pause <= self.options.retry_after_cap:
            self._hosts.pause(host, time.monotonic() + pause)

    async def _fetch_robots(self, host: str, origin: str) -> None:
        try:
            url = f"{origin}/robots.txt"
            for hop in range(MAX_ROBOTS_REDIRECTS + 1):
                fetched = await self.fetcher.fetch(url)
                self.stats.robots_fetched += 1
                if fetched.error in ("dns", "address"):
                    self.robots.store_dead(origin, fetched.error)
                    return
                if fetched.exchange is None:
                    self.robots.store_failure(origin)
                    return
                self._archive(fetched)
                self.frontier.commit()
                location = fetched.header("Location")
                target = normalize(location, url) if location else None
                if 300 <= fetched.status < 400 and target and hop < MAX_ROBOTS_REDIRECTS:
                    url = target
                    continue
                body = decode_body(fetched.exchange.body, fetched.header("Content-Encoding"),
                                   MAX_ROBOTS_BYTES) or b""
                self.robots.store_answer(origin, fetched.status, body)
                return
        except Exception:
            log.exception("crawl: robots.txt of %s failed", origin)
            self.robots.store_failure(origin)
        finally:
            self._robots_pending.discard(origin)
            # The pause after robots.txt itself follows its Crawl-delay, now known.
            self._hosts.stretch(host, self.robots.delay_for(origin))
            self._hosts.release(host, time.monotonic())

    def _archive(self, fetched: Fetched) -> None:
        assert fetched.exchange is not None
        self.frontier.begin()
        self.frontier.checkpoint(*self.writer.write(fetched.exchange))
        self.stats.bytes += len(fetched.exchange.body)
        if fetched.exchange.truncated:
            self.stats.truncated += 1

    async def _page_links(self, entry: Entry, fetched: Fetched) -> list[str] | None:
        """The links of an HTML page to follow, listed off the loop when it is big (offloop);
        None for anything else (`_discover` decides)."""
        options, exchange = self.options, fetched.exchange
        if (exchange is None or not 200 <= fetched.status < 300
                or (options.max_depth is not None and entry.depth >= options.max_depth)
                or not fetched_html(exchange.body, fetched.header("Content-Encoding"),
                                    fetched.header("Content-Type"))):
            return None
        return await self._lister.links(
            exchange.body, fetched.header("Content-Encoding"), fetched.header("Content-Type"),
            entry.url, options.max_decoded, options.max_links, fetched.header("X-Robots-Tag"),
            fetched.joined("Link"))

    def _record(self, entry: Entry, fetched: Fetched, links: list[str] | None = None) -> None:
        """Archive a fetch and update the frontier, in one step with no await (module doc)."""
        visited = clock.iso(clock.now())
        stats = self.stats
        if fetched.exchange is None:
            self._observe(entry.url, visited, fetched)
            self.frontier.begin()
            self.frontier.finish(entry, FAILED, 0, visited)
            stats.errors += 1
            stats.by_error[fetched.error] = stats.by_error.get(fetched.error, 0) + 1
        else:
            self._archive(fetched)
            stats.fetched += 1
            stats.by_status[fetched.status] = stats.by_status.get(fetched.status, 0) + 1
            added = self.frontier.add(*self._discover(entry, fetched, links))
            stats.queued += added
            if added:
                self._exhausted = False
            self.frontier.finish(entry, DONE, fetched.status, visited)
        stats.queued -= 1
        self.frontier.commit()
        log.debug("crawl: %s %s%s", entry.url, fetched.status or fetched.error, fetched.detail)

    def _discover(self, entry: Entry, fetched: Fetched, links: list[str] | None = None
                  ) -> tuple[list[str], int, int]:
        """URLs to enqueue, with their depth and redirect hops: the Location of a redirect
        or the links of an HTML page."""
        options = self.options
        exchange = fetched.exchange
        assert exchange is not None
        if 300 <= fetched.status < 400:
            location = fetched.header("Location")
            target = normalize(location, entry.url) if location else None
            if target is None or entry.hops >= options.max_redirects:
                return [], 0, 0
            targets, depth, hops = [target], entry.depth, entry.hops + 1
        elif 200 <= fetched.status < 300:
            if options.max_depth is not None and entry.depth >= options.max_depth:
                return [], 0, 0
            content_type = fetched.header("Content-Type")
            if not fetched_html(exchange.body, fetched.header("Content-Encoding"), content_type):
                return [], 0, 0
            targets = links if links is not None else page_links(
                exchange.body, fetched.header("Content-Encoding"), content_type, entry.url,
                options.max_decoded, options.max_links, fetched.header("X-Robots-Tag"),
                fetched.joined("Link"))
            depth, hops = entry.depth + 1, 0
        else:
            return [], 0, 0
        limit = options.max_url_length
        return [url for url in targets if len(url) <= limit], depth, hops

    def _blocked(self, entry: Entry) -> None:
        self.frontier.begin()
        self.frontier.finish(entry, BLOCKED, 0, clock.iso(clock.now()))
        self.frontier.commit()
        self.stats.robots_blocked += 1
        self.stats.queued -= 1

    def _observe(self, url: str, when: str, fetched: Fetched) -> None:
        """NXDOMAIN and other network failures become observations of the URL (observations.py)."""
        if self._checks is None:
            stamp = clock.now().strftime("%Y%m%dT%H%M%S")
            self._checks = CheckLog(self.data, name=f"crawl-{stamp}-{os.getpid()}.jsonl")
        self._checks.append(Observation(url=url, time=when, http_code=0, error=fetched.error,
                                        method="crawl", source="crawl"))

    def _report(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < _PROGRESS_EVERY:
            return
        self._last_progress = now
        stats = self.stats
        stats.elapsed = now - self._t0
        stats.pages_per_s = stats.fetched / stats.elapsed if stats.elapsed > 0 else 0.0
        stats.hosts_waiting = self._hosts.waiting(now)
        self.progress(stats)

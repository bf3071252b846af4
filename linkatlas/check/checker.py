"""The target checker: observe link targets over HTTP and append each final observation to
the check log (verdicts as spec/COLUMNS.md "Broken", from rules/verdicts.py).

How one URL is observed:

- HEAD first, with redirects observed, not followed. A 4xx/5xx to HEAD is never believed on
  its own (servers lie to HEAD, refuse it with 405/501, or block it): a GET that reads at most
  `max_get_bytes` of the body and then drops the connection decides.
- A 3xx is logged with its Location, and the Location is queued for its own observation
  (normalized, deduplicated, at most `max_redirects` hops from an input URL).
- 429, and 503 with Retry-After, mean "busy": when Retry-After (or, without one, the backoff)
  is at most `retry_after_cap`, the URL is tried again after that long, up to `retries` times;
  a host still busy after a wait is asked one request at a time from then on. With
  `pause_host`, every request to the host also waits for the Retry-After: politer, but a web
  whose hosts limit per URL then pays one pause per busy URL, one after the other. A longer
  Retry-After is not waited for (the server says it is away for long). What is left is logged
  as it came: 429 is transient (COLUMNS.md); a 503 that outlasts the retries or announces a
  long absence is broken like any 5xx. The per-host limits keep the checker from being the
  cause of a 429/503.
- 502, 503 and 504 without Retry-After are tried again too (backoff), then believed (broken).
- Timeouts, refused or reset connections and TLS failures are retried with doubling backoff,
  then logged with http_code 0 and the error; a host that timed out is then asked one request
  at a time. NXDOMAIN is a verdict at once (`error=dns`); a refused address is `error=address`.
- A verdict that differs from the caller's previous one (broken ↔ good) is confirmed by a
  second observation after `confirm_delay`, and only that second observation is logged.

Scheduling is net/polite.py's: at most `concurrency` attempts at a time, at most `per_host` to
one host, round robin over hosts with work, at least `delay` seconds between request starts to
one host. Slots are held only while requests run: a URL waiting for a retry or a confirmation
waits outside, so a busy host slows only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
from protego import Protego
from yarl import URL

from .. import clock
from ..net import Resolver, error_kind, read_hosts
from ..net.canary import DEFAULT_CANARIES
from ..net.polite import HostSchedule, InFlight
from ..net.retry import RETRY_AFTER_CAP, busy, retry_after, server_now
from ..net.robots import MAX_ROBOTS_BYTES, MAX_ROBOTS_REDIRECTS, origin_of
from ..observations import CheckLog, Observation
from ..rules.links import ROBOTS_TOKEN
from ..rules.verdicts import MAX_REDIRECTS, is_broken, verdict
from ..urls import host_of, normalize

__all__ = ["USER_AGENT", "CheckOptions", "CheckStats", "check_urls", "run"]

USER_AGENT = "Mozilla/5.0 (compatible; linkatlas/0.1; link checker)"
_PROGRESS_EVERY = 0.2  # seconds between progress callbacks


@dataclass
class CheckOptions:
    """Knobs of one check run; the CLI maps its flags onto these."""

    concurrency: int = 64          # attempts in flight at once, over all hosts
    per_host: int = 4              # attempts in flight to one host
    hosts: Path | None = None      # hosts file (spec/CLI.md)
    hosts_only: bool = False       # names not in the hosts file are NXDOMAIN
    allow_private: bool = False    # allow private, loopback and link-local addresses
    nameserver: str | None = None  # DNS server `IP[:PORT]` instead of the system's
    canaries: tuple[str, ...] = DEFAULT_CANARIES  # names that prove the resolver works
    timeout: float = 15.0          # seconds for one request, connect to last byte read
    max_get_bytes: int = 8192      # body bytes a GET reads before it drops the connection
    user_agent: str = USER_AGENT
    delay: float = 0.0             # seconds between request starts to one host
    retries: int = 2               # further attempts after a transient failure or a busy answer
    backoff: float = 1.0           # pause before the first retry; doubles per retry
    retry_after_cap: float = RETRY_AFTER_CAP  # longest Retry-After honoured, seconds
    pause_host: bool = False       # a Retry-After also pauses every other URL of the host
    confirm_delay: float = 2.0     # pause before re-confirming a changed verdict
    max_redirects: int = MAX_REDIRECTS  # redirect hops observed per input URL
    obey_robots: bool = True       # robots.txt of each target's origin (spec/COLUMNS.md)
    ignore_robots_for: frozenset[str] = frozenset()  # hosts whose robots.txt is not read
    window: int = 50_000           # input URLs read ahead of the requests


@dataclass
class CheckStats:
    """What a run has done so far; passed to the progress callback and returned at the end."""

    observed: int = 0                 # observations logged
    queued: int = 0                   # distinct URLs accepted (inputs + redirect targets)
    redirects_queued: int = 0         # of those, Locations found during the run
    skipped: int = 0                  # inputs that are duplicates or not http(s) URLs
    requests: int = 0                 # HTTP requests sent
    retries: int = 0                  # attempts repeated after a transient or busy answer
    confirmations: int = 0            # changed verdicts observed a second time
    robots_requests: int = 0          # robots.txt requests (not in `requests`)
    robots_fetched: int = 0           # robots.txt files that answered 2xx and were obeyed
    resolver_works: bool | None = None  # canaries answered at the start (None: not asked)
    elapsed: float = 0.0              # seconds since the run started
    verdicts: Counter[str] = field(default_factory=Counter)
    codes: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    table: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # (verdict, code, error)

    @property
    def urls_per_second(self) -> float:
        return self.observed / self.elapsed if self.elapsed > 0 else 0.0

    def count(self, observation: Observation) -> None:
        kind = verdict(observation.http_code, observation.error)
        self.observed += 1
        self.verdicts[kind] += 1
        self.codes[observation.http_code] += 1
        if observation.error:
            self.errors[observation.error] += 1
        self.table[(kind, observation.http_code, observation.error)] += 1


@dataclass(slots=True)
class _Job:
    url: str
    host: str
    hops: int = 0             # redirect hops from the input URL
    tries: int = 0            # retries spent on the current observation
    confirming: bool = False  # the current observation is the re-confirmation


@dataclass(frozen=True, slots=True)
class _Answer:
    """The outcome of one attempt: an HTTP answer (code > 0) or an error kind."""

    code: int = 0
    error: str = ""
    method: str = ""
    location: str = ""
    pause: float | None = None  # Retry-After, seconds

    @property
    def busy(self) -> bool:
        return busy(self.code, self.pause)


_FINAL_ERRORS = frozenset({"dns", "address", "invalid", "robots"})
# Gateway answers that are often momentary: tried again before a 5xx is believed (still broken
# when they persist, as COLUMNS.md says).
_RETRY_CODES = frozenset({502, 503, 504})


class _Checker:
    """One run: the dispatcher, the attempts, and the decisions on their answers."""

    def __init__(self, urls: Iterable[str], log: CheckLog, options: CheckOptions,
                 progress: Callable[[CheckStats], None] | None,
                 previous: Mapping[str, tuple[int, str]] | None,
                 fresh: Container[str]) -> None:
        self.options = options
        self.log = log
        self.stats = CheckStats()
        self._inputs = iter(urls)
        self._exhausted = False
        self._progress = progress
        self._previous = previous or {}
        self._fresh = fresh
        self._seen: set[str] = set()
        self._hosts: HostSchedule[_Job] = HostSchedule(
            concurrency=options.concurrency, per_host=options.per_host, delay=options.delay)
        self._inflight = InFlight(self._hosts)
        self._timers: list[tuple[float, int, _Job]] = []  # URLs waiting for a retry
        self._order = itertools.count()
        self._pending = 0            # accepted URLs not yet logged
        self._failure: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time()
        self._reported = 0.0
        self._stamp_key: tuple[int, str | None] = (-1, None)
        self._stamp_text = ""
        hosts = read_hosts(options.hosts) if options.hosts else None
        self.resolver = Resolver(hosts, hosts_only=options.hosts_only,
                                 allow_private=options.allow_private,
                                 nameserver=options.nameserver, canaries=options.canaries)
        self.session: aiohttp.ClientSession | None = None
        self._robots: dict[str, asyncio.Future[Protego | None]] = {}

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> CheckStats:
        connector = aiohttp.TCPConnector(resolver=self.resolver, limit=self.options.concurrency,
                                         limit_per_host=0, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=self.options.timeout)
        headers = {"User-Agent": self.options.user_agent, "Accept": "*/*"}
        # auto_decompress off: bodies are read only to end the request, never looked at.
        self.session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                             headers=headers, cookie_jar=aiohttp.DummyCookieJar(),
                                             max_line_size=32768, max_field_size=32768,
                                             auto_decompress=False)
        try:
            if self.resolver.canaries.names:  # before the run: is an NXDOMAIN to be believed?
                self.stats.resolver_works = await self.resolver.resolver_works()
                self._report(force=True)
            await self._dispatch()
        finally:
            await self._inflight.close()
            await self.session.close()
            await self.resolver.close()
            self.stats.elapsed = self._loop.time() - self._started
            self._report(force=True)
        return self.stats

    async def _dispatch(self) -> None:
        while True:
            self._fill()
            self._release_timers()
            self._start_due()
            if self._failure is not None:
                raise self._failure
            if self._pending == 0 and self._exhausted:
                return
            await self._inflight.wait(until=self._timers[0][0] if self._timers else None)

    def _fill(self) -> None:
        while not self._exhausted and self._pending < self.options.window:
            try:
                url = next(self._inputs)
            except StopIteration:
                self._exhausted = True
                return
            if not self._accept(normalize(url) or "", 0):
                self.stats.skipped += 1

    def _accept(self, url: str, hops: int) -> bool:
        """Queue a URL unless it is empty or already seen in this run."""
        if not url or url in self._seen:
            return False
        self._seen.add(url)
        self._pending += 1
        self.stats.queued += 1
        job = _Job(url, host_of(url), hops)
        self._hosts.add(job.host, job, self._loop.time())
        return True

    def _release_timers(self) -> None:
        now = self._loop.time()
        while self._timers and self._timers[0][0] <= now:
            job = heapq.heappop(self._timers)[2]
            self._hosts.add(job.host, job, now, first=True)

    def _start_due(self) -> None:
        now = self._loop.time()
        while (due := self._hosts.take(now)) is not None:
            host, job = due
            self._inflight.start(host, self._attempt(job), done=partial(self._done, job))

    def _done(self, job: _Job, task: asyncio.Task[_Answer]) -> None:
        if task.cancelled():
            return
        failure = task.exception()
        if failure is not None:
            self._failure = self._failure or failure
            return
        outcome = self._decide(job, task.result())
        if isinstance(outcome, Observation):
            self._finish(job, outcome)
        else:
            heapq.heappush(self._timers, (self._loop.time() + outcome, next(self._order), job))
        # Refill the freed slot now rather than on the dispatcher's next turn: one loop
        # iteration less per request.
        self._start_due()

    # -- decisions -------------------------------------------------------------------------

    def _decide(self, job: _Job, answer: _Answer) -> Observation | float:
        """The observation to log, or the seconds to wait before trying the URL again."""
        options = self.options
        if answer.error == "timeout":
            self._hosts.narrow(job.host, 1)  # a slow host is asked one request at a time
        if job.tries < options.retries:
            pause = self._retry_pause(job, answer)
            if pause is not None:
                job.tries += 1
                self.stats.retries += 1
                return pause
        error = "other" if answer.error == "invalid" else answer.error
        observation = Observation(url=job.url, time=self._stamp(),
                                  http_code=answer.code, error=error,
                                  location=answer.location, method=answer.method)
        if not job.confirming and self._changed(job.url, observation):
            job.confirming = True
            job.tries = 0
            self.stats.confirmations += 1
            return options.confirm_delay
        return observation

    def _retry_pause(self, job: _Job, answer: _Answer) -> float | None:
        """Seconds to wait before trying again, or None when the answer is to be believed."""
        options = self.options
        pause = options.backoff * 2 ** job.tries
        if answer.busy:
            if answer.pause is not None:
                pause = answer.pause
            if pause > options.retry_after_cap:
                return None
            if job.tries > 0:  # busy again after waiting: one request at a time from now on
                self._hosts.narrow(job.host, 1)
            if options.pause_host:
                self._hosts.pause(job.host, self._loop.time() + pause)
            return pause
        if answer.code in _RETRY_CODES or (answer.error and answer.error not in _FINAL_ERRORS):
            return pause
        return None

    def _stamp(self) -> str:
        """clock.iso(clock.now()), formatted once per second of the system clock."""
        key = (int(time.time()), os.environ.get("LINKATLAS_NOW"))
        if key != self._stamp_key:
            self._stamp_key, self._stamp_text = key, clock.iso(clock.now())
        return self._stamp_text

    def _changed(self, url: str, observation: Observation) -> bool:
        previous = self._previous.get(url)
        if previous is None:
            return False
        before = is_broken(*previous)
        now = is_broken(observation.http_code, observation.error)
        return before is not None and now is not None and before != now

    def _finish(self, job: _Job, observation: Observation) -> None:
        self.log.append(observation)
        self._pending -= 1
        self.stats.count(observation)
        location = observation.location
        if (location and job.hops < self.options.max_redirects
                and location not in self._fresh and self._accept(location, job.hops + 1)):
            self.stats.redirects_queued += 1
        self._report()

    def _report(self, *, force: bool = False) -> None:
        now = self._loop.time()
        self.stats.elapsed = now - self._started
        if self._progress is not None and (force or now - self._reported >= _PROGRESS_EVERY):
            self._reported = now
            self._progress(self.stats)

    # -- requests --------------------------------------------------------------------------

    async def _attempt(self, job: _Job) -> _Answer:
        """HEAD, then GET unless HEAD gave a believable answer (module docstring)."""
        try:
            if job.host[0].isdigit() or job.host[0] == "[":
                self.resolver.check_literal(job.host)
            if not await self._robots_allow(job):
                return _Answer(error="robots")
            url = URL(job.url, encoded=True)
            head = await self._request("HEAD", url)
            if head.code < 400 or head.busy:
                return head
            return await self._request("GET", url)
        except aiohttp.InvalidURL:
            return _Answer(error="invalid")
        # before ValueError: a certificate error is an SSLError, which is also a ValueError
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return _Answer(error=error_kind(exc))
        except ValueError:
            return _Answer(error="invalid")

    async def _robots_allow(self, job: _Job) -> bool:
        """Whether the robots.txt of the target's origin lets our user agent fetch it. Only a
        robots.txt answering 2xx (after at most 5 redirects) can forbid: one that answers
        4xx, 5xx or not at all must not stop a check, or a dead host would never be found
        (spec/COLUMNS.md "Broken"). Fetched once per origin and run."""
        if not self.options.obey_robots or job.host in self.options.ignore_robots_for:
            return True
        origin = origin_of(job.url)
        rules = self._robots.get(origin)
        if rules is None:
            rules = self._robots[origin] = asyncio.ensure_future(self._fetch_robots(origin))
        parsed = await asyncio.shield(rules)
        return parsed is None or bool(parsed.can_fetch(job.url, ROBOTS_TOKEN))

    async def _fetch_robots(self, origin: str) -> Protego | None:
        assert self.session is not None
        try:
            self.stats.robots_requests += 1
            async with self.session.get(URL(f"{origin}/robots.txt", encoded=True),
                                        max_redirects=MAX_ROBOTS_REDIRECTS) as response:
                if not 200 <= response.status < 300:
                    return None
                body = await response.content.read(MAX_ROBOTS_BYTES)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return None
        self.stats.robots_fetched += 1
        return Protego.parse(body.decode("utf-8", "replace"))

    async def _request(self, method: str, url: URL) -> _Answer:
        assert self.session is not None
        self.stats.requests += 1
        async with self.session.request(method, url, allow_redirects=False) as response:
            if method == "GET":
                # The status line came: that is the observation, whatever the body does.
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    await _read_some(response.content, self.options.max_get_bytes)
            location = ""
            # an empty reference resolves to the URL itself: a 3xx without a Location would
            # become a redirect loop (broken) instead of the good answer it is
            moved = response.headers.get("Location", "").strip()
            if 300 <= response.status <= 399 and moved:
                location = normalize(moved, str(url)) or ""
            header = response.headers.get("Retry-After")
            pause = None if header is None else retry_after(
                header, server_now(response.headers.get("Date"), clock.now()))
            return _Answer(response.status, "", method, location, pause)


async def _read_some(stream: aiohttp.StreamReader, limit: int) -> None:
    """Read at most `limit` body bytes. A body that ends within them leaves the connection
    reusable (keep-alive); a longer one is cut, and aiohttp then closes the connection."""
    read = 0
    while read < limit and not stream.at_eof():
        chunk = await stream.read(limit - read)
        if not chunk:
            return
        read += len(chunk)


async def check_urls(urls: Iterable[str], log: CheckLog, options: CheckOptions,
                     progress: Callable[[CheckStats], None] | None = None, *,
                     previous: Mapping[str, tuple[int, str]] | None = None,
                     fresh: Container[str] = frozenset()) -> CheckStats:
    """Observe every URL once (duplicates and non-http(s) URLs skipped), plus the Locations
    of the redirects met, appending one observation per URL to `log`.

    `previous` maps a normalized URL to its latest known (http_code, error): a verdict that
    differs from it is re-confirmed before it is logged. Locations in `fresh` are not queued.
    """
    checker = _Checker(urls, log, options, progress, previous, fresh)
    return await checker.run()


def run(data: Path, urls: Iterable[str], options: CheckOptions,
        progress: Callable[[CheckStats], None] | None = None, *,
        previous: Mapping[str, tuple[int, str]] | None = None,
        fresh: Container[str] = frozenset()) -> CheckStats:
    """Check `urls` into a new check log under `data` (see check_urls)."""
    with CheckLog(data) as log:
        return asyncio.run(check_urls(urls, log, options, progress, previous=previous,
                                      fresh=fresh))

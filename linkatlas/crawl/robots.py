"""robots.txt per origin (RFC 9309), parsed by protego and cached for a day.

What an answer means (RFC 9309 §2.3.1):
- 2xx: the rules of the file (the first 500 KiB, §2.5), for the product token `linkatlas`;
- 3xx: followed, up to five hops (§2.3.1.2); more, and the file counts as unavailable;
- 4xx: "unavailable": everything is allowed (429 is treated as 5xx, as major crawlers do);
- 5xx or unreachable: "unreachable": everything is disallowed (§2.3.1.4). The crawl asks again
  after `robots_retry` seconds; after `robots_attempts` tries the host waits for a later run.
  A name that does not exist (NXDOMAIN) or an address the policy refuses is no such wait: its
  URLs are recorded as failed with that error (`dns`, `address`) without being requested.
`Crawl-delay` (not in RFC 9309, widely used) raises `--delay` up to `max_crawl_delay`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from protego import Protego

from ..net.robots import MAX_ROBOTS_BYTES
from ..rules.links import ROBOTS_TOKEN
from .options import CrawlOptions

__all__ = ["Robots", "RobotsCache"]

_TTL = 24 * 3600.0  # RFC 9309 §2.4: a cached copy should not be used for more than 24 hours


@dataclass(slots=True)
class Robots:
    """The verdict for one origin."""

    rules: Protego | None = None   # None: allow all (4xx) or disallow all (unreachable)
    allow_all: bool = True
    crawl_delay: float | None = None
    fetched_at: float = 0.0        # time.monotonic()
    failures: int = 0              # consecutive unreachable answers
    retry_at: float = 0.0          # when an unreachable file may be asked for again
    dead: str = ""                 # "dns" or "address": the origin cannot be reached at all

    def allows(self, url: str) -> bool:
        if self.rules is not None:
            return bool(self.rules.can_fetch(url, ROBOTS_TOKEN))
        return self.allow_all


class RobotsCache:
    """robots.txt verdicts per origin; the crawler fetches, this decides."""

    def __init__(self, options: CrawlOptions) -> None:
        self._options = options
        self._by_origin: dict[str, Robots] = {}

    def get(self, origin: str) -> Robots | None:
        """The verdict, or None when robots.txt must be fetched (first time, or expired)."""
        robots = self._by_origin.get(origin)
        if robots is None:
            return None
        now = time.monotonic()
        if robots.failures and now >= robots.retry_at:
            if robots.failures < self._options.robots_attempts:
                return None
        elif not robots.failures and now - robots.fetched_at > _TTL:
            return None
        return robots

    def gave_up(self, origin: str) -> bool:
        """True when robots.txt was unreachable on every allowed attempt of this run."""
        robots = self._by_origin.get(origin)
        return robots is not None and robots.failures >= self._options.robots_attempts

    def retry_at(self, origin: str) -> float:
        robots = self._by_origin.get(origin)
        return robots.retry_at if robots is not None else 0.0

    def store_answer(self, origin: str, status: int, body: bytes) -> Robots:
        """Record the final (non-redirect) answer for an origin's robots.txt."""
        if 200 <= status < 300:
            text = body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
            rules = Protego.parse(text)
            delay = rules.crawl_delay(ROBOTS_TOKEN)
            robots = Robots(rules=rules, crawl_delay=float(delay) if delay else None)
        elif 300 <= status < 500 and status != 429:  # 3xx here: too many redirects (§2.3.1.2)
            robots = Robots(allow_all=True)
        else:
            return self.store_failure(origin)
        robots.fetched_at = time.monotonic()
        self._by_origin[origin] = robots
        return robots

    def store_dead(self, origin: str, error: str) -> Robots:
        """The name does not exist or its address is refused: every URL of the origin would
        fail the same way, so the crawler records that failure for each without a request."""
        robots = Robots(allow_all=False, dead=error, fetched_at=time.monotonic())
        self._by_origin[origin] = robots
        return robots

    def store_failure(self, origin: str) -> Robots:
        """Record an unreachable robots.txt (5xx, 429 or a network failure): disallow all."""
        previous = self._by_origin.get(origin)
        failures = (previous.failures if previous is not None else 0) + 1
        now = time.monotonic()
        robots = Robots(allow_all=False, failures=failures, fetched_at=now,
                        retry_at=now + self._options.robots_retry)
        self._by_origin[origin] = robots
        return robots

    def delay_for(self, origin: str) -> float:
        robots = self._by_origin.get(origin)
        return self._options.host_delay(robots.crawl_delay if robots is not None else None)

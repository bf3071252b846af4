"""What a crawl is told (CrawlOptions: the flags of spec/CLI.md) and reports (CrawlStats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..net.canary import DEFAULT_CANARIES
from ..net.retry import RETRY_AFTER_CAP

__all__ = ["DEFAULT_USER_AGENT", "CrawlOptions", "CrawlStats"]

DEFAULT_USER_AGENT = f"linkatlas/{__version__} (+https://github.com/linkatlas/linkatlas)"


@dataclass(frozen=True, slots=True)
class CrawlOptions:
    """Flags of `linkatlas crawl` plus the limits that keep hostile servers bounded."""

    max_pages: int | None = None       # fetches (pages, not robots.txt) in this run
    max_depth: int | None = None       # link hops from a seed; redirects do not count
    concurrency: int = 32              # requests in flight over all hosts
    per_host: int = 2                  # requests in flight to one host (port ignored)
    delay: float = 1.0                 # seconds between request starts to one host
    user_agent: str = DEFAULT_USER_AGENT
    hosts: Path | None = None          # hosts file (net/resolver.py)
    hosts_only: bool = False
    allow_private: bool = False
    nameserver: str | None = None      # DNS server `IP[:PORT]` instead of the system's
    canaries: tuple[str, ...] = DEFAULT_CANARIES  # names that prove the resolver works
    recrawl_after: float | None = None  # days; older visits are due again
    # limits per response
    max_body: int = 10 * 1024 * 1024   # bytes stored; the rest is cut (WARC-Truncated: length)
    max_decoded: int = 4 * 1024 * 1024  # decoded bytes parsed for links (bounds time and RSS)
    timeout: float = 30.0              # seconds for one response, headers and body
    connect_timeout: float = 10.0
    # limits per host and per page (crawler traps, e.g. infinite calendars)
    max_host_pages: int | None = 100_000  # URLs of one host admitted to the frontier
    max_links: int = 10_000            # links taken from one page
    max_redirects: int = 5             # redirect hops followed from one link
    max_url_length: int = 2048
    # robots.txt (RFC 9309)
    max_crawl_delay: float = 30.0      # Crawl-delay is honoured up to this many seconds
    robots_retry: float = 60.0         # a 5xx/unreachable robots.txt blocks its host this long
    robots_attempts: int = 3           # ...this many times, then the host waits for a later run
    # a 429, or a 503 with Retry-After, pauses its host that long, when it is at most this
    retry_after_cap: float = RETRY_AFTER_CAP
    # archives
    warc_max_bytes: int = 1024 ** 3    # rotate to a new file past this size

    def host_delay(self, crawl_delay: float | None) -> float:
        """The pause for a host: --delay, raised by its Crawl-delay up to max_crawl_delay."""
        if crawl_delay is None:
            return self.delay
        return max(self.delay, min(float(crawl_delay), self.max_crawl_delay))


@dataclass(slots=True)
class CrawlStats:
    """Counters of one run, handed to the progress callback (the CLI renders them)."""

    fetched: int = 0            # responses recorded (any status), robots.txt excluded
    errors: int = 0             # fetches without a usable response (DNS, refused, timeout…)
    queued: int = 0             # URLs due in the frontier
    robots_fetched: int = 0
    robots_blocked: int = 0     # URLs skipped because robots.txt disallows them
    resolver_works: bool | None = None  # canaries answered at the start (None: not asked)
    truncated: int = 0          # responses cut by a limit (length, time, disconnect)
    bytes: int = 0              # response bytes stored
    elapsed: float = 0.0        # seconds since the run started
    pages_per_s: float = 0.0
    hosts_waiting: int = 0      # hosts with due URLs held back by --per-host or --delay
    host_waits: dict[str, float] = field(default_factory=dict)  # politeness seconds per host
    by_status: dict[int, int] = field(default_factory=dict)     # HTTP status → responses
    by_error: dict[str, int] = field(default_factory=dict)      # check-log error → fetches
    archives: list[str] = field(default_factory=list)          # WARC files written to
    done: bool = False          # the frontier ran empty (not stopped by --max-pages)

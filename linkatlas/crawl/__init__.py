"""Polite, resumable crawling into standard WARC files: frontier, robots.txt, fetcher and WARC
writer; `run` is the entry point."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from .crawler import Crawler, frontier_path
from .options import DEFAULT_USER_AGENT, CrawlOptions, CrawlStats

__all__ = ["DEFAULT_USER_AGENT", "CrawlOptions", "CrawlStats", "frontier_path", "run"]


def run(data: Path, seeds: list[str], options: CrawlOptions,
        progress: Callable[[CrawlStats], None] | None = None) -> CrawlStats:
    """Crawl from `seeds` (and whatever the frontier in `data` still holds) until the frontier
    is empty or a bound is reached; returns the run's counters. Safe to kill and re-run."""

    async def main() -> CrawlStats:
        return await Crawler(data, options, progress).crawl(seeds)

    return asyncio.run(main())

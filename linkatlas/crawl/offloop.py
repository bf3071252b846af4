"""Link listing of big pages away from the crawl's event loop.

resiliparse holds the GIL while it parses, so a thread would still stall every fetch: a page
whose raw body is over `INLINE_BYTES` is decoded and parsed in one worker process instead
(its body is copied there, ~10 ms for the 10 MiB cap). Smaller pages parse in the loop in
about a millisecond. The worker parses at most `CrawlOptions.max_decoded` bytes of decoded
HTML, which bounds its memory (docs/security.md).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .links import page_links

__all__ = ["INLINE_BYTES", "LinkLister"]

INLINE_BYTES = 128 * 1024


class LinkLister:
    """`page_links`, in this process for small bodies and in a worker process for big ones."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def links(self, body: bytes, content_encoding: str, content_type: str, url: str,
                    max_decoded: int, max_links: int, robots_header: str,
                    link_header: str = "") -> list[str]:
        args = (body, content_encoding, content_type, url, max_decoded, max_links,
                robots_header, link_header)
        if len(body) <= INLINE_BYTES:
            return page_links(*args)
        if self._pool is None:
            # spawn: a fork of a process running an event loop and threads is not safe
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, page_links,
                                                                    *args)
        except BrokenProcessPool:  # the worker died (out of memory): this page has no links
            self._pool = None
            return []

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

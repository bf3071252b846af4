"""Bounds on what one caller can make the server do (docs/security.md).

- A POST body is read only up to `MAX_QUERY` bytes: refused from its Content-Length, or while
  it streams in, never buffered past the cap, and read within `BODY_SECONDS`.
- Queries run on their own threads (`QUERY_THREADS` at most at once per process); a token
  runs at most `PER_TOKEN` of them at once and is refused beyond, so one caller cannot queue
  the server full. Cheap requests (subscription_info, /docs, /metrics) never wait for these.
- Billing refusals (rows limit exceeded) are rate limited per token: past `REFUSALS` within
  `REFUSAL_WINDOW` seconds a token is answered at once, without a ledger read or a query.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress

from starlette.requests import Request

from ..errors import QueryError
from .params import MAX_QUERY

__all__ = ["BODY_SECONDS", "Gate", "PER_TOKEN", "QUERY_THREADS", "read_body"]

BODY_SECONDS = 10.0
QUERY_THREADS = 8
PER_TOKEN = 4
REFUSALS = 20
REFUSAL_WINDOW = 10.0
QUERY_NICE = 10
_TRACKED = 10_000  # tokens whose recent refusals are remembered (oldest forgotten first)


async def read_body(request: Request) -> bytes:
    """The body of a POST, at most MAX_QUERY bytes; QueryError when it is bigger or slow."""
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > MAX_QUERY:
        raise QueryError("", f"request body: larger than {MAX_QUERY} bytes")
    body = bytearray()

    async def read() -> None:
        async for chunk in request.stream():
            if len(body) + len(chunk) > MAX_QUERY:
                raise QueryError("", f"request body: larger than {MAX_QUERY} bytes")
            body.extend(chunk)

    try:
        await asyncio.wait_for(read(), BODY_SECONDS)
    except TimeoutError:
        raise QueryError("", f"request body: not received within {BODY_SECONDS:g} s") from None
    return bytes(body)


def _lower_priority() -> None:
    """Run this thread (and the threads it starts) below the event loop's CPU priority, so a
    server busy with queries still answers cheap requests at once (Linux: per thread)."""
    with suppress(OSError, AttributeError):  # not Linux, or not allowed: equal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), QUERY_NICE)


class Gate:
    """The query executor with its per-token bound, and the refusal rate limit."""

    def __init__(self, threads: int = QUERY_THREADS, per_token: int = PER_TOKEN) -> None:
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="linkatlas-query",
                                           initializer=_lower_priority)
        self.per_token = per_token
        self.admitted = threads * 4  # running or queued for a thread, all tokens together
        self._running: dict[str, int] = {}
        self._refused: OrderedDict[str, deque[float]] = OrderedDict()

    @asynccontextmanager
    async def slot(self, token: str) -> AsyncIterator[None]:
        """Hold one of the token's query slots (only on the event loop: no lock needed)."""
        if sum(self._running.values()) >= self.admitted:
            raise QueryError("", "server busy: retry in a few seconds")
        if self._running.get(token, 0) >= self.per_token:
            raise QueryError("", f"too many requests at once: at most {self.per_token} "
                                 "queries per token run at the same time")
        self._running[token] = self._running.get(token, 0) + 1
        try:
            yield
        finally:
            self._running[token] -= 1
            if not self._running[token]:
                del self._running[token]

    def check_refusals(self, token: str) -> None:
        """Raise at once when `token` was refused too often lately."""
        times = self._refused.get(token[:64])
        now = time.monotonic()
        while times and times[0] < now - REFUSAL_WINDOW:
            times.popleft()
        if times is not None and len(times) >= REFUSALS:
            wait = max(1, round(times[0] + REFUSAL_WINDOW - now))
            raise QueryError("", f"too many refused requests: retry in {wait} s")

    def refused(self, token: str) -> None:
        """Count one refusal of `token`."""
        key = token[:64]  # a "token" may be any text a caller sends
        times = self._refused.pop(key, None) or deque()
        times.append(time.monotonic())
        self._refused[key] = times
        while len(self._refused) > _TRACKED:
            self._refused.popitem(last=False)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

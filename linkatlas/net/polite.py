"""Polite scheduling per host, shared by crawl and check: which host may send its next request,
and when.

`HostSchedule` decides and does no I/O; the caller passes the clock (`now`), so every decision
is tested without sleeping (tests/test_polite.py). Its rules:

- at most `concurrency` requests in flight over all hosts, at most `per_host` to one host (a
  host's own limit can only be narrowed, e.g. to one at a time after a timeout);
- at least `delay` seconds between the starts of two requests to one host (one start may carry
  a longer delay of its own: a Crawl-delay), and none before a pause ends (Retry-After);
- of the hosts that may go, the one ready longest goes first (round robin when all are ready),
  so a host with many URLs waiting does not starve the others.

`InFlight` is the asyncio edge: each started request is a task; its end frees the host's slot
and wakes the owner's loop, which otherwise sleeps until the schedule's next host may start.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

__all__ = ["HostSchedule", "InFlight"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Host(Generic[T]):
    limit: int                    # requests in flight at most (per_host, or narrowed)
    queue: deque[T] = field(default_factory=deque)
    active: int = 0               # requests in flight
    next_start: float = float("-inf")  # no request starts before this
    last_start: float = float("-inf")
    held: bool = False            # the owner holds the host back (robots.txt being fetched)
    listed: bool = False          # in the heap (at most once)


class HostSchedule(Generic[T]):
    """Queues of items per host, and the decision which host's next item may start now."""

    def __init__(self, *, concurrency: int, per_host: int, delay: float = 0.0) -> None:
        self.concurrency = max(1, concurrency)
        self.per_host = max(1, per_host)
        self.delay = delay
        self.in_flight = 0   # requests started and not finished, over all hosts
        self.queued = 0      # items waiting in the queues
        self._hosts: dict[str, _Host[T]] = {}
        # (time the host may start, order of listing, host): the hosts that could go, each
        # once; an entry whose host changed since (started, paused, held) is fixed when popped.
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()

    # -- queues -----------------------------------------------------------------------------
    def add(self, host: str, item: T, now: float, *, first: bool = False) -> None:
        """Queue an item for `host`; `first` puts it before the others (an item taken back)."""
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(self.per_host)
        if first:
            state.queue.appendleft(item)
        else:
            state.queue.append(item)
        self.queued += 1
        self._list(host, state, now)

    def remove(self, host: str, drop: Callable[[T], bool]) -> list[T]:
        """Take the items of `host` that `drop` selects out of its queue; returns them."""
        state = self._hosts.get(host)
        if state is None:
            return []
        gone = [item for item in state.queue if drop(item)]
        if gone:
            state.queue = deque(item for item in state.queue if not drop(item))
            self.queued -= len(gone)
        return gone

    def pending(self, host: str) -> int:
        state = self._hosts.get(host)
        return len(state.queue) if state is not None else 0

    def items(self) -> Iterator[T]:
        """Every queued item (what is left when a run stops)."""
        for state in self._hosts.values():
            yield from state.queue

    # -- the decision -------------------------------------------------------------------------
    def take(self, now: float) -> tuple[str, T] | None:
        """The host and next item that may start at `now`, taken off its queue; None when the
        global limit is reached or no host may start yet. The caller then `start`s a request
        for it, or uses the item without a request, or `add`s it back with `first`."""
        heap = self._heap
        while heap and self.in_flight < self.concurrency and heap[0][0] <= now:
            name = heapq.heappop(heap)[2]
            state = self._hosts[name]
            state.listed = False
            if not self._ready(state):
                continue
            if state.next_start > now:  # started, paused or slowed since it was listed
                self._push(name, state, state.next_start)
                continue
            item = state.queue.popleft()
            self.queued -= 1
            self._list(name, state, now)
            return name, item
        return None

    def next_time(self) -> float | None:
        """The earliest time a host with items may start (it may be past), whatever the
        global limit; None when every host waits for a request to end, or none has items."""
        heap = self._heap
        while heap:
            at, _, name = heap[0]
            state = self._hosts[name]
            if not self._ready(state):
                heapq.heappop(heap)
                state.listed = False
            elif state.next_start > at:
                heapq.heapreplace(heap, (state.next_start, next(self._order), name))
            else:
                return at
        return None

    # -- what happened to a host ------------------------------------------------------------
    def start(self, host: str, now: float, delay: float | None = None) -> None:
        """A request to `host` starts at `now`; the next may start `delay` seconds later
        (default: the schedule's delay)."""
        state = self._hosts[host]
        state.active += 1
        self.in_flight += 1
        state.last_start = now
        state.next_start = max(state.next_start, now + (self.delay if delay is None else delay))

    def finish(self, host: str, now: float) -> None:
        """A request to `host` ended (answered, failed or cancelled)."""
        state = self._hosts[host]
        state.active -= 1
        self.in_flight -= 1
        self._list(host, state, now)

    def pause(self, host: str, until: float) -> None:
        """No request to `host` starts before `until` (Retry-After, a robots.txt retry)."""
        state = self._hosts.get(host)
        if state is not None:
            state.next_start = max(state.next_start, until)

    def stretch(self, host: str, delay: float) -> None:
        """The host's next start waits `delay` after its last one (a Crawl-delay learned
        while that request ran)."""
        state = self._hosts.get(host)
        if state is not None:
            state.next_start = max(state.next_start, state.last_start + delay)

    def narrow(self, host: str, limit: int) -> None:
        """At most `limit` requests to `host` in flight from now on (never widened)."""
        state = self._hosts.get(host)
        if state is not None:
            state.limit = max(1, min(state.limit, limit))

    def hold(self, host: str) -> None:
        """Start nothing to `host` until `release`."""
        state = self._hosts.get(host)
        if state is not None:
            state.held = True

    def release(self, host: str, now: float) -> None:
        state = self._hosts.get(host)
        if state is not None:
            state.held = False
            self._list(host, state, now)

    def waiting(self, now: float) -> int:
        """Hosts with items held back by their limit, their delay or a pause."""
        return sum(1 for state in self._hosts.values()
                   if state.queue and (state.active >= state.limit or state.next_start > now))

    # -- the heap -----------------------------------------------------------------------------
    @staticmethod
    def _ready(state: _Host[T]) -> bool:
        return bool(state.queue) and state.active < state.limit and not state.held

    def _list(self, name: str, state: _Host[T], now: float) -> None:
        if not state.listed and self._ready(state):
            self._push(name, state, max(state.next_start, now))

    def _push(self, name: str, state: _Host[T], at: float) -> None:
        state.listed = True
        heapq.heappush(self._heap, (at, next(self._order), name))


class InFlight:
    """The asyncio edge of a HostSchedule: started requests as tasks, and the owner's sleep."""

    def __init__(self, schedule: HostSchedule[Any]) -> None:
        self.schedule = schedule
        self.tasks: set[asyncio.Task[Any]] = set()
        self.wake = asyncio.Event()  # set when a request ends; the owner may set it too
        self._loop = asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop.time()

    def start(self, host: str, work: Coroutine[Any, Any, R], *, delay: float | None = None,
              done: Callable[[asyncio.Task[R]], None] | None = None) -> asyncio.Task[R]:
        """Run `work` as a request to `host` started now; `done` is called with the task
        after the host's slot is freed."""
        self.schedule.start(host, self._loop.time(), delay)
        task = self._loop.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(partial(self._ended, host, done))
        return task

    def _ended(self, host: str, done: Callable[[asyncio.Task[Any]], None] | None,
               task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        self.schedule.finish(host, self._loop.time())
        self.wake.set()
        if done is not None:
            done(task)

    async def wait(self, until: float | None = None, longest: float | None = None) -> None:
        """Sleep until a request ends or `wake` is set, the schedule's next host may start
        (while the global limit leaves room), `until` (loop time), or `longest` seconds."""
        if not self.wake.is_set():
            now = self._loop.time()
            times = [until] if until is not None else []
            if longest is not None:
                times.append(now + longest)
            if self.schedule.in_flight < self.schedule.concurrency:
                when = self.schedule.next_time()
                if when is not None:
                    times.append(when)
            handle = self._loop.call_at(min(times), self.wake.set) if times else None
            try:
                await self.wake.wait()
            finally:
                if handle is not None:
                    handle.cancel()
        self.wake.clear()

    async def close(self) -> None:
        """Cancel every request still running and wait for them to end."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

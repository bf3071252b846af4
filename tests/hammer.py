"""Concurrent clients of a running API, for the tests that serve it (test_serve*.py).

`answers`: many clients of one token at once, each until it has its answers, asking again
when the token's 4 queries at once (docs/security.md) refuse it. `Hammer`: clients asking
again and again while the test changes something underneath (a new snapshot).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

import orjson

Get = Callable[[], bytes]  # one request; the JSON body of its answer
Answer = dict[str, Any]

BUSY = "too many requests at once"  # the per-token bound's refusal (api/limits.py)


def answers(get: Get, clients: int, each: int, limit: float = 300.0) -> list[Answer]:
    """`each` decoded answers from every one of `clients` concurrent clients (fewer when
    `limit` seconds pass first: bounded, whatever happens); a busy refusal is asked again."""
    deadline = time.monotonic() + limit

    def client(_: int) -> list[Answer]:
        got: list[Answer] = []
        while len(got) < each and time.monotonic() < deadline:
            answer = orjson.loads(get())
            if str(answer.get("error", "")).startswith(BUSY):
                time.sleep(0.01)
                continue
            got.append(answer)
        return got

    with ThreadPoolExecutor(clients) as pool:
        return [answer for batch in pool.map(client, range(clients)) for answer in batch]


class Hammer:
    """`threads` clients sending `get` again and again while the `with` block runs (at most
    `limit` seconds). Every answer must carry `refpages`; anything else, or an exception, is
    in `failures`. `rows` holds the row counts seen."""

    def __init__(self, get: Get, threads: int = 4, limit: float = 300.0) -> None:
        self.failures: list[str] = []
        self.rows: set[int] = set()
        self._get, self._limit = get, limit
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        deadline = time.monotonic() + self._limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                answer = orjson.loads(self._get())
                if "refpages" not in answer:
                    self.failures.append(str(answer))
                self.rows.add(len(answer.get("refpages", [])))
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                self.failures.append(repr(exc))

    def __enter__(self) -> Hammer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

"""`linkatlas refresh`: one run for cron or a systemd timer — recrawl due pages, check due
targets, build, diff, notify. A lock in DIR makes an overlapping run refuse at once."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..check.checker import CheckOptions, CheckStats
from ..crawl import CrawlOptions, CrawlStats
from ..errors import LinkatlasError, UsageError
from .notify import Delivery, Digest

__all__ = ["Refreshed", "locked", "refresh"]

LOCK = "refresh.lock"


@dataclass(frozen=True)
class Refreshed:
    crawled: CrawlStats
    checked: CheckStats
    report: dict[str, Any]
    changes: dict[str, int] | None     # None after the first build (nothing to compare)
    digest: Digest | None
    delivery: Delivery


@contextmanager
def locked(data: Path, name: str, what: str) -> Iterator[None]:
    """Hold DIR/name for the run; another process holding it makes this one refuse."""
    data.mkdir(parents=True, exist_ok=True)
    with (data / name).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip()
            raise UsageError(f"another {what} is running in {data}"
                             + (f" (pid {holder})" if holder.isdigit() else "")) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)


def refresh(data: Path, seeds: list[str], crawl: CrawlOptions, check: CheckOptions, *,
            recheck_after: float, notify: list[str] | None, workers: int | None = None,
            memory_limit: str = "512MB", spark_master: str | None = None) -> Refreshed:
    """The whole cycle once; a step's error stops the run (nothing committed is lost, and the
    next run continues where this one stopped)."""
    from ..check.checker import run as run_check
    from ..crawl import run as run_crawl
    from ..index import build
    from ..index.due import due_targets
    from .diff import diff
    from .notify import after_build, prepare

    settings = prepare(data, notify)
    with locked(data, LOCK, "refresh"):
        crawled = run_crawl(data, seeds, crawl)
        due = due_targets(data, recheck_after)
        checked = run_check(data, due.urls, check, previous=due.previous, fresh=due.fresh)
        report = build(data, workers=workers, memory_limit=memory_limit,
                       spark_master=spark_master)
        try:
            changes: dict[str, int] | None = diff(data).counts()
        except LinkatlasError:
            changes = None  # the first snapshot: a baseline
        digest, delivery = after_build(data, report.snapshot, settings)
    return Refreshed(crawled, checked, report.to_json(), changes, digest, delivery)

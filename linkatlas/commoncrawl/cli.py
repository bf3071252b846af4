"""The terminal side of `ingest --common-crawl`: options in, a rich progress bar out."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import Options, Progress, run
from .download import DownloadError

__all__ = ["ingest_crawl"]


class _Bar(Progress):
    """Files done of those to fetch, MB/s and ETA; drawn on a terminal only."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Rich

        self.bar = Rich(TextColumn("files"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
                        console=console, transient=True)
        self.task = self.bar.add_task("files", total=None, speed="")
        self.lock = threading.Lock()
        self.total = 0
        self.started = time.monotonic()

    def start(self, files: int) -> None:
        self.started = time.monotonic()
        self.bar.update(self.task, total=files)
        self.bar.start()

    def bytes(self, count: int) -> None:
        with self.lock:
            self.total += count
            rate = self.total / max(time.monotonic() - self.started, 1e-3) / 1e6
        self.bar.update(self.task, speed=f"{rate:.1f} MB/s")

    def file_done(self, path: str) -> None:
        self.bar.update(self.task, advance=1)


def ingest_crawl(data: Path, crawl: str, kind: str, first: int | None, sample: int | None,
                 seed: int, base_url: str, parallel: int, keep: int, files: list[Path],
                 err: Any, out: Any) -> None:
    if files:
        raise UsageError("--common-crawl: give no files with it")
    options = Options(crawl, kind, first, sample, seed, base_url, parallel, keep)
    bar = _Bar(err) if err.is_terminal else None
    try:
        result = run(data, options, bar)
    finally:
        if bar is not None:
            bar.bar.stop()
    out.print(f"{options.crawl} {options.kind}: {result.chosen} of {result.listed} files "
              f"chosen, {result.already} already imported, {result.imported} imported "
              f"({result.bytes / 1e6:,.1f} MB downloaded), {len(result.failed)} failed",
              highlight=False, markup=False)
    for line in result.failed:
        err.print(f"failed: {line}", highlight=False, markup=False)
    if result.failed:
        raise DownloadError(f"{len(result.failed)} file(s) not imported; run again to retry")

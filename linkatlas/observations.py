"""The check log: append-only observations of link targets, written by `check` and by `crawl`
(failures with no answer) and read by `build`; crawl and check import it as siblings.

Format (docs/formats.md): JSON Lines files `DIR/checks/*.jsonl`, one file per run, one object
per line with the fields of `Observation`. A line is written whole and flushed; a run killed
mid-line leaves at most one torn last line, which readers skip. Files are never rewritten.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import orjson

from . import clock

__all__ = ["ERRORS", "CheckLog", "Observation", "log_dir"]

# error values: "" (an HTTP answer came), "dns" (NXDOMAIN: a verdict), and the transient ones.
ERRORS = ("", "dns", "timeout", "refused", "reset", "tls", "address", "other")


@dataclass(frozen=True, slots=True)
class Observation:
    url: str            # normalized target URL
    time: str           # ISO 8601 UTC, `YYYY-MM-DDTHH:MM:SSZ`, from the one clock
    http_code: int      # status of the answer; 0 when none came (see error)
    error: str = ""     # one of ERRORS
    location: str = ""  # Location of a 3xx answer, normalized, else ""
    method: str = ""    # HEAD, GET, or "crawl" when the crawler observed it
    source: str = "check"


def log_dir(data: Path) -> Path:
    return data / "checks"


class CheckLog:
    """Appends observations durably: each line is flushed at once (a killed process loses
    nothing written), and fsynced on close and otherwise once `sync_every` lines and
    `sync_interval` seconds have both passed since the last fsync, so a machine that stops
    loses at most its unsynced tail (an fsync costs a millisecond or more of the event loop:
    at thousands of lines a second, one per second is enough)."""

    def __init__(self, data: Path, *, name: str | None = None, sync_every: int = 256,
                 sync_interval: float = 1.0) -> None:
        directory = log_dir(data)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = clock.now().strftime("%Y%m%dT%H%M%S")
        self.path = directory / (name or f"{stamp}-{os.getpid()}.jsonl")
        self._file = self.path.open("ab")
        self._sync_every = sync_every
        self._sync_interval = sync_interval
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def append(self, observation: Observation) -> None:
        self._file.write(orjson.dumps(observation) + b"\n")
        self._file.flush()
        self._unsynced += 1
        if (self._unsynced >= self._sync_every
                and time.monotonic() - self._synced_at >= self._sync_interval):
            self.sync()

    def sync(self) -> None:
        os.fsync(self._file.fileno())
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> CheckLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

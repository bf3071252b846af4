"""Extract archives into cached Parquet tables, using every core.

The main process streams records out of each archive (fastwarc is fast); worker processes
parse them in batches. Each archive's result is cached under `DIR/extract/`, keyed by the
archive's name, size and mtime and by EXTRACT_VERSION, so a rebuild parses only new archives.
Memory is bounded by the batch size and the number of batches in flight, not by the input.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .archive import Capture, Skip, read_archive
from .rows import LINK_FIELDS, VISIT_FIELDS, capture_rows

__all__ = ["EXTRACT_VERSION", "ArchiveStats", "extract_archives"]

EXTRACT_VERSION = 1  # bump when extraction output changes: every cache entry is rebuilt
_BATCH_RECORDS = 128
_BATCH_BYTES = 8 * 1024 * 1024

VISIT_SCHEMA = pa.schema([
    ("url", pa.string()), ("key", pa.string()), ("domain", pa.string()),
    ("time", pa.timestamp("us", tz="UTC")), ("status", pa.int32()), ("kind", pa.string()),
    ("ip", pa.string()), ("title", pa.string()), ("language", pa.string()),
    ("encoding", pa.string()), ("page_size", pa.int64()), ("links_internal", pa.int32()),
    ("links_external", pa.int32()), ("offset", pa.int64()), ("archive", pa.string()),
])
LINK_SCHEMA = pa.schema([
    ("url_from", pa.string()), ("time", pa.timestamp("us", tz="UTC")), ("url_to", pa.string()),
    ("key_to", pa.string()), ("domain_to", pa.string()), ("link_type", pa.string()),
    ("redirect", pa.int32()), ("nofollow", pa.bool_()), ("anchor", pa.string()),
    ("alt", pa.string()), ("text_pre", pa.string()), ("text_post", pa.string()),
])


@dataclass
class ArchiveStats:
    """What one archive gave: for the build report."""

    archive: str
    records: int = 0
    captures: int = 0
    pages: int = 0
    links: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"archive": self.archive, "records": self.records, "captures": self.captures,
                "pages": self.pages, "links": self.links, "kinds": dict(self.kinds),
                "ignored": dict(self.ignored), "skipped": dict(self.skipped),
                "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArchiveStats:
        stats = cls(data["archive"], data["records"], data["captures"], data["pages"],
                    data["links"], Counter(data["kinds"]), Counter(data["ignored"]),
                    Counter(data["skipped"]), data["seconds"])
        stats.cached = True
        return stats


def cache_name(archive: Path) -> str:
    info = archive.stat()
    return f"{archive.name}.{info.st_size}.{info.st_mtime_ns}.v{EXTRACT_VERSION}"


def _rows_of(batch: list[Capture]) -> tuple[dict[str, list[Any]], dict[str, list[Any]],
                                             list[str]]:
    """Worker: a batch of captures → columns of visits and links, and reasons of bad ones."""
    visits: dict[str, list[Any]] = {name: [] for name in VISIT_FIELDS}
    links: dict[str, list[Any]] = {name: [] for name in LINK_FIELDS}
    bad: list[str] = []
    for capture in batch:
        try:
            result = capture_rows(capture)
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop a build
            bad.append(f"extraction failed: {type(exc).__name__}")
            continue
        if result is None:
            bad.append("invalid URL")
            continue
        visit, link_rows = result
        for name in VISIT_FIELDS:
            visits[name].append(visit[name])
        for row in link_rows:
            for name in LINK_FIELDS:
                links[name].append(row[name])
    return visits, links, bad


def _batches(archive: Path, stats: ArchiveStats) -> Iterator[list[Capture]]:
    batch: list[Capture] = []
    size = 0
    for item in read_archive(archive):
        stats.records += 1
        if isinstance(item, Skip):
            (stats.skipped if item.bad else stats.ignored)[item.reason] += 1
            continue
        batch.append(item)
        size += len(item.body)
        if len(batch) >= _BATCH_RECORDS or size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class _Writer:
    """Streams result batches of one archive into its cache directory (atomically renamed)."""

    def __init__(self, final: Path, archive: str) -> None:
        self.final = final
        self.temp = final.with_name(final.name + ".tmp")
        shutil.rmtree(self.temp, ignore_errors=True)
        self.temp.mkdir(parents=True)
        self.archive = archive
        self.visits = pq.ParquetWriter(self.temp / "visits.parquet", VISIT_SCHEMA)
        self.links = pq.ParquetWriter(self.temp / "links.parquet", LINK_SCHEMA)

    def write(self, result: tuple[dict[str, list[Any]], dict[str, list[Any]], list[str]],
              stats: ArchiveStats) -> None:
        visits, links, bad = result
        for reason in bad:
            stats.skipped[reason] += 1
        count = len(visits["url"])
        stats.captures += count + len(bad)
        stats.kinds.update(visits["kind"])
        stats.pages += sum(kind == "page" for kind in visits["kind"])
        stats.links += len(links["url_from"])
        visits["archive"] = [self.archive] * count
        self.visits.write_table(pa.table(visits, schema=VISIT_SCHEMA))
        self.links.write_table(pa.table(links, schema=LINK_SCHEMA))

    def commit(self, stats: ArchiveStats) -> None:
        self.visits.close()
        self.links.close()
        (self.temp / "stats.json").write_text(json.dumps(stats.to_json()))
        shutil.rmtree(self.final, ignore_errors=True)
        os.replace(self.temp, self.final)


class _Inline(Executor):
    """One worker: parse in this process (no start-up cost, nothing to pickle)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _pool(workers: int) -> Executor:
    if workers == 1:
        return _Inline()
    # forkserver, not fork: the caller may hold threads (a server, DuckDB) that fork would copy
    # in whatever state they are in.
    context = get_context("forkserver")
    context.set_forkserver_preload(["linkatlas.extract.rows"])
    return ProcessPoolExecutor(workers, mp_context=context)


def _extract_one(archive: Path, final: Path, pool: Executor,
                 in_flight: int) -> ArchiveStats:
    stats = ArchiveStats(archive.name)
    started = time.perf_counter()
    writer = _Writer(final, archive.name)
    pending: list[Future[Any]] = []
    for batch in _batches(archive, stats):
        pending.append(pool.submit(_rows_of, batch))
        while len(pending) >= in_flight:
            writer.write(pending.pop(0).result(), stats)
    for future in pending:
        writer.write(future.result(), stats)
    stats.seconds = time.perf_counter() - started
    writer.commit(stats)
    return stats


def extract_archives(archives: list[Path], cache: Path, workers: int | None = None
                     ) -> list[ArchiveStats]:
    """Extract every archive not yet in the cache; return the stats of all of them."""
    cache.mkdir(parents=True, exist_ok=True)
    results: list[ArchiveStats] = []
    todo: list[tuple[Path, Path]] = []
    for archive in archives:
        entry = cache / cache_name(archive)
        if (entry / "stats.json").exists():
            results.append(ArchiveStats.from_json(json.loads((entry / "stats.json").read_text())))
        else:
            todo.append((archive, entry))
    if todo:
        workers = workers or os.cpu_count() or 1
        with _pool(workers) as pool:
            for archive, entry in todo:
                results.append(_extract_one(archive, entry, pool, 2 * workers))
    live = {cache_name(archive) for archive in archives}
    for stale in cache.iterdir():  # entries of archives that changed or were removed
        if stale.name not in live:
            shutil.rmtree(stale, ignore_errors=True)
    return results

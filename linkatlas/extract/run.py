"""Extract archives into cached Parquet tables, using every core.

Each archive is cut into chunks of about 1 MB at record boundaries (`chunk_offsets`; ≈0.2 s of
work in a gzip WARC of HTML pages); a worker process reads its chunk straight from the file,
parses it and writes the chunk's own Parquet parts, so no record or row crosses between
processes, chunks of all archives keep every core busy, and memory is bounded by the chunk,
not by the input.

Each archive's result is cached under `DIR/extract/`, keyed by the archive's name, size and
mtime and by EXTRACT_VERSION, so a rebuild parses only new archives.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .archive import Skip, chunk_offsets, read_archive
from .rows import LINK_FIELDS, VISIT_FIELDS, capture_rows

__all__ = ["EXTRACT_VERSION", "ArchiveStats", "extract_archives"]

EXTRACT_VERSION = 4  # bump when extraction output changes: every cache entry is rebuilt
CHUNK_BYTES = 1 << 20
_FLUSH_ROWS = 20_000  # link rows buffered before a Parquet row group is written

VISIT_SCHEMA = pa.schema([
    ("url", pa.string()), ("key", pa.string()), ("domain", pa.string()),
    ("time", pa.timestamp("us", tz="UTC")), ("status", pa.int32()), ("kind", pa.string()),
    ("ip", pa.string()), ("title", pa.string()), ("language", pa.string()),
    ("encoding", pa.string()), ("page_size", pa.int64()), ("links_internal", pa.int32()),
    ("links_external", pa.int32()), ("offset", pa.int64()),
    ("refers_to", pa.timestamp("us", tz="UTC")), ("archive", pa.string()),
])
LINK_SCHEMA = pa.schema([
    ("url_from", pa.string()), ("time", pa.timestamp("us", tz="UTC")), ("url_to", pa.string()),
    ("key_to", pa.string()), ("domain_to", pa.string()), ("link_type", pa.string()),
    ("redirect", pa.int32()), ("nofollow", pa.bool_()), ("anchor", pa.string()),
    ("alt", pa.string()), ("text_pre", pa.string()), ("text_post", pa.string()),
    ("offset", pa.int64()), ("archive", pa.string()),  # which capture: see build.load_inputs
])


@dataclass
class ArchiveStats:
    """What one archive (or one chunk of it) gave: for the build report."""

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

    def add(self, other: ArchiveStats) -> None:
        self.records += other.records
        self.captures += other.captures
        self.pages += other.pages
        self.links += other.links
        self.kinds.update(other.kinds)
        self.ignored.update(other.ignored)
        self.skipped.update(other.skipped)

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


class _Parts:
    """The Parquet parts of one chunk: rows are buffered (visits in columns, links as tuples)
    and written in groups."""

    def __init__(self, folder: Path, number: int, archive: str) -> None:
        self.archive = archive
        # LZ4: as small as the default Snappy here, and 30 % less of a worker's time to write
        self.visits_writer = pq.ParquetWriter(folder / f"visits-{number:05d}.parquet",
                                              VISIT_SCHEMA, compression="lz4")
        self.links_writer = pq.ParquetWriter(folder / f"links-{number:05d}.parquet",
                                             LINK_SCHEMA, compression="lz4")
        self.visits: dict[str, list[Any]] = {name: [] for name in VISIT_FIELDS}
        self.links: list[tuple[Any, ...]] = []  # rows in LINK_FIELDS order

    def add(self, visit: dict[str, Any], links: list[tuple[Any, ...]]) -> None:
        for name in VISIT_FIELDS:
            self.visits[name].append(visit[name])
        self.links.extend(links)
        if len(self.links) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        count = len(self.visits["url"])
        if count:
            self.visits_writer.write_table(pa.table(
                {**self.visits, "archive": [self.archive] * count}, schema=VISIT_SCHEMA))
            for values in self.visits.values():
                values.clear()
        if self.links:
            columns = dict(zip(LINK_FIELDS, map(list, zip(*self.links, strict=True)),
                               strict=True))
            columns["archive"] = [self.archive] * len(self.links)
            self.links_writer.write_table(pa.table(columns, schema=LINK_SCHEMA))
            self.links.clear()

    def close(self) -> None:
        self.flush()
        self.visits_writer.close()
        self.links_writer.close()


def _extract_chunk(archive: Path, start: int, end: int | None, folder: Path,
                   number: int) -> ArchiveStats:
    """Worker: parse the records of one chunk and write its Parquet parts."""
    stats = ArchiveStats(archive.name)
    parts = _Parts(folder, number, archive.name)
    try:
        for item in read_archive(archive, start, end):
            stats.records += 1
            if isinstance(item, Skip):
                (stats.skipped if item.bad else stats.ignored)[item.reason] += 1
                continue
            stats.captures += 1
            try:
                result = capture_rows(item)
            except Exception as exc:  # noqa: BLE001 - one bad page must not stop a build
                stats.skipped[f"extraction failed: {type(exc).__name__}"] += 1
                continue
            if result is None:
                stats.skipped["invalid URL"] += 1
                continue
            visit, links = result
            parts.add(visit, links)
            stats.kinds[visit["kind"]] += 1
            stats.pages += visit["kind"] == "page"
            stats.links += len(links)
    finally:
        parts.close()
    return stats


def _tune_memory() -> None:
    """Allocator and collector settings for a process that parses page after page.

    A worker builds and frees a DOM of a few MB per page; with glibc's defaults those blocks
    are mapped and unmapped (or the heap trimmed) page after page, and every page of memory
    is faulted in again: 40 % of the parse time on the bench corpus. Blocks up to 32 MB now
    come from the heap, which gives back only what exceeds 64 MB free, so a worker's memory
    stays bounded by the biggest page it parses (elsewhere than glibc: unchanged). The
    young generation of the cycle collector is collected after 50,000 new containers, not
    700: a page makes thousands (link tuples), and hardly any cycle (3 % of a worker's time).
    """
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 64 << 20)
    mallopt(m_top_pad, 8 << 20)


class _Inline(Executor):
    """One worker: parse in this process (no start-up cost)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@contextmanager
def _pool(workers: int) -> Iterator[Executor]:
    if workers == 1:
        _tune_memory()  # this process parses
        yield _Inline()
        return
    # fork starts workers at once with everything imported, but copies other threads' locks
    # in whatever state they are in: only when this is the only thread (the CLI), else
    # forkserver (a server, a test run, DuckDB threads).
    if threading.active_count() == 1:
        # Objects inherited from this process are left out of the workers' collections, which
        # would otherwise visit (and so copy) every page of them (4 % of a worker's time).
        gc.freeze()
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context("fork"),
                                     initializer=_tune_memory) as pool:
                yield pool
        finally:
            gc.unfreeze()
        return
    context = get_context("forkserver")
    context.set_forkserver_preload(["linkatlas.extract.run"])
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_tune_memory) as pool:
        yield pool


def _commit(entry: Path, temp: Path, stats: ArchiveStats) -> None:
    (temp / "stats.json").write_text(json.dumps(stats.to_json()))
    shutil.rmtree(entry, ignore_errors=True)
    os.replace(temp, entry)


def extract_archives(archives: list[Path], cache: Path, workers: int | None = None,
                     meanwhile: Callable[[], None] | None = None) -> list[ArchiveStats]:
    """Extract every archive not yet in the cache; return the stats of all of them.

    meanwhile runs in this process while the last chunks are parsed (a core is idle then)."""
    cache.mkdir(parents=True, exist_ok=True)
    results: dict[Path, ArchiveStats] = {}
    todo: list[tuple[Path, Path]] = []
    for archive in archives:
        entry = cache / cache_name(archive)
        if (entry / "stats.json").exists():
            results[archive] = ArchiveStats.from_json(json.loads(
                (entry / "stats.json").read_text()))
        else:
            todo.append((archive, entry))
    workers = workers or os.cpu_count() or 1
    if todo:
        with _pool(workers) as pool:
            started = time.perf_counter()
            jobs: list[tuple[Path, Path, Path, list[Future[ArchiveStats]]]] = []
            # Every chunk of every archive is queued at once, biggest archives first: the
            # last chunks to run are then the small ones, and the workers finish together.
            todo.sort(key=lambda job: job[0].stat().st_size, reverse=True)
            for archive, entry in todo:
                temp = entry.with_name(entry.name + ".tmp")
                shutil.rmtree(temp, ignore_errors=True)
                temp.mkdir(parents=True)
                starts = chunk_offsets(archive, CHUNK_BYTES)
                ends: list[int | None] = [*starts[1:], None]
                jobs.append((archive, entry, temp, [
                    pool.submit(_extract_chunk, archive, start, end, temp, number)
                    for number, (start, end) in enumerate(zip(starts, ends, strict=True))]))
            if meanwhile is not None:
                # Once only the last chunks are left, a core falls idle: meanwhile takes it.
                pending = {future for *_, futures in jobs for future in futures}
                while len(pending) > workers:
                    pending = wait(pending, return_when=FIRST_COMPLETED).not_done
                meanwhile()
            for archive, entry, temp, futures in jobs:
                stats = ArchiveStats(archive.name)
                for future in futures:
                    stats.add(future.result())
                stats.seconds = time.perf_counter() - started
                _commit(entry, temp, stats)
                results[archive] = stats
    live = {cache_name(archive) for archive in archives}
    for stale in cache.iterdir():  # entries of archives that changed or were removed
        if stale.name not in live:
            shutil.rmtree(stale, ignore_errors=True)
    return [results[archive] for archive in archives]

"""Extract archives into cached Parquet tables, using every core.

Each archive is cut into chunks of about 1 MB, 16 MB of a gzip WAT (`chunk_offsets`: byte
positions in a gzip WAT, each chunk starting at its first record member, which the worker
finds; record starts in any other archive, where a page's payload may look like one); a
worker process reads its chunk straight from the file, parses it and writes the chunk's own
Parquet parts, so no record or row crosses between processes, chunks of all archives keep
every core busy, and memory is bounded by the chunk, not by the input.

Each archive's result is cached under `DIR/extract/`, keyed by the archive's name, size and
mtime and by EXTRACT_VERSION, so a rebuild parses only new archives.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import json
import math
import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    as_completed,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ArchiveError
from .archive import chunk_offsets, sniff_format, wat_named
from .capture import Skip
from .records import read_archive
from .rows import LINK_FIELDS, LINK_PAGE_FIELDS, VISIT_FIELDS, capture_rows, link_page_values

__all__ = ["EXTRACT_VERSION", "ArchiveStats", "Chunk", "Runner", "extract_archives",
           "extract_chunk"]

EXTRACT_VERSION = 12  # bump when extraction output changes: every cache entry is rebuilt
CHUNK_BYTES = 1 << 20  # of a WARC or an ARC: ≈ 0.35 s of a worker's time (real pages)
# of a gzip WAT: ≈ 0.4 s (0.025 s a MB, measured); 1 MB chunks spent 10 % of a worker's
# time on each chunk's fixed cost (its Parquet files, finding its first record), 8 MB ones
# 2.5 % more than these
WAT_CHUNK_BYTES = 16 << 20
PAGE_SECONDS = 20.0  # a page whose extraction takes longer is skipped (see _Watch)
_FLUSH_ROWS = 20_000  # link (or visit) rows buffered before a Parquet row group is written

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
    dated: Counter[str] = field(default_factory=Counter)  # captures by how their time was found

    def add(self, other: ArchiveStats) -> None:
        self.records += other.records
        self.captures += other.captures
        self.pages += other.pages
        self.links += other.links
        self.kinds.update(other.kinds)
        self.ignored.update(other.ignored)
        self.skipped.update(other.skipped)
        self.dated.update(other.dated)

    def to_json(self) -> dict[str, Any]:
        return {"archive": self.archive, "records": self.records, "captures": self.captures,
                "pages": self.pages, "links": self.links, "kinds": dict(self.kinds),
                "ignored": dict(self.ignored), "skipped": dict(self.skipped),
                "seconds": round(self.seconds, 3), "dated": dict(self.dated)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArchiveStats:
        stats = cls(data["archive"], data["records"], data["captures"], data["pages"],
                    data["links"], Counter(data["kinds"]), Counter(data["ignored"]),
                    Counter(data["skipped"]), data["seconds"])
        stats.dated = Counter(data.get("dated", {}))
        stats.cached = True
        return stats


def cache_name(archive: Path) -> str:
    info = archive.stat()
    return f"{archive.name}.{info.st_size}.{info.st_mtime_ns}.v{EXTRACT_VERSION}"


_visit_values = itemgetter(*VISIT_FIELDS)  # a visit's row: one C call, not one per field


class _Parts:
    """The Parquet parts of one chunk: rows are buffered as tuples and written in groups."""

    def __init__(self, folder: Path, number: int, archive: str) -> None:
        self.archive = archive
        # LZ4: as small as the default Snappy here, and 30 % less of a worker's time to write.
        # No column statistics: the build reads every row of a part (10 % of writing it).
        options: dict[str, Any] = {"compression": "lz4", "write_statistics": False}
        self.visits_writer = pq.ParquetWriter(folder / f"visits-{number:05d}.parquet",
                                              VISIT_SCHEMA, **options)
        self.links_writer = pq.ParquetWriter(folder / f"links-{number:05d}.parquet",
                                             LINK_SCHEMA, **options)
        self.visits: list[tuple[Any, ...]] = []  # rows in VISIT_FIELDS order
        self.links: list[tuple[Any, ...]] = []  # rows in LINK_FIELDS order
        # The LINK_PAGE_FIELDS of each page with links, and how many it has: made Arrow
        # once per page, repeated there
        self.link_pages: list[tuple[Any, ...]] = []
        self.link_counts: list[int] = []

    def add(self, visit: dict[str, Any], links: list[tuple[Any, ...]]) -> None:
        self.visits.append(_visit_values(visit))
        if links:
            self.links.extend(links)
            self.link_pages.append(link_page_values(visit))
            self.link_counts.append(len(links))
        # (pages without links too: a WAT chunk may hold 60,000 of them)
        if len(self.links) >= _FLUSH_ROWS or len(self.visits) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.visits:
            self.visits_writer.write_table(pa.table(
                {**dict(zip(VISIT_FIELDS, zip(*self.visits, strict=True), strict=True)),
                 "archive": pa.repeat(self.archive, len(self.visits))}, schema=VISIT_SCHEMA))
            self.visits.clear()
        if self.links:
            columns: dict[str, Any] = {
                name: pa.repeat("", len(values)) if values[0] == "" and not any(values) else values
                for name, values in zip(LINK_FIELDS, zip(*self.links, strict=True), strict=True)}
            page_of_row = pa.array(np.repeat(np.arange(len(self.link_pages)), self.link_counts))
            for name, per_page in zip(LINK_PAGE_FIELDS, zip(*self.link_pages, strict=True),
                                      strict=True):
                columns[name] = pa.array(per_page, LINK_SCHEMA.field(name).type).take(page_of_row)
            columns["archive"] = pa.repeat(self.archive, len(self.links))
            self.links_writer.write_table(pa.table(columns, schema=LINK_SCHEMA))
            self.links.clear()
            self.link_pages.clear()
            self.link_counts.clear()

    def close(self) -> None:
        self.flush()
        self.visits_writer.close()
        self.links_writer.close()


def _extract_chunk(archive: Path, start: int, end: int | None, folder: Path, number: int,
                   task: int, skip: frozenset[int]) -> ArchiveStats:
    """Worker: parse the records of one chunk and write its Parquet parts; the records at the
    offsets in `skip` took too long once (see _Watch) and are counted, not parsed."""
    stats = ArchiveStats(archive.name)
    parts = _Parts(folder, number, archive.name)
    try:
        for item in read_archive(archive, start, end):
            stats.records += 1
            if isinstance(item, Skip):
                (stats.skipped if item.bad else stats.ignored)[item.reason] += 1
                continue
            stats.captures += 1
            stats.dated[item.dated] += 1
            if item.offset in skip:
                stats.skipped[f"extraction took over {_WATCH.seconds:g} s or crashed"] += 1
                continue
            try:
                _WATCH.start(task, item.offset)
                try:
                    result = capture_rows(item)
                finally:
                    _WATCH.stop()
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


class _Watch:
    """Which page each worker is parsing, in memory shared with the workers.

    HTML tree construction is quadratic or worse on some hostile markup (deep nesting,
    misnested formatting elements: lexbor issue 340), and a parse cannot be interrupted from
    Python. So a worker arms a timer for each page whose signal ends the process; the pool
    then breaks, and the page that was running for `seconds` (PAGE_SECONDS) is the culprit.
    A worker that dies otherwise (a crash in a parser) leaves no overdue page: the pages it
    and the others were on are suspects, and a page suspected twice is skipped too.
    WAT records are watched as well: no parser of ours is known to hang on one, but a rule
    that turns super-linear on hostile text would hang the build. The timer is `alarm` in
    whole seconds around plain calls (start/stop), the cheapest form: ≈ 1 µs a page.
    """

    def __init__(self, context: BaseContext, workers: int, seconds: float) -> None:
        self.seconds = seconds
        self.alarm = max(1, math.ceil(seconds))  # (alarm counts whole seconds)
        self.next_slot = context.Value("i", 0)
        self.tasks = context.Array("q", [-1] * workers, lock=False)
        self.offsets = context.Array("q", workers, lock=False)
        self.started = context.Array("d", workers, lock=False)
        self.slot = -1  # a worker's own, from join()

    def join(self) -> None:
        """In a new worker: take a slot; the timer's signal ends the process."""
        with self.next_slot.get_lock():
            self.slot = self.next_slot.value
            self.next_slot.value += 1
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    def start(self, task: int, offset: int) -> None:
        """In a worker: the extraction of one page begins; stop() when it ends, however."""
        slot = self.slot
        self.tasks[slot], self.offsets[slot] = task, offset
        self.started[slot] = time.monotonic()
        signal.alarm(self.alarm)

    def stop(self) -> None:
        signal.alarm(0)
        self.tasks[self.slot] = -1

    def running(self) -> list[tuple[int, int, float]]:
        """(task, offset, seconds so far) of the page each worker was on."""
        now = time.monotonic()
        return [(task, offset, now - started) for task, offset, started
                in zip(self.tasks, self.offsets, self.started, strict=True) if task >= 0]


_WATCH: _Watch  # set in each worker by _start_worker


def extract_chunk(chunk: Chunk) -> ArchiveStats:
    """One chunk's Parquet parts, for a runner other than ours (a Spark task): in a pool of
    one worker, so the page timer guards it as it guards every chunk (its signal ends that
    worker, not the runner's process)."""
    return _run_tasks(iter([chunk]), 1)[chunk]


def _start_worker(watch: _Watch) -> None:
    global _WATCH
    _WATCH = watch
    watch.join()
    _die_with_parent()
    _tune_memory()


def _die_with_parent() -> None:
    """Linux: end this worker when the process that started it ends. A build killed with
    SIGKILL (the OOM killer) runs no cleanup, and its workers would wait on their queue
    forever, holding the build lock: every later build would be refused."""
    with suppress(OSError, AttributeError):  # not Linux: such workers stay until killed
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextmanager
def _pool(workers: int) -> Iterator[tuple[Executor, _Watch]]:
    # fork starts workers at once with everything imported, but copies other threads' locks
    # in whatever state they are in: only when this is the only thread (the CLI), else
    # forkserver (a server, a test run, DuckDB threads).
    if threading.active_count() == 1:
        context: BaseContext = get_context("fork")
        # Objects inherited from this process are left out of the workers' collections, which
        # would otherwise visit (and so copy) every page of them (4 % of a worker's time).
        gc.freeze()
    else:
        context = get_context("forkserver")
        context.set_forkserver_preload(["linkatlas.extract.run"])
    watch = _Watch(context, workers, PAGE_SECONDS)
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                 initargs=(watch,)) as pool:
            yield pool, watch
    finally:
        gc.unfreeze()


def _commit(entry: Path, temp: Path, stats: ArchiveStats) -> None:
    (temp / "stats.json").write_text(json.dumps(stats.to_json()))
    shutil.rmtree(entry, ignore_errors=True)
    os.replace(temp, entry)


@dataclass(frozen=True)
class Chunk:
    """One chunk to extract: records from start to end (None: the file's end) of archive,
    written as the parts numbered `number` into folder."""

    archive: Path
    start: int
    end: int | None
    folder: Path
    number: int


# Extracts every chunk (possibly elsewhere) and returns each one's stats, in the same order.
Runner = Callable[[list[Chunk]], list[ArchiveStats]]
# Told of each chunk extracted: (bytes of archives done, bytes in all, pages so far).
Progress = Callable[[int, int, int], None]


def _chunks(todo: list[tuple[Path, Path]]) -> Iterator[Chunk]:
    """Every chunk of every archive; an archive is split only when its turn comes, so its
    chunks are queued while the workers parse those of the archives before it."""
    for archive, entry in todo:
        starts = chunk_offsets(archive, WAT_CHUNK_BYTES if wat_named(archive) else CHUNK_BYTES)
        for number, (start, end) in enumerate(zip(starts, [*starts[1:], None], strict=True)):
            yield Chunk(archive, start, end, _temp(entry), number)


def _temp(entry: Path) -> Path:
    return entry.with_name(entry.name + ".tmp")


def _run_tasks(chunks: Iterator[Chunk], workers: int,
               meanwhile: Callable[[], None] | None = None,
               finished: Callable[[Chunk, ArchiveStats], None] | None = None
               ) -> dict[Chunk, ArchiveStats]:
    """Stats of every chunk. A pool that breaks (see _Watch) is replaced, and what had not
    finished runs again without the pages found guilty."""
    done: dict[Chunk, ArchiveStats] = {}
    skips: dict[Chunk, set[int]] = {}
    suspects: set[tuple[Chunk, int]] = set()
    ids: dict[Chunk, int] = {}  # a chunk's number in the shared watch
    unfinished: list[Chunk] = []
    while True:
        queue = itertools.chain(unfinished, chunks)
        unfinished = []
        with _pool(workers) as (pool, watch):
            futures: dict[Future[ArchiveStats], Chunk] = {}
            for chunk in queue:
                try:
                    future = pool.submit(_extract_chunk, chunk.archive, chunk.start, chunk.end,
                                         chunk.folder, chunk.number,
                                         ids.setdefault(chunk, len(ids)),
                                         frozenset(skips.get(chunk, ())))
                    futures[future] = chunk
                    if finished is not None:
                        future.add_done_callback(partial(_tell, finished, chunk))
                except BrokenProcessPool:
                    unfinished += [chunk, *queue]
                    break
            if meanwhile is not None:
                # Once fewer chunks are left than workers, a core is idle: meanwhile takes it.
                # (Begun while every worker still had a chunk, it slowed them as much as it
                # ran.) One worker alone leaves the other cores idle all along.
                pending = set(futures)
                while len(pending) > max(workers - 1, 1):
                    pending = wait(pending, return_when=FIRST_COMPLETED).not_done
                meanwhile()
                meanwhile = None
            for future in as_completed(futures):
                try:
                    done[futures[future]] = future.result()
                except BrokenProcessPool:
                    unfinished.append(futures[future])
            running = watch.running() if unfinished else []
        if not unfinished:
            return done
        unfinished.sort(key=ids.__getitem__)  # the queue's order again
        numbered = {number: chunk for chunk, number in ids.items()}
        pages = [((numbered[number], offset), seconds) for number, offset, seconds in running]
        guilty = [page for page, seconds in pages if seconds >= watch.seconds * 0.99] or [
            page for page, _ in pages if page in suspects]
        suspects.update(page for page, _ in pages)
        for chunk, offset in guilty:
            skips.setdefault(chunk, set()).add(offset)


def _progress_of(todo: list[tuple[Path, Path]], progress: Progress | None
                 ) -> Callable[[Chunk, ArchiveStats], None] | None:
    """A chunk-done callback that tells progress the bytes and pages done so far."""
    if progress is None:
        return None
    sizes = {archive: archive.stat().st_size for archive, _ in todo}
    total = sum(sizes.values())
    tally = [0, 0]  # bytes, pages
    lock = threading.Lock()

    def finished(chunk: Chunk, stats: ArchiveStats) -> None:
        with lock:
            tally[0] += (chunk.end if chunk.end is not None else sizes[chunk.archive]) - (
                chunk.start)
            tally[1] += stats.pages
            progress(tally[0], total, tally[1])
    return finished


def _tell(finished: Callable[[Chunk, ArchiveStats], None], chunk: Chunk,
          done: Future[ArchiveStats]) -> None:
    if not done.cancelled() and done.exception() is None:
        finished(chunk, done.result())


def extract_archives(archives: list[Path], cache: Path, workers: int | None = None,
                     meanwhile: Callable[[], None] | None = None, runner: Runner | None = None,
                     progress: Progress | None = None) -> list[ArchiveStats]:
    """Extract every archive not yet in the cache; return the stats of all of them.

    The chunks run in a process pool on this machine, or through runner (Spark). meanwhile
    runs in this process while the pool parses the last chunks (a core is idle then);
    progress is told of each chunk done (from a thread of the pool)."""
    cache.mkdir(parents=True, exist_ok=True)
    results: dict[Path, ArchiveStats] = {}
    todo: list[tuple[Path, Path]] = []
    for archive in archives:
        entry = cache / cache_name(archive)
        if (entry / "stats.json").exists():
            results[archive] = ArchiveStats.from_json(json.loads(
                (entry / "stats.json").read_text()))
            continue
        try:
            sniff_format(archive)
        except ArchiveError as exc:  # (damaged on disk since it was imported): skip, count
            reason = str(exc).removeprefix(f"{archive}: ")
            results[archive] = ArchiveStats(archive.name, skipped=Counter({
                f"unreadable archive: {reason}": 1}))
            continue
        todo.append((archive, entry))
    if todo:
        started = time.perf_counter()
        # Biggest archives first: the last chunks to run are then the small ones, and the
        # workers finish together.
        todo.sort(key=lambda job: job[0].stat().st_size, reverse=True)
        for _, entry in todo:
            shutil.rmtree(_temp(entry), ignore_errors=True)
            _temp(entry).mkdir(parents=True)
        if runner is None:
            done = _run_tasks(_chunks(todo), workers or os.cpu_count() or 1, meanwhile,
                              _progress_of(todo, progress))
        else:
            chunks = list(_chunks(todo))
            done = dict(zip(chunks, runner(chunks), strict=True))
        for archive, entry in todo:
            stats = ArchiveStats(archive.name)
            for chunk, part in done.items():
                if chunk.archive == archive:
                    stats.add(part)
            stats.seconds = time.perf_counter() - started
            _commit(entry, _temp(entry), stats)
            results[archive] = stats
    live = {cache_name(archive) for archive in archives}
    for stale in cache.iterdir():  # entries of archives that changed or were removed
        if stale.name not in live:
            shutil.rmtree(stale, ignore_errors=True)
    return [results[archive] for archive in archives]

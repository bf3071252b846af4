"""`ingest --common-crawl CRAWL`: download a crawl's WAT or WARC files and import them.

Reads `crawl-data/CRAWL/{kind}.paths.gz`, chooses files (`--files N`: the first N;
`--sample N --seed S`: N drawn by a seeded RNG, the same N for the same list and seed),
downloads each with resume and retries (download.py), and imports it as soon as it is whole
(extract/ingest.py: content-addressed, so a file imported twice changes nothing). At most
`--keep` downloaded files wait on disk at once, so `--parallel` is bounded by it.

State in DIR/commoncrawl/: `imported.txt` lists the remote paths imported (appended and
fsynced after each import: a second run skips them), `downloads/` holds the files in flight
(`.part` while partial: the next run resumes them). A kill -9 at any moment loses at most the
bytes in flight.
"""

from __future__ import annotations

import gzip
import random
import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArchiveError, LinkatlasError, UsageError
from .download import DownloadError, Missing, Retry, download, read_small

__all__ = ["Options", "Progress", "Result", "choose", "run"]

DEFAULT_BASE = "https://data.commoncrawl.org/"
_CRAWL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Options:
    crawl: str
    kind: str = "wat"
    files: int | None = None
    sample: int | None = None
    seed: int = 0
    base_url: str = DEFAULT_BASE
    parallel: int = 2
    keep: int = 2
    retry: Retry = field(default_factory=Retry)


@dataclass
class Result:
    listed: int = 0
    chosen: int = 0
    already: int = 0
    imported: int = 0
    failed: list[str] = field(default_factory=list)
    bytes: int = 0


class Progress:
    """What a run reports as it goes; the CLI draws it, tests ignore it."""

    def start(self, files: int) -> None: ...

    def bytes(self, count: int) -> None: ...

    def file_done(self, path: str) -> None: ...


def check(options: Options) -> None:
    """A bad option is one line before anything is fetched."""
    if options.kind not in ("wat", "warc"):
        raise UsageError(f"--kind: {options.kind!r} is not wat or warc")
    if not _CRAWL.match(options.crawl):
        raise UsageError(f"--common-crawl: not a crawl name: {options.crawl!r} "
                         "(e.g. CC-MAIN-2025-47)")
    if options.files is not None and options.sample is not None:
        raise UsageError("--files and --sample: give one of them")
    for name, value in (("--files", options.files), ("--sample", options.sample)):
        if value is not None and value < 1:
            raise UsageError(f"{name}: must be at least 1, not {value}")
    if options.parallel < 1 or options.keep < 1:
        raise UsageError("--parallel and --keep: must be at least 1")
    if not options.base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url: not an http(s) URL: {options.base_url!r}")


def _base(options: Options) -> str:
    return options.base_url if options.base_url.endswith("/") else options.base_url + "/"


def listing(options: Options) -> list[str]:
    """The crawl's path list, or one clear line when the crawl does not exist."""
    url = f"{_base(options)}crawl-data/{options.crawl}/{options.kind}.paths.gz"
    try:
        raw = read_small(url, options.retry)
    except Missing:
        raise UsageError(f"--common-crawl: no crawl named {options.crawl!r} at "
                         f"{_base(options)} ({url} does not exist)") from None
    try:
        text = gzip.decompress(raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError):
        raise DownloadError(f"{url}: not a gzip list of paths") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def choose(paths: list[str], options: Options) -> list[str]:
    """The files to fetch: all, the first N, or a seeded sample of N (in list order)."""
    if options.files is not None:
        return paths[: options.files]
    if options.sample is not None:
        picked = random.Random(options.seed).sample(range(len(paths)),
                                                    min(options.sample, len(paths)))
        return [paths[i] for i in sorted(picked)]
    return paths


def _local_name(path: str) -> str:
    """The remote file's own name (Common Crawl's names carry the segment and a sequence
    number, so they are unique in a crawl)."""
    name = path.rsplit("/", 1)[-1]
    return name if name not in ("", ".", "..") else "file"


class _Ledger:
    """DIR/commoncrawl/imported.txt: the remote paths already imported."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "imported.txt"
        self.lock = threading.Lock()
        self.done = set(self.path.read_text().split()) if self.path.exists() else set()

    def add(self, path: str) -> None:
        import os

        with self.lock, self.path.open("a") as out:
            out.write(path + "\n")
            out.flush()
            os.fsync(out.fileno())
            self.done.add(path)


def run(data: Path, options: Options, progress: Progress | None = None) -> Result:
    """Download and import the chosen files; failures are listed in the result."""
    from ..extract.ingest import ingest

    check(options)
    progress = progress or Progress()
    folder = data / "commoncrawl"
    downloads = folder / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    ledger = _Ledger(folder)
    paths = listing(options)
    chosen = choose(paths, options)
    result = Result(listed=len(paths), chosen=len(chosen))
    todo = [p for p in chosen if p not in ledger.done]
    result.already = len(chosen) - len(todo)
    progress.start(len(todo))
    counted = threading.Lock()

    def on_bytes(count: int) -> None:
        with counted:
            result.bytes += count
        progress.bytes(count)

    def one(path: str) -> None:
        dest = downloads / _local_name(path)
        download(_base(options) + path, dest, retry=options.retry,
                 gzipped=path.endswith(".gz"), on_bytes=on_bytes)
        try:
            ingest(data, [dest])
        except ArchiveError:
            dest.unlink(missing_ok=True)  # whole and verified, yet no archive: do not keep it
            raise
        ledger.add(path)
        dest.unlink(missing_ok=True)

    # Each worker holds one file from its first byte to its import: at most `keep` on disk.
    with ThreadPoolExecutor(max_workers=min(options.parallel, options.keep)) as pool:
        futures = {pool.submit(one, path): path for path in todo}
        for future in as_completed(futures):
            path = futures[future]
            try:
                future.result()
                result.imported += 1
            except LinkatlasError as exc:
                result.failed.append(f"{path}: {exc}")
            progress.file_done(path)
    return result


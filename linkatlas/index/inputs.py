"""What a build reads: the archives in DIR, extracted into the cache (every core, or an
engine's runner), the check logs and imported ranks, and the DuckDB they are loaded into."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildError, UsageError
from ..extract.run import ArchiveStats, Runner, extract_archives
from ..observations import log_dir

if TYPE_CHECKING:
    import duckdb

__all__ = ["BuildProgress", "Inputs", "archives_of", "connect", "extract_inputs", "load"]

# What a build tells a progress display: (stage, bytes of archives extracted, bytes to
# extract, pages extracted); the later stages are told by name only (0, 0, 0).
BuildProgress = Callable[[str, int, int, int], None]


def archives_of(data: Path) -> list[Path]:
    """Archive files under DIR/archives (hidden and temporary files excluded)."""
    folder = data / "archives"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".tmp"))


def connect(data: Path, memory_limit: str = "512MB", threads: int | None = None
            ) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to DIR/tmp; times are UTC everywhere."""
    import duckdb

    spill = data / "tmp"
    spill.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(config={"memory_limit": memory_limit,
                                     "temp_directory": str(spill)})
    except duckdb.Error:
        raise UsageError(f"--memory-limit: not a memory size: {memory_limit!r} "
                         "(e.g. 512MB, 2GB)") from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    # A join filter pushed into a scan pays off when the join drops most of the scanned rows;
    # the build's joins keep nearly all (every link has its page; the serve and backlinks-facts
    # queries fetch their links' snippets by rowid), so it only cost: a quarter of the facts
    # stage on the WAT bench (bench/README.md "build stages").
    con.execute("SET disabled_optimizers = 'join_filter_pushdown'")
    # The build's database lives in memory and is dropped with the build: a checkpoint (run
    # once 16 MB of changes have accrued) rewrites the tables for nothing, 0.19 s of the 1.2 s
    # of stages on the WAT bench.
    con.execute("SET checkpoint_threshold = '1TB'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


@dataclass(frozen=True)
class Inputs:
    """The extracted tables of every archive, and the check logs, that a build reads."""

    stats: list[ArchiveStats]
    visits: list[Path]
    links: list[Path]
    checks: list[Path]
    ranks: Path | None = None  # imported domain ranks (linkatlas.ranks), when present


def _import_stages() -> None:
    """DuckDB, SciPy and the stages (≈0.15 s of imports), while the extraction workers run."""
    import_module(f"{__package__}.stages")
    import_module(f"{__package__}.ratings")


def extract_inputs(data: Path, workers: int | None = None, runner: Runner | None = None,
                   progress: BuildProgress | None = None) -> Inputs:
    """Extract archives not yet in the cache (every core, or through runner), and list all
    inputs."""
    archives = archives_of(data)
    if not archives:
        raise BuildError(f"no archives in {data / 'archives'}: run `crawl` or `ingest` first")
    cache = data / "extract"
    told = None if progress is None else (
        lambda done, total, pages: progress("extract", done, total, pages))
    stats = extract_archives(archives, cache, workers, meanwhile=_import_stages, runner=runner,
                             progress=told)
    entries = [cache / name for name in sorted(p.name for p in cache.iterdir())
               if not name.endswith(".tmp")]
    folder = log_dir(data)
    checks = sorted(p for p in folder.glob("*.jsonl") if p.stat().st_size) if (
        folder.is_dir()) else []
    from ..ranks import stored

    ranks = stored(data)
    return Inputs(stats, sorted(p for e in entries for p in e.glob("visits-*.parquet")),
                  sorted(p for e in entries for p in e.glob("links-*.parquet")), checks,
                  ranks if ranks.is_file() else None)


def load(con: duckdb.DuckDBPyConnection, inputs: Inputs) -> None:
    """The inputs as DuckDB tables (stages.load_inputs): the DuckDB engine's load stage."""
    from .stages import load_inputs

    load_inputs(con, inputs.visits, inputs.links, inputs.checks)

"""`build`: observations (archives + check logs) → a new snapshot, switched in atomically."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import clock, snapshot
from ..errors import BuildError, SnapshotError
from ..extract.run import ArchiveStats
from .engine import DuckDBEngine
from .inputs import BuildProgress, Inputs, archives_of, connect, extract_inputs, load
from .lock import build_lock

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["BuildProgress", "Inputs", "Report", "archives_of", "build", "build_lock", "connect",
           "extract_inputs", "load"]


@dataclass
class Report:
    """The build summary, kept as `report.json` in the snapshot."""

    snapshot: str = ""
    archives: int = 0
    archives_parsed: int = 0
    records: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    dated: Counter[str] = field(default_factory=Counter)  # captures by how their time was found
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "archives": self.archives,
                "archives_parsed": self.archives_parsed, "records": dict(self.records),
                "skipped": dict(self.skipped), "dated": dict(self.dated),
                "counts": self.counts,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def _tally(report: Report, stats: list[ArchiveStats]) -> None:
    report.archives = len(stats)
    report.archives_parsed = sum(not s.cached for s in stats)
    for s in stats:
        report.records.update(s.kinds)
        report.records.update({f"ignored: {k}": v for k, v in s.ignored.items()})
        report.skipped.update(s.skipped)
        report.dated.update(s.dated)


def build(data: Path, *, workers: int | None = None, memory_limit: str = "512MB",
          spark_master: str | None = None, progress: BuildProgress | None = None) -> Report:
    """Extract new archives, run every stage, write and publish a snapshot: on DuckDB, or on
    Spark when spark_master is given (index/engine.py)."""
    with build_lock(data), opened(data, spark_master, memory_limit, workers) as engine:
        return _build(data, engine, workers, progress)


@contextmanager
def opened(data: Path, spark_master: str | None, memory_limit: str, threads: int | None
           ) -> Iterator[Engine]:
    """The build's engine: Spark on spark_master when given, else DuckDB; closed at the end
    (Spark's errors leave as BuildError, spark.session)."""
    if spark_master is None:
        with closing(DuckDBEngine(data, memory_limit, threads)) as engine:
            yield engine
        return
    from .spark import SparkEngine, session

    with session(data, spark_master) as spark, closing(
            SparkEngine(spark, data, memory_limit, threads)) as spark_engine:
        yield spark_engine


def _build(data: Path, engine: Engine, workers: int | None,
           progress: BuildProgress | None = None) -> Report:
    report = Report()
    started = time.perf_counter()
    inputs = extract_inputs(data, workers, engine.runner(), progress)
    import duckdb  # imported (_import_stages) while the workers ran

    from . import changes

    _tally(report, inputs.stats)
    report.seconds["extract"] = time.perf_counter() - started
    moment = clock.now()
    snapshot.remove_staging(data)  # of builds killed before they published (we hold the lock)
    previous = _previous(data)
    staging = data / "snapshots" / f".staging-{snapshot.new_id(moment)}"
    staging.mkdir(parents=True)
    try:
        results = {name: _stage(report, name, run, progress)
                   for name, run in _stages(engine, inputs, staging)}
        files: list[dict[str, Any]] = results["serve"]
        report.counts = _counts(engine.count, sum(int(f["rows"]) for f in files))
        _stage(report, "changes", lambda: changes.record(engine.con, previous, staging, moment),
               progress)
    except duckdb.Error as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"build failed: {str(exc).splitlines()[0]}") from None
    except BaseException:  # (Spark's errors become BuildError in spark.session)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report.seconds["total"] = time.perf_counter() - started
    manifest = {"id": snapshot.new_id(moment), "built_at": clock.iso(moment),
                "rows": report.counts["broken_backlinks"], "engine": engine.name,
                "files": files, "previous": previous.id if previous else ""}
    published = snapshot.publish(data, staging, manifest)
    report.snapshot = published.id
    (published.path / "report.json").write_text(json.dumps(report.to_json(), indent=2))
    changes.append_log(data)
    snapshot.prune(data)
    return report


def _stages(engine: Engine, inputs: Inputs, staging: Path
            ) -> list[tuple[str, Callable[[], Any]]]:
    """(name, run) of each stage after extraction, in order; serve returns the files."""
    from . import changes, reclaim
    from .stages import SERVE_SQL, TABLES

    def serve() -> list[dict[str, Any]]:
        with engine.rows(SERVE_SQL.format(**engine.dialect)) as query:
            return snapshot.write_table(engine.con, query, staging)

    def reclaimed() -> None:
        with engine.rows(reclaim.RECLAIM_SQL) as query:
            reclaim.write(engine.con, query, staging)

    def facts() -> None:
        with ExitStack() as held:  # each query's rows stay until its file is written
            changes.write_facts(engine.con, staging,
                                lambda sql: held.enter_context(engine.rows(sql)),
                                engine.every_target, engine.dialect)

    return [("load", lambda: engine.load(inputs)),
            *[(name, lambda tables=tables: [engine.table(*t) for t in tables])
              for name, tables in TABLES],
            ("ratings", lambda: engine.ratings(inputs.ranks)),
            ("serve", serve), ("reclaim", reclaimed), ("facts", facts)]


def _previous(data: Path) -> snapshot.Snapshot | None:
    """The snapshot a build replaces (its changes are recorded against it), if any."""
    try:
        return snapshot.current(data)
    except SnapshotError:
        return None


def _stage(report: Report, name: str, run: Callable[[], Any],
           progress: BuildProgress | None = None) -> Any:
    if progress is not None:
        progress(name, 0, 0, 0)
    started = time.perf_counter()
    result = run()
    report.seconds[name] = time.perf_counter() - started
    return result


def _counts(one: Callable[[str], int], broken_backlinks: int) -> dict[str, int]:
    """The report's counts; the queries read the same tables on either engine."""
    return {
        "visits": one("SELECT count(*) FROM visits"),
        "pages": one("SELECT count(*) FROM pages WHERE last_good IS NOT NULL"),
        "links": one("SELECT count(*) FROM live"),
        "targets": one("SELECT count(DISTINCT url_to) FROM live"),
        "broken_targets": one("SELECT count(*) FROM targets WHERE broken"),
        "broken_backlinks": broken_backlinks,
        # links within one registered domain to a broken target: a site-audit matter, not
        # backlinks (spec/COLUMNS.md), so counted here and not served
        "internal_broken_links": one(
            "SELECT count(*) FROM live l JOIN targets t ON t.url = l.url_to AND t.broken "
            "JOIN pages p ON p.url = l.url_from WHERE p.domain = l.domain_to"),
        "domains_rated_imported": one("SELECT count(*) FROM domain_rating WHERE imported"),
        "domains_rated_local": one("SELECT count(*) FROM domain_rating WHERE NOT imported"),
    }

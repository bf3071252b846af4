"""The Spark engine (`build --engine spark`): the build stages on Apache Spark.

Same inputs, same outputs as the DuckDB engine (stages.py), so the server does not care which
engine built a snapshot; tests/test_spark.py holds the two equal on the same archives.

- extract: every chunk of every new archive is a Spark task running the same extraction
  (extract.run.extract_chunk, page timer included) into the same per-archive cache under
  DIR/extract. On a cluster, DIR must be a filesystem every executor mounts, and linkatlas
  must be installed there.
- load, history, targets, graph: the DuckDB engine's SQL text (stages.py), with Spark's
  spelling of the few placeholders where the dialects differ (SPARK); only the loading of
  links (rowid) is Spark's own.
- ratings: PageRank and the 0–100 scale on the executors (spark_ratings.rate, tested against
  the DuckDB engine's ratings.rate); the driver receives a few sums per iteration and one row
  per registered domain, no edge.
- serve (and reclaim, facts): Spark joins and sorts the rows and the executors write them to
  Parquet under DIR/tmp/spark; DuckDB reads those files in order and writes them with the
  DuckDB engine's writer (snapshot.write_table), so files, row groups and manifest have the
  same layout. The driver holds no row: the serve table holds broken backlinks only, but that
  is a share of all links, which grows with them (SparkEngine.rows).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import count as numbers
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildError, UsageError
from ..extract.run import ArchiveStats, Chunk, Runner, extract_chunk
from .engine import Engine
from .stages import OBSERVATIONS_SQL

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from .inputs import Inputs

__all__ = ["SPARK", "SparkEngine", "runner", "session"]

# Master URLs Spark accepts (its docs, "Master URLs"); anything else fails inside the JVM,
# which prints a Java stack trace.
_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]"
                     r"|spark://\S+|yarn|k8s://\S+")

_LINK_COLUMNS = ("url_from", "time", "url_to", "key_to", "domain_to", "link_type", "redirect",
                 "nofollow", "anchor", "alt", "text_pre", "text_post")


@contextmanager
def session(data: Path, master: str) -> Iterator[SparkSession]:
    """A Spark session on master (`local[2]`, `spark://host:7077`, …), times in UTC."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BuildError("--engine spark needs pyspark: pip install 'linkatlas[spark]' "
                         "(and a Java 17+ runtime)") from None
    if not _MASTER.fullmatch(master):
        raise UsageError(f"--spark-master: not a Spark master URL: {master!r} (local[N], "
                         "local[*], spark://host:port, yarn, k8s://https://host:port)")
    java_home = os.environ.get("JAVA_HOME")
    if not (Path(java_home, "bin", "java").is_file() if java_home else shutil.which("java")):
        where = f"in JAVA_HOME={java_home}" if java_home else "on the PATH"
        raise BuildError(f"--engine spark: Spark needs a Java 17+ runtime; none {where}")
    # Executors run this interpreter (with linkatlas), not whatever `python3` is on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = data / "tmp" / "spark"
    scratch.mkdir(parents=True, exist_ok=True)
    log_config = f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties')}"
    builder = (SparkSession.builder.master(master).appName("linkatlas build")
               .config("spark.driver.extraJavaOptions", log_config)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               # With the UI off, a finished query's plan is of no use, and the driver would
               # keep the last 1,000 (PageRank runs one per iteration).
               .config("spark.sql.ui.retainedExecutions", "20")
               # PageRank checkpoints every iteration (spark_ratings): the files of an
               # iteration no longer referenced go, not only at the end of the build.
               .config("spark.cleaner.referenceTracking.cleanCheckpoints", "true")
               .config("spark.local.dir", str(scratch)))
    if master.startswith("local"):
        # One machine: Spark's 200 shuffle partitions are overhead, and it talks to itself
        # on the loopback address (not the first interface's, as it would by default).
        builder = builder.config("spark.sql.shuffle.partitions", "4")
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - a JVM that fails to start: one clear line
        raise BuildError(f"--engine spark: Spark did not start on {master!r}: "
                         f"{_first_line(exc)}") from None
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        yield spark
    except (PySparkException, Py4JError) as exc:
        raise BuildError(f"build failed on Spark: {_first_line(exc)}") from None
    finally:
        spark.stop()
        shutil.rmtree(scratch / "checkpoints", ignore_errors=True)


def _first_line(exc: Exception) -> str:
    """The line of an error that says what went wrong: for a Java exception raised through
    py4j ("An error occurred while calling o98.count." first), the exception's own line."""
    lines = [line.strip(" :") for line in str(exc).strip().splitlines() if line.strip(" :")]
    cause = next((line for line in lines[1:] if re.match(r"[\w.$]+(Exception|Error)\b", line)),
                 None)
    return (cause or (lines[0] if lines else type(exc).__name__))[:300]


def runner(spark: SparkSession) -> Runner:
    """Extraction with one Spark task per chunk."""
    def run(chunks: list[Chunk]) -> list[ArchiveStats]:
        if not chunks:
            return []
        return spark.sparkContext.parallelize(chunks, len(chunks)).map(extract_chunk).collect()
    return run


def _view(spark: SparkSession, name: str, sql: str, drop: tuple[str, ...] = (),
          stable: bool = False) -> DataFrame:
    """The result of sql (without the columns in drop) as a cached view, computed now (in
    its own stage's time): later stages read it more than once. A stable view is written
    to the checkpoint directory instead: Spark recomputes a lost cached partition, and
    monotonically_increasing_id() would then number its rows anew; and a checkpoint cuts the
    plan, which a view read many times in one query needs."""
    frame = spark.sql(sql).drop(*drop)
    if stable:
        frame = frame.checkpoint()
    else:
        frame = frame.cache()
        frame.count()
    frame.createOrReplaceTempView(name)
    return frame


def load(spark: SparkSession, visits: list[Path], links: list[Path], checks: list[Path]
         ) -> None:
    """stages.load_inputs in Spark: visits and links deduplicated, revisits' links, and
    every observation of a URL."""
    spark.read.parquet(*map(str, visits)).createOrReplaceTempView("visits_read")
    spark.read.parquet(*map(str, links)).createOrReplaceTempView("links_read")
    _view(spark, "visits", """
        SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY url, time ORDER BY archive, `offset`) rn
            FROM visits_read) WHERE rn = 1""", drop=("rn",))
    columns = ", ".join(_LINK_COLUMNS)
    repeated = ", ".join("r.time AS time" if name == "time" else f"l.{name}"
                         for name in _LINK_COLUMNS)
    # The row number stands for DuckDB's rowid: serve fetches snippets by it.
    _view(spark, "links", f"""
        WITH kept AS (
            SELECT l.* FROM links_read l LEFT SEMI JOIN visits v
              ON v.url = l.url_from AND v.time = l.time AND v.archive = l.archive
             AND v.`offset` = l.`offset`),
        sources AS (  -- the capture each revisit repeats (see stages.load_inputs)
            SELECT r.url, r.time, max(s.time) AS source_time
            FROM visits r JOIN visits s
              ON s.url = r.url AND s.kind IN ('page', 'redirect')
             AND s.time <= coalesce(r.refers_to, r.time)
            WHERE r.kind = 'revisit' GROUP BY r.url, r.time),
        every AS (
            SELECT {columns} FROM kept
            UNION ALL
            SELECT {repeated}
            FROM sources r JOIN kept l ON l.url_from = r.url AND l.time = r.source_time)
        SELECT *, monotonically_increasing_id() AS rowid FROM every""", stable=True)
    if checks:
        (spark.read.schema("url STRING, time STRING, http_code INT, error STRING, "
                           "location STRING")
         .option("mode", "PERMISSIVE").json([str(p) for p in checks])
         .createOrReplaceTempView("checks_read"))
    else:
        spark.sql("SELECT CAST(NULL AS STRING) AS url, CAST(NULL AS STRING) AS time, "
                  "CAST(NULL AS INT) AS http_code, CAST(NULL AS STRING) AS error, "
                  "CAST(NULL AS STRING) AS location").createOrReplaceTempView("checks_read")
    _view(spark, "observations", OBSERVATIONS_SQL)


# Spark's spelling of the placeholders in the shared SQL (stages.DUCKDB has DuckDB's).
SPARK = {"newest": "struct(time, http_code)", "newest_o": "struct(o.time, o.http_code)",
         "latest_times": "sort_array(collect_list(time), false)",
         "second_time": "try_element_at(e.times, 2)", "no_time": "CAST(NULL AS TIMESTAMP)",
         "inlined": "",  # (Spark never materializes a CTE)
         # the column kinds' types (columns.Kind): no VARCHAR without a length; times as the
         # table holds them, UTC without a zone
         "string_type": "STRING", "int_type": "BIGINT", "date_type": "TIMESTAMP_NTZ",
         "boolean_type": "BOOLEAN"}


def _utc_naive(frame: DataFrame) -> DataFrame:
    """Spark's TIMESTAMP is an instant (Arrow: with a time zone); tables hold UTC times
    without one, as the DuckDB engine writes them."""
    from pyspark.sql.functions import col

    return frame.select(*[col(field.name).cast("timestamp_ntz").alias(field.name)
                          if field.dataType.typeName() == "timestamp" else col(field.name)
                          for field in frame.schema.fields])


class SparkEngine(Engine):
    """The build's tables are Spark views (cached, or checkpointed when stable); the
    snapshot's files are written by the DuckDB engine's writers from Arrow (`rows`)."""

    name = "spark"

    @property
    def dialect(self) -> Mapping[str, str]:
        return SPARK

    def __init__(self, spark: SparkSession, data: Path, memory_limit: str,
                 threads: int | None) -> None:
        super().__init__(data, memory_limit, threads)
        self.spark = spark
        self._names = numbers()

    def runner(self) -> Runner:
        return runner(self.spark)

    def load(self, inputs: Inputs) -> None:
        load(self.spark, inputs.visits, inputs.links, inputs.checks)

    def table(self, name: str, sql: str, stable: bool = False) -> None:
        _view(self.spark, name, sql.format(**self.dialect), stable=stable)

    def ratings(self, ranks: Path | None) -> None:
        """PageRank and the 0–100 scale on the executors (spark_ratings.rate): no edge or
        page row reaches the driver; the per-domain table is rated with the DuckDB engine's
        own functions."""
        from .spark_ratings import rate

        rate(self.spark, self.con, ranks)

    @contextmanager
    def rows(self, sql: str) -> Iterator[str]:
        """Computed (and sorted) by Spark, written by the executors to Parquet under
        DIR/tmp/spark, read back by DuckDB file by file in Spark's order: the driver's memory
        does not grow with the rows (the serve table's broken backlinks, the facts' live
        ones: a share of all links, 10⁹ and more for a monthly crawl). A sorted query's
        partitions are its ranges in order, and Spark names each file by its partition."""
        name = f"spark_rows_{next(self._names)}"
        folder = self.data / "tmp" / "spark" / name
        frame = _utc_naive(self.spark.sql(sql))
        frame.write.mode("overwrite").parquet(str(folder))
        files = sorted(str(p) for p in folder.glob("part-*.parquet"))
        listed = ", ".join("'" + file.replace("'", "''") + "'" for file in files)
        if not files:  # no rows and no file: the columns alone, through Arrow
            self.con.register(name, frame.limit(0).toArrow())
        try:
            yield f"SELECT * FROM read_parquet([{listed}])" if files else f"SELECT * FROM {name}"
        finally:
            if not files:
                self.con.unregister(name)
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def every_target(self) -> Iterator[None]:
        from .changes import every_target_sql

        decided = self.spark.table("targets")
        decided.createOrReplaceTempView("targets_decided")
        self.spark.sql(every_target_sql(decided.columns)).createOrReplaceTempView("targets")
        try:
            yield
        finally:
            decided.createOrReplaceTempView("targets")

    def count(self, sql: str) -> int:
        rows = self.spark.sql(sql).collect()
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

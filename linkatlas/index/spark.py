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
- ratings: the graph's edges are collected to the driver and rated by the same PageRank
  (ratings.rate); its memory is ≈ 8 bytes per edge.
- serve: Spark joins and sorts the broken backlinks; the driver writes them with the DuckDB
  engine's writer (snapshot.write_table), so files, row groups and manifest have the same
  layout. The serve table holds broken backlinks only, a small share of all links.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import snapshot
from ..errors import BuildError, UsageError
from ..extract.run import ArchiveStats, Chunk, Runner, extract_chunk
from .stages import (
    DEAD_PAGES_SQL,
    GRAPH_SQL,
    HOPS_SQL,
    LIVE_SQL,
    OBSERVATIONS_SQL,
    PAGES_SQL,
    SERVE_SQL,
    TARGETS_SQL,
)

if TYPE_CHECKING:
    import duckdb
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["count", "runner", "session", "stages"]

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
         # the column kinds' types (columns.Kind): no VARCHAR without a length; times as the
         # table holds them, UTC without a zone
         "string_type": "STRING", "int_type": "BIGINT", "date_type": "TIMESTAMP_NTZ",
         "boolean_type": "BOOLEAN"}


def history(spark: SparkSession) -> None:
    """stages.history in Spark: pages, dead pages and live links."""
    _view(spark, "pages", PAGES_SQL)
    _view(spark, "dead_pages", DEAD_PAGES_SQL.format(**SPARK))
    _view(spark, "live", LIVE_SQL.format(**SPARK))


def targets(spark: SparkSession) -> None:
    """stages.targets in Spark: each URL's newest decided observation, followed along
    redirect chains."""
    # Checkpointed: the targets query joins hops 11 times, and a cached view would carry its
    # whole plan into each (the plan's text alone then fills the driver's heap).
    _view(spark, "hops", HOPS_SQL.format(**SPARK), stable=True)
    _view(spark, "targets", TARGETS_SQL, stable=True)


def graph(spark: SparkSession) -> None:
    _view(spark, "graph_links", GRAPH_SQL)


def ratings(spark: SparkSession, con: duckdb.DuckDBPyConnection, ranks: Path | None = None
            ) -> None:
    """The same PageRank as the DuckDB engine, on the driver, over the graph's edges."""
    from .ratings import rate

    con.register("graph_arrow", spark.table("graph_links").toArrow())
    con.execute("CREATE OR REPLACE TABLE graph_links AS SELECT * FROM graph_arrow")
    con.unregister("graph_arrow")
    rate(con, ranks)
    for table in ("url_rating", "domain_rating"):
        spark.createDataFrame(con.sql(f"SELECT * FROM {table}").to_arrow_table()
                              ).createOrReplaceTempView(table)


def _utc_naive(frame: DataFrame) -> DataFrame:
    """Spark's TIMESTAMP is an instant (Arrow: with a time zone); tables hold UTC times
    without one, as the DuckDB engine writes them."""
    from pyspark.sql.functions import col

    return frame.select(*[col(field.name).cast("timestamp_ntz").alias(field.name)
                          if field.dataType.typeName() == "timestamp" else col(field.name)
                          for field in frame.schema.fields])


def serve(spark: SparkSession, con: duckdb.DuckDBPyConnection, staging: Path
          ) -> list[dict[str, object]]:
    """The serve query on Spark (sorted there), written by the DuckDB engine's writer."""
    con.register("serve_arrow", _utc_naive(spark.sql(SERVE_SQL.format(**SPARK))).toArrow())
    try:
        return snapshot.write_table(con, "SELECT * FROM serve_arrow", staging)
    finally:
        con.unregister("serve_arrow")


def reclaim(spark: SparkSession, con: duckdb.DuckDBPyConnection, staging: Path) -> None:
    """The reclaim facts (index/reclaim.py) on Spark, written by the DuckDB engine's writer."""
    from .reclaim import RECLAIM_SQL, write

    con.register("reclaim_arrow", spark.sql(RECLAIM_SQL).toArrow())
    try:
        write(con, "SELECT * FROM reclaim_arrow", staging)
    finally:
        con.unregister("reclaim_arrow")


def facts(spark: SparkSession, con: duckdb.DuckDBPyConnection, staging: Path) -> None:
    """The change facts (changes.write_facts: the same SQL) on Spark, written by DuckDB."""
    from itertools import count as numbers

    from .changes import every_target_sql, write_facts

    names = numbers()

    def source(sql: str) -> str:
        name = f"facts_{next(names)}"
        con.register(name, _utc_naive(spark.sql(sql)).toArrow())
        return f"SELECT * FROM {name}"

    @contextmanager
    def every_target() -> Iterator[None]:
        decided = spark.table("targets")
        decided.createOrReplaceTempView("targets_decided")
        spark.sql(every_target_sql(decided.columns)).createOrReplaceTempView("targets")
        try:
            yield
        finally:
            decided.createOrReplaceTempView("targets")

    write_facts(con, staging, source, every_target, SPARK)


def count(spark: SparkSession) -> Callable[[str], int]:
    """The report's counting queries, answered by Spark."""
    def one(sql: str) -> int:
        rows = spark.sql(sql).collect()
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0
    return one


def stages(spark: SparkSession, con: duckdb.DuckDBPyConnection, staging: Path,
           inputs: Any) -> list[tuple[str, Callable[[], Any]]]:
    """(name, run) of each stage after extraction, in order; serve returns the files."""
    return [
        ("load", lambda: load(spark, inputs.visits, inputs.links, inputs.checks)),
        ("history", lambda: history(spark)),
        ("targets", lambda: targets(spark)),
        ("graph", lambda: graph(spark)),
        ("ratings", lambda: ratings(spark, con, inputs.ranks)),
        ("serve", lambda: serve(spark, con, staging)),
        ("reclaim", lambda: reclaim(spark, con, staging)),
        ("facts", lambda: facts(spark, con, staging)),
    ]

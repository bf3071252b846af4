"""The Spark engine's ratings stage: PageRank distributed over DataFrames, and the 0–100 scale,
without an edge or a page's row ever reaching the driver.

PageRank has the definition of ratings.pagerank (a repeated (from, to) pair counts once,
self-links are dropped, a node without out-links spreads its score over all nodes, damping
0.85, stop when one iteration's L1 change is below 1e-6 or after 100 iterations), computed by
joins: each iteration sends every node's score along its out-edges and sums it at the targets.
The page graph and the domain graph iterate together (each graph stopping at its own
convergence). The edges are hash-partitioned by source and the scores by node, so an iteration
shuffles once (the sums by target); the driver receives four numbers per iteration (per graph
the L1 change and the dangling nodes' mass). An iteration is two jobs: one computes the new
scores into the executors' cache and those sums, the other checkpoints them from the cache.

The checkpoint is every iteration's, so each iteration plans the same query over a leaf. An
iteration reads the scores before it twice (to send them, and to compare), and Spark plans a
query as a tree: with the scores cached but not checkpointed, the plan doubled with every
iteration (measured: 5,000 to 125,000 characters over 5 iterations, each iteration slower than
the one before, on the tests' graph), and a `local[2]` driver's 1 GB heap ran out (`Task
serialization failed: OutOfMemoryError`, issue 15). A lost executor costs one iteration of its
partitions. Spark's runtime bloom filters are off during the iterations: every node has a
score, so they filter nothing, and each is one more job and a 1 MB array per task.

The scale (docs/ratings.md):
- domains: a table of one row per registered domain (score, referring domains, referring
  pages) is collected, and ratings.scale_and_rank and ratings.store_domains rate it exactly as
  the DuckDB engine does (imported ranks included); domains are far fewer than links.
- pages: scale.log_scale as a column expression (the driver receives the weakest and the
  strongest linked score, and one row per rating 1..100); ratings.step_down needs the order
  only within a tie group, and a page's rating differs from log_scale's only in the weakest
  tie group of its rating (the next group below has a lower rating) or at 100, so those
  pages alone go through a window partitioned by rating.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .ratings import DAMPING, MAX_ITER, TOL, scale_and_rank, store_domains
from .scale import TIE

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["links", "log_scale", "nodes", "pagerank", "pageranks", "rate"]

def nodes(spark: SparkSession, edges: str, a: str, b: str) -> DataFrame:
    """nodes(name, id): every name in either column, with a stable id."""
    from pyspark.sql.functions import monotonically_increasing_id

    names = spark.sql(f"""
        SELECT name FROM (SELECT {a} AS name FROM {edges} UNION SELECT {b} FROM {edges})
        WHERE name IS NOT NULL""")
    # Checkpointed: a recomputed partition would number its rows anew.
    return names.withColumn("id", monotonically_increasing_id()).checkpoint()


def links(spark: SparkSession, edges: str, a: str, b: str, nodes: DataFrame) -> DataFrame:
    """links(src, dst, w): distinct pairs of distinct nodes, w = 1 / out-degree of src."""
    nodes.createOrReplaceTempView("_pr_nodes")
    return spark.sql(f"""
        WITH pairs AS (
            SELECT DISTINCT f.id AS src, t.id AS dst
            FROM {edges} g JOIN _pr_nodes f ON f.name = g.{a} JOIN _pr_nodes t ON t.name = g.{b}
            WHERE f.id <> t.id)
        SELECT src, dst, 1.0D / count(*) OVER (PARTITION BY src) AS w FROM pairs""").checkpoint()


@contextmanager
def _settings(spark: SparkSession, **settings: str) -> Iterator[None]:
    """Session settings for the iterations, restored after."""
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, old in before.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def pagerank(spark: SparkSession, nodes: DataFrame, links: DataFrame, *,
             damping: float = DAMPING, tol: float = TOL, max_iter: int = MAX_ITER
             ) -> tuple[DataFrame, int]:
    """Scores of nodes(id) over links(src, dst, w) as (id, score), summing to 1, and the
    iterations run."""
    (scores,), (iterations,) = pageranks(spark, [(nodes, links)], damping=damping, tol=tol,
                                         max_iter=max_iter)
    return scores, iterations


def pageranks(spark: SparkSession, graphs: list[tuple[DataFrame, DataFrame]], *,
              damping: float = DAMPING, tol: float = TOL, max_iter: int = MAX_ITER
              ) -> tuple[list[DataFrame], list[int]]:
    """pagerank of several graphs (nodes, links) at once: per graph (id, score), summing to
    1, and its iterations."""
    from pyspark.sql.functions import col, lit

    partitions = int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
    # No broadcast (it goes through the driver), no adaptive coalescing (it would undo the
    # partitioning the joins share, adding a shuffle per iteration) and no runtime filters
    # (module docstring).
    with _settings(spark, **{"spark.sql.autoBroadcastJoinThreshold": "-1",
                             "spark.sql.adaptive.enabled": "false",
                             "spark.sql.optimizer.runtime.bloomFilter.enabled": "false"}):
        edges = _union([e.select(lit(g).alias("g"), "src", "dst", "w")
                        for g, (_, e) in enumerate(graphs)])
        vertices = _union([v.select(lit(g).alias("g"), "id") for g, (v, _) in enumerate(graphs)])
        edges = edges.repartition(partitions, "g", "src").cache()
        sizes: dict[int, int] = dict(vertices.groupBy("g").count().collect())
        n = [int(sizes.get(g, 0)) for g in range(len(graphs))]
        senders = edges.select("g", col("src").alias("id")).distinct().withColumn(
            "sends", lit(True))
        state = (vertices.join(senders, ["g", "id"], "left")
                 .select("g", "id", col("sends").isNull().alias("dangling"),
                         _per_graph([1.0 / max(k, 1) for k in n]).alias("x"))
                 .repartition(partitions, "g", "id")).checkpoint()
        ran = _iterate(state, edges, n, damping, tol, max_iter)
        edges.unpersist()
    state, iterations = ran
    totals: dict[int, float] = dict(state.groupBy("g").agg({"x": "sum"}).collect())
    return [state.where(col("g") == g).select(
                "id", (col("x") / lit(float(totals.get(g) or 1.0))).alias("score"))
            for g in range(len(graphs))], iterations


def _iterate(state: DataFrame, edges: DataFrame, n: list[int], damping: float, tol: float,
             max_iter: int) -> tuple[DataFrame, list[int]]:
    """Power iterations until every graph's L1 change is below tol; a graph that has
    converged keeps its scores while the others go on."""
    from pyspark.sql.functions import abs as abs_
    from pyspark.sql.functions import coalesce, col, lit, when
    from pyspark.sql.functions import sum as sum_

    graphs = range(len(n))
    lost = _sums(state.groupBy("g").agg(sum_(when(col("dangling"), col("x"))).alias("lost")))
    iterations = [0] * len(n)
    done = [k == 0 for k in n]
    rounds = 0
    while not all(done) and rounds < max_iter:
        rounds += 1
        for g in graphs:
            iterations[g] += not done[g]
        # Hash joins: both sides are partitioned alike already, and a sort-merge join would
        # sort every edge again in each iteration.
        sent = (edges.join(state.select("g", col("id").alias("src"), "x").hint("shuffle_hash"),
                           ["g", "src"])
                .groupBy("g", col("dst").alias("id")).agg(sum_(col("x") * col("w")).alias("s")))
        base = _per_graph([(1.0 - damping + damping * lost.get(g, 0.0)) / max(n[g], 1)
                           for g in graphs])
        moving = ~col("g").isin([g for g in graphs if done[g]] or [-1])
        scores = (state.join(sent.hint("shuffle_hash"), ["g", "id"], "left")
                  .select("g", "id", "dangling",
                          when(moving, lit(damping) * coalesce(col("s"), lit(0.0)) + base)
                          .otherwise(col("x")).alias("x"),
                          col("x").alias("before")).cache())
        # One job computes the new scores (kept in the executors' cache) and these sums.
        rows = scores.groupBy("g").agg(
            sum_(abs_(col("x") - col("before"))).alias("change"),
            sum_(when(col("dangling"), col("x"))).alias("lost")).collect()
        change = {int(r["g"]): float(r["change"] or 0.0) for r in rows}
        lost = {int(r["g"]): float(r["lost"] or 0.0) for r in rows}
        # Written from the cache (no recomputation), then the cache is of no more use: the
        # next iteration's plan starts at the checkpoint (module docstring).
        state = scores.drop("before").checkpoint()
        scores.unpersist()
        done = [done[g] or change.get(g, 0.0) < tol for g in graphs]
    return state, iterations


def _per_graph(values: list[float]) -> Column:
    """A column holding values[g] on graph g's rows."""
    from pyspark.sql.functions import col, lit, when

    column = lit(values[-1])
    for g, value in enumerate(values[:-1]):
        column = when(col("g") == g, lit(value)).otherwise(column)
    return column


def _sums(frame: DataFrame) -> dict[int, float]:
    return {int(row[0]): float(row[1] or 0.0) for row in frame.collect()}


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def log_scale(score: Column, low: float, high: float) -> Column:
    """scale.log_scale as a column: `low` is 1, `high` (and scores tied with it) 100, the
    rest 1..99 on the log scale, rounded to nearest (tests/test_spark_ratings.py holds the
    two equal)."""
    from pyspark.sql.functions import floor, greatest, least, lit, log, when

    if not high * (1.0 - TIE) > low > 0:
        return lit(100)
    scaled = lit(1.0) + lit(99.0) * log(score / lit(low)) / lit(math.log(high / low))
    return when(score >= lit(high * (1.0 - TIE)), lit(100)).otherwise(
        least(lit(99), greatest(lit(1), floor(scaled + lit(0.5)))).cast("int"))


def _page_ratings(spark: SparkSession, names: DataFrame, scores: DataFrame,
                  indegree: DataFrame) -> DataFrame:
    """url_rating(key, ahrefs_rank) as ratings.to_scale rates pages (docs/ratings.md)."""
    from pyspark.sql.functions import broadcast, coalesce, col, lit, when
    from pyspark.sql.functions import max as max_
    from pyspark.sql.functions import min as min_

    pages = (names.join(scores, "id").join(indegree, "id", "left")
             .select(col("name").alias("key"), "score",
                     coalesce(col("support"), lit(0)).alias("support")))
    linked = pages.where(col("support") > 0)
    low, high = linked.agg(min_("score"), max_("score")).first() or (None, None)
    if low is None or high is None:
        return pages.select("key", lit(0).alias("ahrefs_rank"))
    based = pages.withColumn("base", when(col("support") > 0, log_scale(
        col("score"), float(low), float(high))).otherwise(lit(0))).cache()
    # One row per rating: its weakest score, and the next lower rating (0: none).
    ladder = sorted(tuple(r) for r in based.where(col("base") > 0).groupBy("base")
                    .agg(min_("score").alias("weakest")).collect())
    steps = spark.createDataFrame(
        [(int(b), float(w), int(ladder[i - 1][0]) if i else 0)
         for i, (b, w) in enumerate(ladder)], "base INT, weakest DOUBLE, below INT")
    # The weakest tie group of each rating (and all of 100): ratings.step_down in SQL, for
    # one group ordered by support, then key.
    tied = (based.join(broadcast(steps), "base")
            .where((col("score") <= col("weakest") / lit(1.0 - TIE)) | (col("base") == 100)))
    tied.createOrReplaceTempView("_pr_tied")
    stepped = spark.sql("""
        SELECT key, CASE WHEN base = 100 AND first = 1 THEN 100
                         ELSE least(99, base, greatest(base - k, below + 1)) END AS rated
        FROM (SELECT key, base, below,
                     dense_rank() OVER (PARTITION BY base ORDER BY support DESC) - 1 AS k,
                     row_number() OVER (PARTITION BY base ORDER BY support DESC, key) AS first
              FROM _pr_tied)""")
    rated = (based.join(stepped, "key", "left")
             .select("key", coalesce(col("rated"), col("base")).cast("int")
                     .alias("ahrefs_rank")))
    return rated


def _domain_table(spark: SparkSession, names: DataFrame, scores: DataFrame,
                  indegree: DataFrame) -> pa.Table:
    """The per-domain table the scale needs, collected as Arrow (domains in name order):
    name, score, referring domains (support), referring pages."""
    from pyspark.sql.functions import coalesce, col, lit

    referring_pages = spark.sql("""
        SELECT domain_to AS name, count(DISTINCT key_from) AS pages FROM graph_links
        WHERE domain_from <> domain_to GROUP BY domain_to""")
    return (names.join(scores, "id").join(indegree, "id", "left")
            .join(referring_pages, "name", "left")
            .select("name", "score", coalesce(col("support"), lit(0)).alias("support"),
                    coalesce(col("pages"), lit(0)).alias("pages"))
            .orderBy("name").toArrow())


def rate(spark: SparkSession, con: duckdb.DuckDBPyConnection, ranks: Path | None = None, *,
         max_iter: int = MAX_ITER) -> list[int]:
    """Views url_rating(key, ahrefs_rank) and domain_rating(domain, domain_rating,
    ahrefs_top, imported) from the view graph_links, as ratings.rate makes the tables;
    returns the iterations of the page and the domain graph (max_iter: for benchmarks)."""
    import numpy as np
    import pyarrow as pa

    graphs = []
    for a, b in (("key_from", "key_to"), ("domain_from", "domain_to")):
        named = nodes(spark, "graph_links", a, b)
        graphs.append((named, links(spark, "graph_links", a, b, named)))
    (page_scores, domain_scores), iterations = pageranks(spark, graphs, max_iter=max_iter)
    page_ratings = _page_ratings(spark, graphs[0][0], page_scores, _indegree(graphs[0][1]))
    page_ratings.createOrReplaceTempView("url_rating")
    page_ratings.cache().count()  # in this stage's time, as the other stages' tables
    domains = _domain_table(spark, graphs[1][0], domain_scores, _indegree(graphs[1][1]))
    rating, top = scale_and_rank(*[np.asarray(domains.column(name).to_numpy(), dtype=kind)
                                   for name, kind in (("score", np.float64),
                                                      ("support", np.int64),
                                                      ("pages", np.int64))])
    con.register("_spark_rated_domains", pa.table(
        {"domain": domains.column("name"), "domain_rating": rating, "ahrefs_top": top}))
    del domains
    try:
        store_domains(con, "_spark_rated_domains", ranks)
    finally:
        con.unregister("_spark_rated_domains")
    spark.createDataFrame(con.sql("SELECT * FROM domain_rating").to_arrow_table()
                          ).createOrReplaceTempView("domain_rating")
    return iterations


def _indegree(links: DataFrame) -> DataFrame:
    """(id, support): how many other nodes link to each node."""
    return links.groupBy(links["dst"].alias("id")).count().withColumnRenamed("count", "support")

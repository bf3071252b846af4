"""PageRank distributed over Spark DataFrames: ratings.pagerank's scores without the edges
ever reaching the driver.

The same definition as ratings.pagerank (a repeated (from, to) pair counts once, self-links
are dropped, a node without out-links spreads its score over all nodes, damping 0.85, stop
when one iteration's L1 change is below 1e-6 or after 100 iterations), computed by joins:
each iteration sends every node's score along its out-edges and sums it at the targets. The
edges never reach the driver; it receives two numbers per iteration (the L1 change and the
dangling nodes' mass). Each iteration's scores are cached in the executors and checkpointed
every CHECKPOINT_EVERY iterations, so the plan and the lineage stay a few iterations long.

Not yet the build's ratings stage: the 0–100 scale and `ahrefs_top` (ratings.to_scale and
ratings.order: tie groups by support, imported ranks) are one global ordered pass over the
nodes, which spark.ratings still runs on the driver over the collected edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .ratings import DAMPING, MAX_ITER, TOL

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["links", "nodes", "pagerank"]

# Iterations between checkpoints: a checkpoint is one more job per iteration, while a cached
# lineage of a few iterations costs nothing; an executor lost in between recomputes at most
# this many iterations of its partitions.
CHECKPOINT_EVERY = 5


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


def pagerank(spark: SparkSession, nodes: DataFrame, links: DataFrame, *,
             damping: float = DAMPING, tol: float = TOL, max_iter: int = MAX_ITER
             ) -> tuple[DataFrame, int]:
    """Scores of nodes(id) over links(src, dst, w) as (id, score), summing to 1, and the
    iterations run."""
    from pyspark.sql.functions import abs as abs_
    from pyspark.sql.functions import coalesce, col, lit, when
    from pyspark.sql.functions import sum as sum_

    n = nodes.count()
    if n == 0:
        return nodes.select("id", lit(0.0).alias("score")), 0
    senders = links.select(col("src").alias("id")).distinct().withColumn("sends", lit(True))
    state = (nodes.join(senders, "id", "left")
             .select("id", col("sends").isNull().alias("dangling"),
                     lit(1.0 / n).alias("x"))).checkpoint()
    lost = _dangling_mass(state)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        sent = (links.join(state.select(col("id").alias("src"), "x"), "src")
                .groupBy(col("dst").alias("id")).agg(sum_(col("x") * col("w")).alias("s")))
        base = (1.0 - damping + damping * lost) / n
        scores = (state.join(sent, "id", "left")
                  .select("id", "dangling", (lit(damping) * coalesce(col("s"), lit(0.0))
                                             + lit(base)).alias("x"),
                          col("x").alias("before")).cache())
        # One job computes the new scores (kept in the executors' cache) and these two sums.
        row = scores.agg(sum_(abs_(col("x") - col("before"))),
                         sum_(when(col("dangling"), col("x")))).first()
        assert row is not None  # an aggregate always has one row
        change, lost = float(row[0] or 0.0), float(row[1] or 0.0)
        previous, state = state, scores.drop("before")
        if iterations % CHECKPOINT_EVERY == 0:
            state = state.checkpoint()  # from the cache: lineage and plan cut short
        previous.unpersist()
        if change < tol:
            break
    total = float(_scalar(state.agg(sum_("x"))))
    return state.select("id", (col("x") / lit(total)).alias("score")), iterations


def _dangling_mass(state: DataFrame) -> float:
    from pyspark.sql.functions import col, when
    from pyspark.sql.functions import sum as sum_

    value = _scalar(state.agg(sum_(when(col("dangling"), col("x")))))
    return float(value or 0.0)


def _scalar(aggregate: DataFrame) -> Any:
    """The one value of a one-row aggregate (an aggregate without GROUP BY always has a row)."""
    row = aggregate.first()
    assert row is not None
    return row[0]

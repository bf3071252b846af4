"""PageRank distributed on Spark (spark_ratings.py) against the SciPy PageRank (ratings.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from linkatlas.index import ratings, spark_ratings
from linkatlas.index.spark import session

pytest.importorskip("pyspark")


def _graph(seed: int = 7, pages: int = 1500, links: int = 6000) -> list[tuple[str, ...]]:
    """graph_links rows: a skewed web (a few pages draw most links), with repeated links,
    self-links, pages without out-links and pages no one links to."""
    rng = np.random.default_rng(seed)
    weight = 1.0 / np.arange(1, pages + 1) ** 1.1
    src = rng.integers(0, pages, links)
    dst = rng.choice(pages, links, p=weight / weight.sum())
    src[:50], dst[:50] = dst[:50], dst[:50]  # self-links
    rows = [(f"k{a}", f"k{b}", f"d{a % 97}.test", f"d{b % 97}.test") for a, b in zip(
        src.tolist(), dst.tolist(), strict=True)]
    return rows + rows[:300]  # a link seen twice counts once


def test_spark_pagerank_orders_nodes_as_scipy(tmp_path: Path) -> None:
    rows = _graph(seed=11)
    names = sorted({r[0] for r in rows} | {r[1] for r in rows})
    ids = {name: i for i, name in enumerate(names)}
    src = np.array([ids[r[0]] for r in rows])
    dst = np.array([ids[r[1]] for r in rows])
    expected = ratings.pagerank(src, dst, len(names))
    with session(tmp_path, "local[2]") as spark:
        nodes = spark.createDataFrame([(n, i) for n, i in ids.items()], "name STRING, id LONG")
        spark.createDataFrame(rows, "key_from STRING, key_to STRING, domain_from STRING, "
                              "domain_to STRING").createOrReplaceTempView("g")
        links = spark_ratings.links(spark, "g", "key_from", "key_to", nodes)
        scores, iterations = spark_ratings.pagerank(spark, nodes, links)
        got = dict(scores.collect())
    ours = np.array([got[i] for i in range(len(names))])
    assert 5 < iterations < ratings.MAX_ITER
    assert ours.sum() == pytest.approx(1.0)
    assert spearmanr(ours, expected).statistic >= 0.999
    assert np.abs(ours - expected).max() < 1e-5

"""The Spark engine's ratings stage (linkatlas/index/spark_ratings.py): driver memory as edges
grow.

    nice .venv/bin/python bench/spark_pagerank.py [--edges 1e6 1e7 5e7] [--iterations 3]

Starts a standalone cluster on 127.0.0.1 (a master and two workers of one core each, the
tests' tests/spark_cluster.py) and, for each size, a driver (its own process, 512 MB heap)
that writes a synthetic graph_links table of E links over E/10 pages on E/500 domains, with
skewed in-degrees, to Parquet, then runs the build's ratings stage (spark_ratings.rate: the
page and the domain PageRank for at most --iterations iterations, memory does not depend on
how many, the tests check convergence; the page scale on the executors; the per-domain table
collected and rated) and prints: seconds, and the driver's peak memory: the JVM's peak RSS
(VmHWM) and peak used heap (sampled every 50 ms), and the Python process's peak RSS.
Executors do the work; a driver that collected the edges would need ≥ 8 bytes per edge
(400 MB at 50M).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _driver(edges: int, iterations: int, folder: str) -> dict[str, float]:
    """One size, run in this (driver) process on the cluster in $BENCH_MASTER, in the
    build's own session (its settings; checkpoints under the run's folder)."""
    sys.path.insert(0, str(ROOT))
    from linkatlas.index.spark import session

    with session(Path(folder), os.environ["BENCH_MASTER"]) as spark:
        return _measure(spark, edges, iterations, folder)


def _measure(spark: Any, edges: int, iterations: int, folder: str) -> dict[str, float]:
    import threading

    import duckdb
    from pyspark.sql.functions import col, lit, pmod, xxhash64

    from linkatlas.index import spark_ratings

    jvm_pid = int(spark.sparkContext._jvm.ProcessHandle.current().pid())
    heap = [0.0]
    live = [0.0]
    stop = threading.Event()
    runtime = spark.sparkContext._jvm.java.lang.Runtime.getRuntime()

    factory = spark.sparkContext._jvm.java.lang.management.ManagementFactory
    pools = [pool for pool in factory.getMemoryPoolMXBeans()
             if pool.getType().toString() == "Heap memory"]

    def sample() -> None:
        # used: garbage included (the JVM collects when the heap fills, so its peak says
        # little); live: what each heap pool held after its last collection, the sum's peak
        while not stop.wait(0.05):
            heap[0] = max(heap[0], runtime.totalMemory() - runtime.freeMemory())
            after = [pool.getCollectionUsage() for pool in pools]
            live[0] = max(live[0], sum(u.getUsed() for u in after if u is not None))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    pages = max(edges // 10, 10)
    domains = max(edges // 500, 2)
    generated = time.perf_counter()
    # Skewed targets: a page's in-degree falls with its number (x² of a uniform x).
    (spark.range(edges)
     .select(pmod(xxhash64(col("id"), lit(1)), lit(pages)).alias("src"),
             (((pmod(xxhash64(col("id"), lit(2)), lit(1 << 30)) / lit(1 << 30)) ** 2)
              * lit(pages)).cast("long").alias("dst"))
     .selectExpr("concat('p', src) AS key_from", "concat('p', dst) AS key_to",
                 f"concat('d', src % {domains}, '.test') AS domain_from",
                 f"concat('d', dst % {domains}, '.test') AS domain_to")
     .write.mode("overwrite").parquet(f"{folder}/edges"))
    spark.read.parquet(f"{folder}/edges").createOrReplaceTempView("graph_links")
    started = time.perf_counter()
    ran = spark_ratings.rate(spark, duckdb.connect(), max_iter=iterations)
    done = time.perf_counter()
    stop.set()
    sampler.join()
    status = Path(f"/proc/{jvm_pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    import resource

    result = {"edges": edges, "pages": pages, "domains": domains, "iterations": ran,
              "generate_s": round(started - generated, 1),
              "ratings_s": round(done - started, 1),
              "driver_jvm_peak_rss_mb": round(hwm / 1024),
              "driver_jvm_peak_heap_mb": round(heap[0] / 2**20),
              "driver_jvm_peak_live_heap_mb": round(live[0] / 2**20),
              "driver_python_peak_rss_mb": round(
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", type=float, nargs="+", default=[1e6, 1e7, 5e7])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--driver-memory", default="512m", help="the driver JVM's heap")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        print(json.dumps(_driver(int(args.edges[0]), args.iterations, os.environ["BENCH_DIR"])))
        return
    sys.path.insert(0, str(ROOT))
    from tests.spark_cluster import spark_cluster

    cluster_fixture = spark_cluster._get_wrapped_function()()  # the tests' own cluster
    cluster = next(cluster_fixture)
    conf = cluster.conf_dir / "spark-defaults.conf"
    conf.write_text(re.sub(r"spark.driver.memory \S+", "spark.driver.memory "
                           + args.driver_memory, conf.read_text())
                    .replace("spark.sql.shuffle.partitions 4", "spark.sql.shuffle.partitions 16")
                    .replace("spark.executor.memory 512m", "spark.executor.memory 900m"))
    try:
        for edges in args.edges:
            with tempfile.TemporaryDirectory(prefix="bench-pagerank-") as folder:
                env = {**cluster.env(), "BENCH_MASTER": cluster.master, "BENCH_DIR": folder}
                out = subprocess.run([sys.executable, __file__, "--driver", "--edges",
                                      str(edges), "--iterations", str(args.iterations)],
                                     env=env, capture_output=True, text=True, check=False)
                lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
                print(lines[-1] if lines else out.stderr[-3000:], flush=True)
    finally:
        for _ in cluster_fixture:
            pass


if __name__ == "__main__":
    main()

"""Bench: our scipy PageRank (linkatlas.index.ratings) against networkit's PageRank.

Run:  .venv/bin/python bench/rank.py            (needs `pip install networkit`)

On a generated power-law graph (default 1.5M nodes, >= 10M distinct edges) it prints, as medians
over repeats: time per iteration, graph construction, construction + full run, iterations,
Spearman correlation of the scores, and peak memory of our side. Not part of the test run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linkatlas.index.ratings import _iterate, _transition  # noqa: E402

DAMPING = 0.85
TOL = 1e-6
MAX_ITER = 100


def _pack(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    return (dst.astype(np.uint64) << np.uint64(32)) | src.astype(np.uint64)


def generate(
    nodes: int, edges: int, seed: int, crawled: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct, loop-free edges with power-law in- and out-degrees, ids shuffled.

    Endpoints are drawn as floor(n * u**k): k = 3 for targets gives a Zipf-like in-degree
    (a few hubs take most links, as on the web), k = 1.5 gives a milder skew for sources.
    Sources come from a `crawled` share of the nodes only, as in an index where most link
    targets were never crawled: the rest are dangling, which exercises the redistribution.
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(nodes).astype(np.int32)
    want = edges
    src = np.empty(0, dtype=np.int32)
    dst = np.empty(0, dtype=np.int32)
    while src.size < edges:
        draw = int(want * 1.15)
        s = perm[(int(nodes * crawled) * rng.random(draw) ** 1.5).astype(np.int32)]
        d = perm[(nodes * rng.random(draw) ** 3.0).astype(np.int32)]
        key = np.concatenate([_pack(src, dst), _pack(s, d)])
        del s, d
        key = np.unique(key)
        src = (key & np.uint64(0xFFFFFFFF)).astype(np.int32)
        dst = (key >> np.uint64(32)).astype(np.int32)
        del key
        keep = src != dst
        src, dst = src[keep], dst[keep]
        want = edges - src.size + 1
    order = rng.permutation(src.size)[:edges]  # unsorted, as a build would hand them over
    return src[order], dst[order]


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def ours(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[float, float, int, np.ndarray]:
    """(construction s, iteration s, iterations, scores)."""
    build, (matrix, dangling) = _timed(lambda: _transition(src, dst, n))
    run, (scores, iterations) = _timed(
        lambda: _iterate(matrix, dangling, damping=DAMPING, tol=TOL, max_iter=MAX_ITER)
    )
    return build, run, iterations, scores


def theirs(
    src: np.ndarray, dst: np.ndarray, n: int, threads: int
) -> tuple[float, float, int, np.ndarray]:
    """networkit: GraphFromCoo, then PageRank with sinks distributed and the L1 stop."""
    import networkit as nk

    nk.setNumberOfThreads(threads)
    build, graph = _timed(lambda: nk.GraphFromCoo((src, dst), n=n, directed=True))
    pr = nk.centrality.PageRank(
        graph, damp=DAMPING, tol=TOL, distributeSinks=nk.centrality.SinkHandling.DistributeSinks
    )
    pr.norm = nk.centrality.Norm.L1_NORM
    pr.maxIterations = MAX_ITER
    run, _ = _timed(pr.run)
    return build, run, pr.numberOfIterations(), np.asarray(pr.scores())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_500_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--nk-threads", type=int, default=2, help="networkit threads (ours uses one core)"
    )
    parser.add_argument(
        "--crawled", type=float, default=0.4, help="share of nodes with out-links (default 0.4)"
    )
    args = parser.parse_args(argv)

    t, (src, dst) = _timed(lambda: generate(args.nodes, args.edges, args.seed, args.crawled))
    n = args.nodes
    indeg = np.bincount(dst, minlength=n)
    print(
        f"graph: {n:,} nodes, {src.size:,} distinct edges, max in-degree {indeg.max():,}, "
        f"{(indeg == 0).mean():.0%} without inbound, "
        f"{(np.bincount(src, minlength=n) == 0).mean():.0%} dangling (generated in {t:.1f} s)"
    )
    del indeg

    # Memory first, in a clean state: tracemalloc sees every numpy/scipy buffer we allocate.
    tracemalloc.start()
    ours(src, dst, n)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    input_mb = (src.nbytes + dst.nbytes) / 2**20
    peak_mb = peak / 2**20 + input_mb
    rss_ours = _maxrss_mb()

    rows: dict[str, list[tuple[float, float, int]]] = {"ours": [], "networkit": []}
    score_ours = score_nk = np.zeros(0)
    for _ in range(args.repeats):
        b, r, i, score_ours = ours(src, dst, n)
        rows["ours"].append((b, r, i))
        b, r, i, score_nk = theirs(src, dst, n, args.nk_threads)
        rows["networkit"].append((b, r, i))
    rho = spearmanr(score_ours, score_nk).statistic

    def med(name: str, pick: Callable[[tuple[float, float, int]], float]) -> float:
        return statistics.median(pick(row) for row in rows[name])

    table = [
        ("per iteration (ms)", lambda r: 1000 * r[1] / r[2]),
        ("construction (s)", lambda r: r[0]),
        ("construction + run (s)", lambda r: r[0] + r[1]),
        ("iterations", lambda r: r[2]),
    ]
    print(
        f"\nmedians over {args.repeats} repeats; damping {DAMPING}, L1 tol {TOL}, "
        f"networkit threads {args.nk_threads}"
    )
    print(f"{'figure':<24}{'ours':>10}{'networkit':>12}{'ours/nk':>10}")
    for label, pick in table:
        a, b = med("ours", pick), med("networkit", pick)
        print(f"{label:<24}{a:>10.3f}{b:>12.3f}{a / b:>9.2f}x")
    print(f"\nSpearman rho (ours vs networkit): {rho:.7f}  (target >= 0.999)")
    print(f"peak memory, ours (tracemalloc + input arrays): {peak_mb:,.0f} MB (target <= 1024)")
    print(f"process max RSS after generation + ours: {rss_ours:,.0f} MB")
    print(f"process max RSS at the end (with networkit): {_maxrss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

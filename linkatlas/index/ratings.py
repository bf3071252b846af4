"""Ratings stage: PageRank over the page and domain graphs → URL Rating, Domain Rating, rank.

spec/COLUMNS.md (Ratings) defines the three columns; docs/ratings.md records the choices made
where the spec leaves room (duplicates, self-links, scale, rounding, ties).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from linkatlas.errors import BuildError

from .scale import TIE, log_scale

__all__ = ["DAMPING", "MAX_ITER", "TOL", "order", "pagerank", "rate",
           "scale_and_rank", "step_down", "store_domains", "to_scale"]

# PageRank's damping and stop rule (L1 change below TOL, or MAX_ITER iterations); the Spark
# engine's distributed PageRank (spark_ratings.py) runs with the same.
DAMPING = 0.85
TOL = 1e-6
MAX_ITER = 100

_LOW32 = np.uint64(0xFFFFFFFF)


def _transition(
    src: np.ndarray, dst: np.ndarray, n: int
) -> tuple[sp.csr_array, np.ndarray]:
    """Column-stochastic link matrix as CSR (row = target), plus the ids of dangling nodes.

    Each distinct (from, to) pair counts once and self-links are dropped (docs/ratings.md).
    The 1/out-degree weights are baked into the matrix data, so one iteration is one matvec.
    """
    src = np.asarray(src)
    dst = np.asarray(dst)
    if src.shape != dst.shape or src.ndim != 1:
        raise BuildError("pagerank: src and dst must be 1-D arrays of equal length")
    if n < 0 or n >= 2**31:
        raise BuildError(f"pagerank: node count {n} outside 0..2^31-1")
    if src.size and (
        min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n
    ):
        raise BuildError(f"pagerank: an edge endpoint lies outside 0..{n - 1}")
    # One uint64 per edge, target in the high half: a single in-place sort both groups the
    # edges by target (CSR rows, sorted columns for a cache-friendly gather) and puts
    # duplicates side by side.
    # (Ufuncs with `out=` cast in small buffers, so no edge-sized temporaries beyond `key`.)
    key = dst.astype(np.uint64)
    key <<= np.uint64(32)
    np.bitwise_or(key, src, out=key, dtype=np.uint64, casting="unsafe")
    loops = src == dst
    if loops.any():
        key = key[~loops]
    del loops
    key.sort()
    if key.size > 1:
        fresh = np.empty(key.size, dtype=bool)
        fresh[0] = True
        np.not_equal(key[1:], key[:-1], out=fresh[1:])
        if not fresh.all():
            key = key[fresh]
        del fresh
    cols = np.empty(key.size, dtype=np.int32)
    np.bitwise_and(key, _LOW32, out=cols, casting="unsafe")
    # Row starts: the first key of each target, found by binary search in the sorted keys.
    starts = np.arange(n + 1, dtype=np.uint64)
    starts <<= np.uint64(32)
    indptr = np.searchsorted(key, starts).astype(np.int32 if key.size < 2**31 else np.int64)
    del key, starts
    out_degree = np.bincount(cols, minlength=n)
    inverse = np.zeros(n, dtype=np.float32)
    np.divide(1.0, out_degree, out=inverse, where=out_degree > 0, casting="unsafe")
    data = inverse[cols]
    matrix = sp.csr_array((data, cols, indptr), shape=(n, n))
    return matrix, np.flatnonzero(out_degree == 0)


def _iterate(
    matrix: sp.csr_array,
    dangling: np.ndarray,
    *,
    damping: float,
    tol: float,
    max_iter: int,
) -> tuple[np.ndarray, int]:
    """Power iteration; returns float64 scores summing to 1 and the iterations run."""
    n = matrix.shape[0]
    if n == 0:
        return np.zeros(0), 0
    # float32 vectors halve the memory traffic of the gather; every reduction (dangling mass,
    # L1 change) accumulates in float64, so the 1e-6 stop is well above the rounding floor.
    x = np.full(n, 1.0 / n, dtype=np.float32)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        lost = x[dangling].sum(dtype=np.float64) if dangling.size else 0.0
        y = matrix @ x
        y *= np.float32(damping)
        # Teleport plus the dangling nodes' mass, both spread uniformly over all n nodes.
        y += np.float32((1.0 - damping + damping * lost) / n)
        np.subtract(x, y, out=x)
        np.abs(x, out=x)
        change = x.sum(dtype=np.float64)
        x = y
        if change < tol:
            break
    scores = x.astype(np.float64)
    scores /= scores.sum()
    return scores, iterations


def _rank(
    src: np.ndarray, dst: np.ndarray, n: int, *, damping: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """PageRank scores and, per node, how many other nodes link to it."""
    matrix, dangling = _transition(src, dst, n)
    scores, _ = _iterate(matrix, dangling, damping=damping, tol=tol, max_iter=max_iter)
    return scores, np.diff(matrix.indptr)


def pagerank(
    src: np.ndarray,
    dst: np.ndarray,
    n: int,
    *,
    damping: float = DAMPING,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
) -> np.ndarray:
    """PageRank of nodes 0..n-1 over edges src[i] → dst[i]; float64 scores summing to 1.

    A repeated (from, to) pair counts once and self-links are ignored; a node without
    out-links spreads its score uniformly over all nodes. Stops when the L1 change of one
    iteration is below `tol`, or after `max_iter` iterations.
    """
    return _rank(src, dst, n, damping=damping, tol=tol, max_iter=max_iter)[0]


def order(scores: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Node ids strongest first: by score, scores within TIE counting as equal, then by
    support (more inbound links first), then by id (ids follow the names)."""
    scores = np.asarray(scores, dtype=np.float64)
    by_score = np.argsort(-scores, kind="stable")
    ranked = scores[by_score]
    fresh = np.ones(ranked.size, dtype=bool)
    fresh[1:] = ranked[1:] < ranked[:-1] * (1.0 - TIE)
    group = np.empty(scores.size, dtype=np.int64)
    group[by_score] = np.cumsum(fresh)
    return np.lexsort((np.arange(scores.size), -np.asarray(support, dtype=np.int64), group))


def to_scale(scores: np.ndarray, has_inbound: np.ndarray,
             support: np.ndarray | None = None) -> np.ndarray:
    """Map scores onto integers 0..100 (docs/ratings.md has the formula).

    A node without inbound links is 0. The linked nodes span 1..100 on a log scale from the
    weakest linked node (1) to the strongest (100). Only the first node of `order` is 100;
    nodes tied on score are separated by their support (inbound link count), a point apart
    where the next weaker score leaves room. The map is monotone along `order`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    has_inbound = np.asarray(has_inbound, dtype=bool)
    out = np.zeros(scores.shape, dtype=np.int32)
    if not has_inbound.any():
        return out
    if support is None:
        support = has_inbound.astype(np.int64)
    ranked = order(scores, support)
    ranked = ranked[has_inbound[ranked]]  # linked nodes, strongest first
    values = scores[ranked]
    base = log_scale(values, values.min(), values.max())
    out[ranked] = step_down(values, base, np.asarray(support, dtype=np.int64)[ranked])
    return out


def step_down(values: np.ndarray, base: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Ratings of linked nodes in `order` (strongest first) from their scores, log_scale
    ratings and support: tie groups (equal base and equal score within TIE); within one, the
    k-th distinct support below the group's best is k points lower, never down to the next
    group's rating; 100 is the first node's alone."""
    same = np.zeros(values.size, dtype=bool)
    same[1:] = (values[1:] >= values[:-1] * (1.0 - TIE)) & (base[1:] == base[:-1])
    group = np.cumsum(~same) - 1
    starts = np.flatnonzero(~same)
    step = np.zeros(values.size, dtype=bool)
    step[1:] = same[1:] & (strength[1:] < strength[:-1])
    steps = np.cumsum(step)
    k = steps - steps[starts][group]
    below = np.append(base[starts][1:], 0)[group]  # the next group's rating
    rated = np.minimum(base, np.maximum(base - k, below + 1))
    rated[1:] = np.minimum(rated[1:], 99)  # 100 is the strongest's alone
    return rated


def _number(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, str]) -> int:
    """Create `table(name, id)`: dense ids 0.. over the sorted distinct values of `columns`."""
    a, b = columns
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT name, (row_number() OVER (ORDER BY name) - 1)::INTEGER AS id
        FROM (SELECT {a} AS name FROM graph_links UNION SELECT {b} FROM graph_links)
        WHERE name IS NOT NULL
        """
    )
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _edges(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, str], distinct: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Edge endpoints of graph_links as int32 id arrays."""
    a, b = columns
    rows = con.execute(
        f"""
        SELECT {"DISTINCT" if distinct else ""} f.id AS src, t.id AS dst
        FROM graph_links g
        JOIN {table} f ON f.name = g.{a}
        JOIN {table} t ON t.name = g.{b}
        """
    ).fetchnumpy()
    return np.asarray(rows["src"], dtype=np.int32), np.asarray(rows["dst"], dtype=np.int32)


def _scores(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, str],
            distinct: bool, support_sql: str | None = None) -> pa.Table:
    """PageRank of one graph as an Arrow table (id, score, rating, top).

    support_sql, when given, selects (id, support) to separate nodes tied on score (more
    referring pages first); by default the in-degree does.
    """
    n = _number(con, table, columns)
    src, dst = _edges(con, table, columns, distinct)
    scores, indegree = _rank(src, dst, n, damping=DAMPING, tol=TOL, max_iter=MAX_ITER)
    del src, dst
    extra = None
    if support_sql is not None:
        rows = con.execute(support_sql).fetchnumpy()
        extra = np.zeros(n, dtype=np.int64)
        extra[np.asarray(rows["id"], dtype=np.int64)] = np.asarray(rows["support"])
    rating, top = scale_and_rank(scores, indegree, extra)
    return pa.table({"id": np.arange(n, dtype=np.int32), "score": scores, "rating": rating,
                     "top": top})


def scale_and_rank(scores: np.ndarray, indegree: np.ndarray, extra: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(rating 0..100, rank 1..n) of nodes 0..n-1 (ids in name order) from their scores and
    in-degrees; extra, when given, separates nodes tied on score and in-degree (referring
    pages, after referring domains). Either engine's domains take DR and rank from here."""
    support = np.asarray(indegree, dtype=np.int64)
    if extra is not None:
        support = support * (1 << 32) + np.asarray(extra, dtype=np.int64)
    top = np.empty(support.size, dtype=np.int32)
    top[order(scores, support)] = np.arange(1, support.size + 1, dtype=np.int32)
    return to_scale(scores, np.asarray(indegree) > 0, support), top


# Pages of other domains that link to a domain: separates domains tied on domain score.
_REFERRING_PAGES = """
        SELECT d.id, count(DISTINCT g.key_from) AS support
        FROM graph_links g JOIN _rating_domains d ON d.name = g.domain_to
        WHERE g.domain_from <> g.domain_to GROUP BY d.id"""


def rate(con: duckdb.DuckDBPyConnection, ranks: Path | None = None) -> None:
    """Create url_rating(key, ahrefs_rank) and domain_rating(domain, domain_rating,
    ahrefs_top, imported).

    Reads `graph_links(key_from, key_to, domain_from, domain_to)`, one row per dofollow link;
    with `ranks` (an imported domain-ranks file, linkatlas.ranks), the domains it covers take
    DR and rank from it (docs/ratings.md, "Imported ranks").
    """
    pages = _scores(con, "_rating_pages", ("key_from", "key_to"), distinct=False)
    con.register("_rating_page_scores", pages)
    con.execute(
        """
        CREATE OR REPLACE TABLE url_rating AS
        SELECT k.name AS key, s.rating::INTEGER AS ahrefs_rank
        FROM _rating_pages k JOIN _rating_page_scores s USING (id)
        """
    )
    con.unregister("_rating_page_scores")
    del pages
    # Domain graph: one edge per ordered pair of distinct domains (spec/COLUMNS.md); the
    # pair is deduplicated in SQL, A = B is dropped by the self-link rule.
    domains = _scores(con, "_rating_domains", ("domain_from", "domain_to"), distinct=True,
                      support_sql=_REFERRING_PAGES)
    con.register("_rating_domain_scores", domains)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _rated_domains AS
        SELECT k.name AS domain, s.rating AS domain_rating, s.top AS ahrefs_top
        FROM _rating_domains k JOIN _rating_domain_scores s USING (id)
        """
    )
    con.unregister("_rating_domain_scores")
    con.execute("DROP TABLE _rating_pages")
    con.execute("DROP TABLE _rating_domains")
    store_domains(con, "_rated_domains", ranks)
    con.execute("DROP TABLE _rated_domains")


def store_domains(con: duckdb.DuckDBPyConnection, rated: str, ranks: Path | None) -> None:
    """domain_rating(domain, domain_rating, ahrefs_top, imported) from the table or view
    `rated` (domain, domain_rating, ahrefs_top) of the local graph; with `ranks`, the domains
    it covers take DR and rank from it (docs/ratings.md, "Imported ranks")."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE domain_rating AS
        SELECT domain, domain_rating::INTEGER AS domain_rating,
               ahrefs_top::INTEGER AS ahrefs_top, false AS imported
        FROM {rated}
        """
    )
    if ranks is not None and ranks.exists():
        from .imported import merge

        merge(con, ranks)

"""Ratings stage: PageRank, the 0–100 scale and the url_rating / domain_rating tables."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from linkatlas.errors import BuildError
from linkatlas.index.ratings import pagerank, rate, to_scale
from linkatlas.urls import host_of, key_of, normalize, registered_domain

D = 0.85
EXACT = {"tol": 1e-12, "max_iter": 1000}  # run to the float32 floor for closed-form checks


def _dense_pagerank(src: list[int], dst: list[int], n: int) -> np.ndarray:
    """Reference: the Google matrix written out densely, solved as a linear system."""
    link = np.zeros((n, n))
    for a, b in set(zip(src, dst, strict=True)):
        if a != b:
            link[b, a] = 1.0
    out = link.sum(axis=0)
    step = np.where(out > 0, link / np.where(out > 0, out, 1), 1.0 / n)
    google = D * step + (1 - D) / n
    # Stationary vector: (G - I) x = 0 with sum(x) = 1.
    system = np.vstack([google - np.eye(n), np.ones(n)])
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    return np.linalg.lstsq(system, rhs, rcond=None)[0]


def _links(rows: list[tuple[str, str]]) -> duckdb.DuckDBPyConnection:
    """A connection whose graph_links holds one row per (url_from, url_to) link."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE graph_links(key_from VARCHAR, key_to VARCHAR, "
        "domain_from VARCHAR, domain_to VARCHAR)"
    )
    data = []
    for a, b in rows:
        ua, ub = normalize(a), normalize(b)
        assert ua and ub
        data.append(
            (key_of(ua), key_of(ub), registered_domain(host_of(ua)), registered_domain(host_of(ub)))
        )
    con.executemany("INSERT INTO graph_links VALUES (?, ?, ?, ?)", data)
    return con


def _url_rating(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT key, ahrefs_rank FROM url_rating").fetchall())


def _domain_rating(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    rows = con.execute("SELECT domain, domain_rating, ahrefs_top FROM domain_rating").fetchall()
    return {domain: (dr, top) for domain, dr, top in rows}


def _types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall())


# Hand-known graphs -------------------------------------------------------------------------


def test_star_inward_hub_is_100_leaves_are_0() -> None:
    scores = pagerank([1, 2, 3, 4], [0, 0, 0, 0], 5, **EXACT)
    leaf = scores[1]
    # hub = leaf + 4·d·leaf (every leaf gives the hub all of its damped score)
    assert scores[0] / leaf == pytest.approx(1 + 4 * D, rel=1e-6)
    assert np.allclose(scores[1:], leaf)
    assert to_scale(scores, np.array([True, False, False, False, False])).tolist() == [
        100, 0, 0, 0, 0,
    ]


def test_star_outward_leaves_tie_at_100() -> None:
    scores = pagerank([0, 0, 0], [1, 2, 3], 4, **EXACT)
    assert np.allclose(scores[1:], scores[1])
    assert to_scale(scores, np.array([False, True, True, True])).tolist() == [0, 100, 100, 100]


def test_chain() -> None:
    scores = pagerank([0, 1], [1, 2], 3, **EXACT)
    # a = teleport + dangling share; b = a + d·a; c = a + d·b  (c's mass is the dangling share)
    assert scores[1] / scores[0] == pytest.approx(1 + D, rel=1e-6)
    assert scores[2] / scores[0] == pytest.approx(1 + D + D * D, rel=1e-6)
    middle = round(100 * math.log(1 + D) / math.log(1 + D + D * D))  # 65.1 → 65
    assert to_scale(scores, np.array([False, True, True])).tolist() == [0, middle, 100]
    assert middle == 65


def test_cycle_is_uniform_and_all_100() -> None:
    scores = pagerank([0, 1, 2, 3], [1, 2, 3, 0], 4)
    assert np.allclose(scores, 0.25)
    assert to_scale(scores, np.ones(4, dtype=bool)).tolist() == [100] * 4


def test_duplicate_edges_count_once() -> None:
    once = pagerank([0, 1, 2], [1, 2, 0], 4, **EXACT)
    many = pagerank([0, 0, 0, 0, 1, 2, 2], [1, 1, 1, 1, 2, 0, 0], 4, **EXACT)
    assert np.array_equal(once, many)


def test_self_links_are_ignored() -> None:
    without = pagerank([0, 1], [1, 2], 3, **EXACT)
    with_loops = pagerank([0, 0, 1, 2, 2], [0, 1, 2, 2, 2], 3, **EXACT)
    assert np.array_equal(without, with_loops)


def test_no_edges_is_uniform_and_all_0() -> None:
    scores = pagerank(np.array([], dtype=np.int32), np.array([], dtype=np.int32), 3)
    assert np.allclose(scores, 1 / 3)
    assert to_scale(scores, np.zeros(3, dtype=bool)).tolist() == [0, 0, 0]


def test_empty_graph() -> None:
    assert pagerank(np.array([]), np.array([]), 0).size == 0


def test_endpoint_out_of_range_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="outside 0..2"):
        pagerank([0, 3], [1, 1], 3)


def test_to_scale_weak_linked_node_is_at_least_1() -> None:
    scores = np.array([1.0, 1.0 + 1e-12, 1000.0])
    assert to_scale(scores, np.array([False, True, True])).tolist() == [0, 1, 100]


# Properties --------------------------------------------------------------------------------


def _random_graph(seed: int, n: int = 40, m: int = 160) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Some nodes never link out (dangling), some are linked a lot (squared draw).
    src = rng.integers(0, n * 3 // 4, m)
    dst = (n * rng.random(m) ** 2).astype(np.int64)
    return src, dst


@pytest.mark.parametrize("seed", range(5))
def test_scores_sum_to_1_and_match_dense_reference(seed: int) -> None:
    src, dst = _random_graph(seed)
    scores = pagerank(src, dst, 40)
    assert scores.sum() == pytest.approx(1.0, abs=1e-12)
    # Stopped at an L1 change below 1e-6: within a few 1e-6 of the fixed point.
    reference = _dense_pagerank(src.tolist(), dst.tolist(), 40)
    assert np.abs(scores - reference).sum() < 1e-5


@pytest.mark.parametrize("seed", range(3))
def test_matches_networkx(seed: int) -> None:
    nx = pytest.importorskip("networkx")
    src, dst = _random_graph(seed)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(40))
    graph.add_edges_from((int(a), int(b)) for a, b in zip(src, dst, strict=True) if a != b)
    expected = nx.pagerank(graph, alpha=D, tol=1e-12, max_iter=1000)
    scores = pagerank(src, dst, 40, **EXACT)
    assert np.allclose(scores, [expected[i] for i in range(40)], atol=1e-7)


@pytest.mark.parametrize("seed", range(3))
def test_scale_is_monotone_and_bounded(seed: int) -> None:
    src, dst = _random_graph(seed)
    scores = pagerank(src, dst, 40)
    inbound = np.isin(np.arange(40), dst[src != dst])
    scale = to_scale(scores, inbound)
    assert scale.max() == 100 and scale[scores.argmax()] == 100
    assert (scale[~inbound] == 0).all() and (scale[inbound] >= 1).all()
    order = np.argsort(scores[inbound])
    assert (np.diff(scale[inbound][order]) >= 0).all()


# The build stage ---------------------------------------------------------------------------


def test_rate_tables_cover_every_key_and_domain() -> None:
    con = _links(
        [
            ("http://a.test/", "http://b.test/x"),
            ("http://a.test/", "http://a.test/about"),
            ("http://blog.b.test/p", "http://c.test/"),
        ]
    )
    rate(con)
    assert set(_url_rating(con)) == {
        "test,a)/", "test,a)/about", "test,b)/x", "test,b,blog)/p", "test,c)/",
    }
    assert set(_domain_rating(con)) == {"a.test", "b.test", "c.test"}
    assert _types(con, "url_rating") == {"key": "VARCHAR", "ahrefs_rank": "INTEGER"}
    assert _types(con, "domain_rating") == {
        "domain": "VARCHAR", "domain_rating": "INTEGER", "ahrefs_top": "INTEGER",
    }
    # The stage leaves nothing of its own behind.
    tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    assert tables == {"graph_links", "url_rating", "domain_rating"}


def test_domain_linked_only_by_nofollow_has_dr_0() -> None:
    # quiet.test's only inbound link is nofollow, so it is absent from graph_links as a
    # target; it appears only as a source (its own dofollow link out).
    con = _links([("http://quiet.test/", "http://hub.test/"), ("http://z.test/", "http://hub.test/")])
    rate(con)
    ratings = _domain_rating(con)
    assert ratings["quiet.test"][0] == 0
    assert ratings["hub.test"] == (100, 1)
    # quiet.test and z.test tie exactly; the tie goes to the domain name.
    assert ratings["quiet.test"][1] == 2 and ratings["z.test"] == (0, 3)
    assert _url_rating(con)["test,quiet)/"] == 0


def test_many_links_from_one_domain_count_once() -> None:
    many = [(f"http://big.test/p{i}", f"http://one.test/t{i % 3}") for i in range(50)]
    con = _links([*many, ("http://small.test/", "http://two.test/")])
    rate(con)
    ratings = _domain_rating(con)
    assert ratings["one.test"][0] == ratings["two.test"][0] == 100
    assert ratings["big.test"][0] == ratings["small.test"][0] == 0
    # Equal scores, so ranks follow the domain names.
    assert [ratings[d][1] for d in ("one.test", "two.test", "big.test", "small.test")] == [
        1, 2, 3, 4,
    ]


def test_http_and_https_share_a_rating() -> None:
    con = _links(
        [
            ("http://a.test/", "http://target.test/page"),
            ("https://b.test/", "https://target.test/page"),
            ("https://c.test/", "https://other.test/"),
        ]
    )
    rate(con)
    ratings = _url_rating(con)
    assert "test,target)/page" in ratings
    assert len([key for key in ratings if key.startswith("test,target)")]) == 1
    assert ratings["test,target)/page"] == 100 and ratings["test,other)/"] < 100


def test_internal_links_count_for_pages_not_domains() -> None:
    con = _links(
        [
            ("http://site.test/", "http://site.test/deep"),
            ("http://site.test/deep", "http://site.test/"),
            ("http://site.test/", "http://site.test/"),
        ]
    )
    rate(con)
    assert _url_rating(con) == {"test,site)/": 100, "test,site)/deep": 100}
    assert _domain_rating(con) == {"site.test": (0, 1)}

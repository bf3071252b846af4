"""Ratings stage: PageRank, the 0–100 scale and the url_rating / domain_rating tables."""

from __future__ import annotations

import math

import duckdb
import networkx as nx  # a test dependency (pyproject.toml): missing is a failure, not a skip
import numpy as np
import pytest

from linkatlas.errors import BuildError
from linkatlas.index.ratings import order, pagerank, rate, to_scale
from linkatlas.index.scale import TIE
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


def test_star_outward_only_one_leaf_is_100() -> None:
    scores = pagerank([0, 0, 0], [1, 2, 3], 4, **EXACT)
    assert np.allclose(scores[1:], scores[1])
    # A full tie (score and support): the first by id (name) is the one 100, like rank 1.
    assert to_scale(scores, np.array([False, True, True, True])).tolist() == [0, 100, 99, 99]


def test_chain() -> None:
    scores = pagerank([0, 1, 2], [1, 2, 3], 4, **EXACT)
    # a = teleport + dangling share; b = a + d·a; c = a + d·b; e = a + d·c (e is dangling)
    assert scores[1] / scores[0] == pytest.approx(1 + D, rel=1e-6)
    assert scores[2] / scores[0] == pytest.approx(1 + D + D * D, rel=1e-6)
    # The weakest linked node (b) is 1, the strongest (e) 100, c on the log scale between.
    b, c, e = 1 + D, 1 + D + D * D, 1 + D + D * D + D**3
    middle = round(1 + 99 * math.log(c / b) / math.log(e / b))  # 61.02 → 61
    assert to_scale(scores, np.array([False, True, True, True])).tolist() == [0, 1, middle, 100]
    assert middle == 61


def test_only_the_strongest_is_100() -> None:
    # Scores that a floor-anchored log scale squeezed together near the top (the demo's
    # domains): every one but the strongest must stay below 100, in score order.
    scores = np.array([1.0, 50.0, 50.5, 51.0, 51.5, 52.0, 52.5])
    scale = to_scale(scores, np.array([False, *[True] * 6]))
    assert scale.tolist() == [0, 1, 21, 41, 61, 81, 100]


def test_weak_referrer_is_above_0_when_others_are_lower() -> None:
    # One weak referrer lifts a node only a little above the unlinked floor (1.0): it is the
    # weakest linked node, so 1, and the scale above it is spread from there.
    scores = np.array([1.0, 1.0001, 1.1, 9.0])
    assert to_scale(scores, np.array([False, True, True, True])).tolist() == [0, 1, 5, 100]


def test_ties_within_tolerance_share_a_rating() -> None:
    scores = np.array([2.0, 2.0 * (1 + 1e-7), 5.0, 5.0 * (1 - 1e-7)])
    assert to_scale(scores, np.ones(4, dtype=bool)).tolist() == [1, 1, 100, 99]


def test_cycle_is_uniform_and_one_node_is_100() -> None:
    scores = pagerank([0, 1, 2, 3], [1, 2, 3, 0], 4)
    assert np.allclose(scores, 0.25)
    assert to_scale(scores, np.ones(4, dtype=bool)).tolist() == [100, 99, 99, 99]


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
    src, dst = _random_graph(seed)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(40))
    graph.add_edges_from((int(a), int(b)) for a, b in zip(src, dst, strict=True) if a != b)
    expected = nx.pagerank(graph, alpha=D, tol=1e-12, max_iter=1000)
    scores = pagerank(src, dst, 40, **EXACT)
    assert np.allclose(scores, [expected[i] for i in range(40)], atol=1e-7)


@pytest.mark.parametrize("seed", range(6))
def test_scale_is_monotone_and_spread(seed: int) -> None:
    src, dst = _random_graph(seed)
    scores = pagerank(src, dst, 40)
    pairs = {(a, b) for a, b in zip(src.tolist(), dst.tolist(), strict=True) if a != b}
    support = np.bincount([b for _, b in pairs], minlength=40)
    inbound = support > 0
    scale = to_scale(scores, inbound, support)
    assert scale[scores.argmax()] == 100 and (scale == 100).sum() == 1
    # 100 only for the strongest (and any node tied with it within the tolerance).
    assert (scores[scale == 100] >= scores.max() * (1 - TIE)).all()
    assert (scale[~inbound] == 0).all() and (scale[inbound] >= 1).all()
    assert scale[inbound].min() == 1  # the weakest linked node is 1, not squeezed to 100
    # Monotone along the rank order, which follows the scores beyond the tie tolerance.
    ranked = order(scores, support)
    assert (np.diff(scale[ranked]) <= 0).all()
    assert (np.diff(scores[ranked]) <= scores[ranked][1:] * TIE).all()


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
        "imported": "BOOLEAN",
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
    # Equal domain scores: one.test's 50 referring pages put it ahead of two.test's one.
    assert ratings["one.test"][0] == 100 and ratings["two.test"][0] == 99
    assert ratings["big.test"][0] == ratings["small.test"][0] == 0
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
    assert _url_rating(con) == {"test,site)/": 100, "test,site)/deep": 99}
    assert _domain_rating(con) == {"site.test": (0, 1)}


def test_support_separates_domains_tied_on_score() -> None:
    # Five hubs every other domain links to: the same domain score (the demo's sample web).
    # The one with more referring pages ranks first and alone is 100; the rest step down.
    hubs = ["a.test", "b.test", "c.test", "d.test", "e.test"]
    rows = [(f"http://{src}/p{i}", f"http://{dst}/")
            for src in [*hubs, "f.test", "g.test"] for dst in hubs if src != dst
            for i in range(1 + (dst == "c.test") + 2 * (dst == "e.test"))]
    con = _links(rows)
    rate(con)
    ratings = _domain_rating(con)
    assert [ratings[h] for h in ("e.test", "c.test")] == [(100, 1), (99, 2)]
    assert {ratings[h] for h in ("a.test", "b.test", "d.test")} == {(98, 3), (98, 4), (98, 5)}
    assert ratings["f.test"][0] == ratings["g.test"][0] == 0

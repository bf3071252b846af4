"""Domain and URL Rating spread on an index of the real archives (docs/ratings.md)."""

from __future__ import annotations

import pytest

from linkatlas.extract.ingest import ingest
from linkatlas.index import connect, extract_inputs, load
from linkatlas.index.ratings import rate
from linkatlas.index.stages import STAGES

from .shared import shared


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> object:
    data = tmp_path_factory.mktemp("real") / "data"
    files = sorted(p for p in shared("data", "real", "warc").iterdir() if p.is_file())
    ingest(data, files)
    con = connect(data)
    load(con, extract_inputs(data, workers=1))
    for _, stage in STAGES:
        stage(con)
    rate(con)
    yield con
    con.close()


def test_domain_rating_spreads(rated: object) -> None:
    con = rated
    rows = con.execute(  # type: ignore[attr-defined]
        """
        SELECT d.domain, d.domain_rating, d.ahrefs_top,
               d.domain IN (SELECT domain_to FROM graph_links WHERE domain_from <> domain_to)
        FROM domain_rating d ORDER BY d.ahrefs_top""").fetchall()
    assert len(rows) > 100
    ratings = [dr for _, dr, _, _ in rows]
    # Only the strongest domain is 100; rank 1 is the strongest.
    assert ratings.count(100) == 1 and rows[0][1] == 100 and rows[0][2] == 1
    # Rank order and DR agree (DR never rises as rank falls).
    assert all(a >= b for a, b in zip(ratings, ratings[1:], strict=False))
    # 0 exactly for the domains no other domain links to; the weakest linked one is 1.
    assert all((dr == 0) == (not linked) for _, dr, _, linked in rows)
    assert min(dr for _, dr, _, linked in rows if linked) == 1
    # Spread: many distinct values among the linked domains, not a few saturated ones.
    assert len({dr for _, dr, _, linked in rows if linked}) >= 30
    # Referring domains that other domains link to are distinguishable from each other too.
    referring = con.execute(  # type: ignore[attr-defined]
        """
        SELECT DISTINCT d.domain_rating FROM domain_rating d
        JOIN graph_links g ON g.domain_from = d.domain AND g.domain_to <> d.domain
        WHERE d.domain_rating > 0""").fetchall()
    assert len(referring) >= 8


def test_url_rating_spreads(rated: object) -> None:
    con = rated
    counts = dict(con.execute(  # type: ignore[attr-defined]
        "SELECT ahrefs_rank, count(*) FROM url_rating GROUP BY 1").fetchall())
    assert counts[100] == 1
    assert counts.get(1, 0) > 0 and len(counts) >= 30
    unlinked = con.execute(  # type: ignore[attr-defined]
        """
        SELECT count(*) FROM url_rating u WHERE u.ahrefs_rank = 0 AND u.key IN (
            SELECT key_to FROM graph_links WHERE key_from <> key_to)""").fetchone()
    assert unlinked == (0,)



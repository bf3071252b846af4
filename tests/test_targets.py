"""What a target's status is (spec/COLUMNS.md "Broken"): external backlinks only, redirect
chains followed to their end, 999 and other undecided answers deciding nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkatlas.extract.ingest import ingest
from linkatlas.observations import CheckLog, Observation

from .archives import page, redirect, status, write_warc
from .conftest import build_quietly, run_query

REF = """<html><head><title>Reference list</title></head><body>
<a href="http://shop.example.test/moved">moved</a>
<a href="http://shop.example.test/later">later</a>
<a href="http://shop.example.test/fine">fine</a>
<a href="http://loop.test/a">loop</a>
<a href="http://long.test/0">long</a>
<a href="http://linked.test/in">linkedin</a>
<a href="http://away.test/x">away</a>
<a href="http://ref.test/own-dead">own page</a>
<a href="http://docs.ref.test/own-dead">own subdomain</a>
</body></html>"""

DAY = "2024-01-{:02d}T00:00:00Z"


def _observations() -> list[Observation]:
    seen = [
        # 301 → /gone → 404: broken at the end of the chain; /gone died on day 3, the
        # redirect into it began on day 5, so the chain first ended broken on day 5.
        ("http://shop.example.test/moved", 2, 200, ""),
        ("http://shop.example.test/moved", 5, 301, "http://shop.example.test/gone"),
        ("http://shop.example.test/gone", 2, 200, ""),
        ("http://shop.example.test/gone", 3, 404, ""),
        # 302 → 308 → a good page: not broken
        ("http://shop.example.test/fine", 4, 302, "http://shop.example.test/step"),
        ("http://shop.example.test/step", 4, 308, "https://shop.example.test/new"),
        ("https://shop.example.test/new", 4, 200, ""),
        # /later redirects to /new-home, never observed: undecided, not broken
        ("http://shop.example.test/later", 4, 301, "http://shop.example.test/new-home"),
        # a loop, and a chain of 11 redirects: broken with error "redirects"
        ("http://loop.test/a", 4, 302, "http://loop.test/b"),
        ("http://loop.test/b", 4, 302, "http://loop.test/a"),
        *((f"http://long.test/{k}", 4, 301, f"http://long.test/{k + 1}") for k in range(11)),
        ("http://long.test/11", 4, 200, ""),
        # LinkedIn's 999 to bots decides nothing
        ("http://linked.test/in", 4, 999, ""),
        # a redirect to a host that does not resolve: broken (dns)
        ("http://away.test/x", 4, 302, "http://vanished.test/"),
        # internal links to dead pages: not backlinks
        ("http://ref.test/own-dead", 4, 404, ""),
        ("http://docs.ref.test/own-dead", 4, 404, ""),
    ]
    seen.append(("http://vanished.test/", 4, 0, "dns"))
    # (for code 0 the last field is the error)
    return [Observation(url, DAY.format(day), code, "" if code else extra,
                        extra if code else "") for url, day, code, extra in seen]


@pytest.fixture
def index(tmp_path: Path, data: Path, pinned_now: None) -> Path:
    ingest(data, [write_warc(tmp_path / "ref.warc.gz", [
        page("http://blog.ref.test/links", "2024-01-01T10:00:00Z", REF),
        redirect("http://ref.test/old", "2024-01-01T10:00:00Z", "http://shop.example.test/moved"),
        status("http://ref.test/own-dead", "2024-01-04T00:00:00Z", 404),
    ])])
    with CheckLog(data, name="checks.jsonl") as log:
        for observation in _observations():
            log.append(observation)
    return data


def _by_target(data: Path, **params: str) -> dict[str, dict[str, object]]:
    rows = run_query(data, **{"target": "test", "mode": "subdomains", "order_by": "url_to",
                              "limit": "100", **params})
    return {f"{row['url_from']} → {row['url_to']}": row for row in rows}


def test_only_backlinks_from_other_domains_are_served(index: Path) -> None:
    report = build_quietly(index)
    rows = _by_target(index)
    assert not any("own-dead" in key for key in rows)
    assert report["counts"]["internal_broken_links"] == 2


def test_redirect_chains_are_followed_to_their_end(index: Path) -> None:
    build_quietly(index)
    select = "url_from,url_to,http_code,error,broken_at,url_redirect,redirect_code"
    rows = _by_target(index, select=select)
    assert set(rows) == {
        "http://blog.ref.test/links → http://shop.example.test/moved",
        "http://ref.test/old → http://shop.example.test/moved",
        "http://blog.ref.test/links → http://loop.test/a",
        "http://blog.ref.test/links → http://long.test/0",
        "http://blog.ref.test/links → http://away.test/x",
    }
    moved = rows["http://blog.ref.test/links → http://shop.example.test/moved"]
    assert moved == {"url_from": "http://blog.ref.test/links",
                     "url_to": "http://shop.example.test/moved", "http_code": 404, "error": "",
                     "broken_at": DAY.format(5), "url_redirect": "http://shop.example.test/gone",
                     "redirect_code": 301}
    loop = rows["http://blog.ref.test/links → http://loop.test/a"]
    assert (loop["http_code"], loop["error"], loop["redirect_code"]) == (302, "redirects", 302)
    long = rows["http://blog.ref.test/links → http://long.test/0"]
    assert (long["http_code"], long["error"], long["url_redirect"]) == (
        301, "redirects", "http://long.test/10")
    away = rows["http://blog.ref.test/links → http://away.test/x"]
    assert (away["http_code"], away["error"], away["url_redirect"], away["redirect_code"]) == (
        0, "dns", "http://vanished.test/", 302)


def test_ext_columns_only_when_selected(index: Path) -> None:
    build_quietly(index)
    row = next(iter(_by_target(index).values()))
    assert "url_redirect" not in row and "redirect_code" not in row and len(row) == 27
    rows = run_query(index, target="test", mode="subdomains", select="url_to,url_redirect",
                     where='url_redirect<>""', order_by="redirect_code:desc,url_to")
    assert [(row["url_to"], row["url_redirect"]) for row in rows] == [
        ("http://away.test/x", "http://vanished.test/"),
        ("http://loop.test/a", "http://loop.test/a"),
        ("http://long.test/0", "http://long.test/10"),
        ("http://shop.example.test/moved", "http://shop.example.test/gone"),
        ("http://shop.example.test/moved", "http://shop.example.test/gone")]


def test_a_chain_that_ends_good_again_is_fixed(index: Path) -> None:
    with CheckLog(index, name="later.jsonl") as log:
        log.append(Observation("http://shop.example.test/gone", DAY.format(20), 200))
    build_quietly(index)
    assert not any("shop.example.test/moved" in key for key in _by_target(index))


def test_a_target_that_stops_redirecting_is_judged_by_itself(index: Path) -> None:
    with CheckLog(index, name="later.jsonl") as log:
        log.append(Observation("http://loop.test/a", DAY.format(20), 410))
    build_quietly(index)
    row = _by_target(index, select="url_from,url_to,http_code,error,broken_at,url_redirect,"
                     "redirect_code")["http://blog.ref.test/links → http://loop.test/a"]
    assert row["http_code"] == 410 and row["url_redirect"] == "" and row["redirect_code"] == 0
    # broken_at is when the chain took its present broken shape (docs/architecture.md)
    assert row["broken_at"] == DAY.format(20)

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


# Redirect chains of every length the rule follows (1 to 10 redirects), through every 3xx, to
# an end that is broken in different ways; and targets whose state changed over time.
CODES = (301, 302, 303, 307, 308)
ENDS = {1: (404, ""), 2: (410, ""), 3: (0, "dns"), 4: (404, ""), 5: (500, ""), 6: (410, ""),
        7: (0, "dns"), 8: (404, ""), 9: (503, ""), 10: (404, "")}
TIMELINES = {
    # broken, good, broken, good, then broken twice and two undecided answers: the current
    # broken streak began on day 8
    "http://flip.test/": [(1, 404, ""), (2, 200, ""), (5, 404, ""), (6, 200, ""), (8, 404, ""),
                          (9, 404, ""), (10, 429, ""), (11, 0, "timeout")],
    # the host vanished, then came back answering 404: broken all along (since day 1), now as
    # a 404
    "http://back.test/": [(1, 0, "dns"), (4, 404, "")],
}


def _chain_observations() -> list[Observation]:
    seen = [Observation(url, DAY.format(day), code, error)
            for url, timeline in TIMELINES.items() for day, code, error in timeline]
    for n, (code, error) in ENDS.items():
        hops = [f"http://c{n}.test/{k}" for k in range(n)] + [f"http://end{n}.test/"]
        seen += [Observation(url, DAY.format(4), CODES[(n + k) % 5], location=hops[k + 1])
                 for k, url in enumerate(hops[:-1])]
        # the end was good before it broke on day 3
        seen += [Observation(hops[-1], DAY.format(1), 200),
                 Observation(hops[-1], DAY.format(3), code, error)]
    # /old redirected to /a (dead), then to /b, which died on day 2: the chain took its
    # present shape when /old began to redirect to /b (day 3), whatever /old answered before
    old, a, b = (f"http://relocated.test/{p}" for p in ("old", "a", "b"))
    seen += [Observation(old, DAY.format(1), 301, location=a),
             Observation(old, DAY.format(3), 302, location=b),
             Observation(old, DAY.format(6), 302, location=b),
             Observation(a, DAY.format(1), 404),
             Observation(b, DAY.format(1), 200), Observation(b, DAY.format(2), 404)]
    return seen


@pytest.fixture
def chains(tmp_path: Path, data: Path, pinned_now: None) -> Path:
    targets = [f"http://c{n}.test/0" for n in ENDS] + [*TIMELINES, "http://relocated.test/old"]
    html = "<html><body>" + "".join(f'<a href="{t}">{t}</a>' for t in targets) + "</body></html>"
    ingest(data, [write_warc(tmp_path / "chains.warc.gz", [
        page("http://blog.ref.test/chains", "2024-01-01T10:00:00Z", html)])])
    with CheckLog(data, name="chains.jsonl") as log:
        for observation in _chain_observations():
            log.append(observation)
    build_quietly(data)
    return data


def test_each_target_is_judged_at_the_end_of_its_chain_and_since_its_present_shape(
        chains: Path) -> None:
    select = "url_to,http_code,error,broken_at,url_redirect,redirect_code"
    rows = run_query(chains, target="test", mode="subdomains", order_by="url_to", limit="100",
                     select=select)
    expected = [{"url_to": f"http://c{n}.test/0", "http_code": code, "error": error,
                 "broken_at": DAY.format(4), "url_redirect": f"http://end{n}.test/",
                 "redirect_code": CODES[n % 5]} for n, (code, error) in ENDS.items()]
    expected += [
        {"url_to": "http://flip.test/", "http_code": 404, "error": "",
         "broken_at": DAY.format(8), "url_redirect": "", "redirect_code": 0},
        {"url_to": "http://back.test/", "http_code": 404, "error": "",
         "broken_at": DAY.format(1), "url_redirect": "", "redirect_code": 0},
        {"url_to": "http://relocated.test/old", "http_code": 404, "error": "",
         "broken_at": DAY.format(3), "url_redirect": "http://relocated.test/b",
         "redirect_code": 302},
    ]
    # one row per backlink: a chain joined twice would show its backlink twice
    assert sorted(rows, key=lambda r: str(r["url_to"])) == sorted(
        expected, key=lambda r: str(r["url_to"]))

"""The index end to end: archives the tests write → ingest → build → query, every column."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import networkx as nx
import orjson
import pytest

from linkatlas.columns import NAMES
from linkatlas.extract.ingest import ingest
from linkatlas.observations import CheckLog, Observation
from linkatlas.urls import registered_domain

from .archives import page, redirect, status, write_warc
from .conftest import build_quietly, run_query

HOME = """<!doctype html><html lang="en"><head><title> The  Alpha &amp; Omega </title>
<meta charset="utf-8"></head><body>
<p>Before the first link there is some text about old tools and gardens.</p>
<a href="http://dead.test/gone">gone page</a>
<p>Text after the link, describing why it matters to readers.</p>
<a href="https://blog.dead.test/post?id=1#frag" rel="nofollow">a post</a>
{extra}
<a href="/local">local</a>
<a href="http://ok.test/">fine</a>
</body></html>"""


def _first_round(tmp: Path) -> Path:
    return write_warc(tmp / "round1.warc.gz", [
        page("http://www.alpha.test/", "2024-01-01T10:00:00Z",
             HOME.format(extra='<a href="http://dns.test/x"><img src=i.png alt="logo"></a>')),
        status("http://dead.test/gone", "2024-01-02T00:00:00Z", 404),
        page("http://ok.test/", "2024-01-02T00:00:00Z", "<title>ok</title>"),
        redirect("http://www.alpha.test/old", "2024-01-01T11:00:00Z", "http://dead.test/moved"),
        status("http://dead.test/moved", "2024-01-03T00:00:00Z", 410),
        status("https://blog.dead.test/post?id=1", "2024-01-03T00:00:00Z", 500),
    ])


def _second_round(tmp: Path) -> Path:
    return write_warc(tmp / "round2.warc.gz", [
        page("http://www.alpha.test/", "2024-02-01T10:00:00Z", HOME.format(extra="")),
        page("http://www.alpha.test/", "2024-02-10T10:00:00Z", HOME.format(extra="")),
        status("http://dead.test/gone", "2024-02-05T00:00:00Z", 404),
        status("https://blog.dead.test/post?id=1", "2024-02-05T00:00:00Z", 200),
    ])


def _index(root: Path) -> Path:
    data = root / "data"
    ingest(data, [_first_round(root)])
    with CheckLog(data, name="checks.jsonl") as log:
        log.append(Observation("http://dns.test/x", "2024-01-05T00:00:00Z", 0, "dns"))
    build_quietly(data)
    return data


@pytest.fixture
def index(tmp_path: Path, pinned_now: None) -> Path:
    """The first round, built: a test may add to it."""
    return _index(tmp_path)


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same index built once, for the tests that only query it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LINKATLAS_NOW", "2024-03-01T00:00:00Z")
        yield _index(tmp_path_factory.mktemp("index"))


def _rows(data: Path, **params: str) -> list[dict[str, object]]:
    defaults = {"target": "dead.test", "mode": "subdomains", "order_by": "url_to"}
    return run_query(data, **{**defaults, **params})


def _scale(scores: dict[str, float], inbound: set[str]) -> dict[str, int]:
    """spec/COLUMNS.md's 0–100 logarithmic scale, written out again (docs/ratings.md)."""
    low, high = min(scores.values()), max(scores.values())
    return {node: 0 if node not in inbound else
            max(1, min(100, math.floor(100 * math.log(score / low) / math.log(high / low) + 0.5)))
            for node, score in scores.items()}


def _independent_ratings(pages: dict[str, list[str]]) -> tuple[dict[str, int], dict[str, int],
                                                                 dict[str, int]]:
    """URL Rating, Domain Rating and rank of a tiny web by networkx, from its dofollow links."""
    def domain(url: str) -> str:
        return registered_domain(urlsplit(url).hostname or "")

    page_graph = nx.DiGraph()
    domain_graph = nx.DiGraph()
    for source, targets in pages.items():
        page_graph.add_node(source)
        domain_graph.add_node(domain(source))
        for target in targets:
            page_graph.add_edge(source, target)
            domain_graph.add_node(domain(target))
            if domain(source) != domain(target):
                domain_graph.add_edge(domain(source), domain(target))
    url_scores = nx.pagerank(page_graph, alpha=0.85, tol=1e-12, max_iter=1000)
    domain_scores = nx.pagerank(domain_graph, alpha=0.85, tol=1e-12, max_iter=1000)
    ranked = sorted(domain_scores, key=lambda d: (-domain_scores[d], d))
    return (_scale(url_scores, {t for _, t in page_graph.edges}),
            _scale(domain_scores, {t for _, t in domain_graph.edges}),
            {domain: i + 1 for i, domain in enumerate(ranked)})


def test_every_column_of_a_backlink(index: Path, tmp_path: Path) -> None:
    # A fan page links to the source page: the source's URL Rating and Domain Rating are not 0.
    ingest(index, [write_warc(tmp_path / "fan.warc.gz", [
        page("http://fan.test/", "2024-01-01T09:00:00Z",
             '<a href="http://www.alpha.test/">the alpha page</a>'
             # neither a nofollow link nor a form is a vote: /old keeps URL Rating 0
             '<a rel="nofollow" href="http://www.alpha.test/old">old</a>'
             '<form action="http://www.alpha.test/old"><input name=q></form>')])])
    build_quietly(index)
    url_rating, domain_rating, rank = _independent_ratings({  # dofollow href/redirect links
        "http://www.alpha.test/": ["http://dead.test/gone", "http://dns.test/x",
                                   "http://www.alpha.test/local", "http://ok.test/"],
        "http://www.alpha.test/old": ["http://dead.test/moved"],
        "http://fan.test/": ["http://www.alpha.test/"],
    })
    assert url_rating["http://www.alpha.test/"] > 0 and domain_rating["alpha.test"] > 0
    (moved,) = _rows(index, mode="exact", target="dead.test/moved")
    assert (moved["url_from"], moved["ahrefs_rank"]) == (
        "http://www.alpha.test/old", url_rating["http://www.alpha.test/old"])
    rows = _rows(index, mode="exact", target="dead.test/gone")
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == list(NAMES)
    assert row == {
        "url_from": "http://www.alpha.test/", "url_to": "http://dead.test/gone",
        "ahrefs_rank": url_rating["http://www.alpha.test/"],
        "domain_rating": domain_rating["alpha.test"], "ahrefs_top": rank["dead.test"],
        "ip_from": "203.0.113.7",
        "links_internal": 1, "links_external": 4, "page_size": len(HOME.format(
            extra='<a href="http://dns.test/x"><img src=i.png alt="logo"></a>').encode()),
        "language": "en", "encoding": "utf8", "title": "The Alpha & Omega",
        "first_seen": "2024-01-01T10:00:00Z", "last_visited": "2024-01-01T10:00:00Z",
        "prev_visited": "", "original": True, "link_type": "href", "redirect": 0,
        "nofollow": False, "alt": "", "anchor": "gone page",
        "text_pre": "Before the first link there is some text about old tools and gardens.",
        "text_post": "Text after the link, describing why it matters to readers. a post local "
                     "fine",
        "broken_at": "2024-01-02T00:00:00Z", "url_from_first_seen": "2024-01-01T10:00:00Z",
        "http_code": 404, "error": "",
    }


def test_redirect_image_dns_and_nofollow_backlinks(read_only: Path) -> None:
    index = read_only
    by_target = {row["url_to"]: row for row in _rows(index)}
    moved = by_target["http://dead.test/moved"]
    assert (moved["link_type"], moved["redirect"], moved["title"], moved["encoding"]) == (
        "redirect", 301, "301 Moved Permanently", "raw")
    assert moved["url_from"] == "http://www.alpha.test/old" and moved["http_code"] == 410
    post = by_target["https://blog.dead.test/post?id=1"]
    assert post["nofollow"] is True and post["http_code"] == 500
    dns = _rows(index, target="dns.test", mode="domain")
    assert [(r["http_code"], r["error"], r["alt"], r["anchor"]) for r in dns] == [
        (0, "dns", "logo", "")]


def test_history_across_visits(index: Path, tmp_path: Path) -> None:
    ingest(index, [_second_round(tmp_path)])
    report = build_quietly(index)
    assert report["archives"] == 2 and report["archives_parsed"] == 1
    by_target = {row["url_to"]: row for row in _rows(index)}
    gone = by_target["http://dead.test/gone"]
    assert (gone["first_seen"], gone["prev_visited"], gone["last_visited"]) == (
        "2024-01-01T10:00:00Z", "2024-02-01T10:00:00Z", "2024-02-10T10:00:00Z")
    assert gone["original"] is True and gone["broken_at"] == "2024-01-02T00:00:00Z"
    # 500 at the first check, 200 later: fixed, so no longer a broken backlink.
    assert "https://blog.dead.test/post?id=1" not in by_target
    # The image link is gone from the latest visit: not live, even though its target is dead.
    assert _rows(index, target="dns.test", mode="domain") == []


def test_page_whose_latest_visit_fails_has_no_live_links(index: Path, tmp_path: Path) -> None:
    ingest(index, [write_warc(tmp_path / "later.warc.gz", [
        status("http://www.alpha.test/", "2024-02-20T00:00:00Z", 404)])])
    build_quietly(index)
    assert all(row["url_from"] != "http://www.alpha.test/" for row in _rows(index))


def test_broken_streak_and_transient_observations(index: Path, tmp_path: Path) -> None:
    with CheckLog(index, name="more.jsonl") as log:
        for when, code, error in [("2024-02-01T00:00:00Z", 200, ""),
                                  ("2024-02-02T00:00:00Z", 404, ""),
                                  ("2024-02-03T00:00:00Z", 404, ""),
                                  ("2024-02-04T00:00:00Z", 0, "timeout"),
                                  ("2024-02-05T00:00:00Z", 429, "")]:
            log.append(Observation("http://dead.test/gone", when, code, error))
    build_quietly(index)
    (row,) = _rows(index, mode="exact", target="https://dead.test/gone")
    assert (row["http_code"], row["broken_at"]) == (404, "2024-02-02T00:00:00Z")


def test_a_torn_check_log_line_is_skipped(index: Path) -> None:
    with (index / "checks" / "torn.jsonl").open("ab") as stream:
        stream.write(orjson.dumps({"url": "http://ok.test/", "time": "2024-02-01T00:00:00Z",
                                   "http_code": 404, "error": ""}) + b"\n{\"url\": \"http://")
    build_quietly(index)
    assert [r["url_to"] for r in _rows(index, target="ok.test", mode="domain")] == [
        "http://ok.test/"]


def test_rebuild_without_new_input_gives_the_same_rows(index: Path) -> None:
    before = _rows(index, order_by="url_from")
    report = build_quietly(index)
    assert report["archives_parsed"] == 0
    assert _rows(index, order_by="url_from") == before


def test_ingesting_twice_changes_nothing(index: Path, tmp_path: Path) -> None:
    again = ingest(index, [_first_round(tmp_path)])
    assert [item.new for item in again] == [False]
    assert len(list((index / "archives").iterdir())) == 1


@pytest.mark.parametrize(("target", "mode", "expected"), [
    ("dead.test/gone", "exact", {"http://dead.test/gone"}),
    ("https://DEAD.test/gone", "exact", {"http://dead.test/gone"}),
    ("dead.test", "domain", {"http://dead.test/gone", "http://dead.test/moved"}),
    ("dead.test/anything", "domain", {"http://dead.test/gone", "http://dead.test/moved"}),
    ("dead.test", "subdomains", {"http://dead.test/gone", "http://dead.test/moved",
                                 "https://blog.dead.test/post?id=1"}),
    ("blog.dead.test", "subdomains", {"https://blog.dead.test/post?id=1"}),
    ("ead.test", "subdomains", set()),
    ("dead.test/mo", "prefix", {"http://dead.test/moved"}),
    ("dead.test/", "prefix", {"http://dead.test/gone", "http://dead.test/moved"}),
])
def test_modes(read_only: Path, target: str, mode: str, expected: set[str]) -> None:
    assert {row["url_to"] for row in _rows(read_only, target=target, mode=mode)} == expected


def test_page_whose_host_vanished_has_no_live_links(index: Path) -> None:
    with CheckLog(index, name="vanished.jsonl") as log:
        log.append(Observation("http://www.alpha.test/", "2024-02-20T00:00:00Z", 0, "dns",
                               method="crawl", source="crawl"))
        log.append(Observation("http://www.alpha.test/old", "2024-02-20T00:00:00Z", 0,
                               "timeout", method="crawl", source="crawl"))
    build_quietly(index)
    sources = {row["url_from"] for row in _rows(index)}
    assert "http://www.alpha.test/" not in sources  # NXDOMAIN: vanished
    assert "http://www.alpha.test/old" in sources  # a timeout proves nothing


def test_a_revisit_is_a_visit_with_the_links_it_refers_to(index: Path, tmp_path: Path) -> None:
    from .archives import write_revisit

    ingest(index, [write_revisit(tmp_path / "revisit.warc.gz", "http://www.alpha.test/",
                                 "2024-02-15T00:00:00Z", "2024-01-01T10:00:00Z")])
    report = build_quietly(index)
    assert report["records"]["revisit"] == 1  # type: ignore[index]
    (row,) = _rows(index, mode="exact", target="dead.test/gone")
    assert (row["first_seen"], row["prev_visited"], row["last_visited"]) == (
        "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z", "2024-02-15T00:00:00Z")
    assert row["title"] == "The Alpha & Omega" and row["ip_from"] == "203.0.113.7"


def test_due_targets_wait_for_a_running_build(index: Path) -> None:
    """check extracts into the same cache as build: it waits for a build's lock."""
    import fcntl
    import threading

    from linkatlas.index.due import due_targets

    done = threading.Event()
    with (index / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = threading.Thread(target=lambda: (due_targets(index, 7.0), done.set()))
        waiting.start()
        assert not done.wait(1.0)
    assert done.wait(120)
    waiting.join()

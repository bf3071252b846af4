"""A referring page's history (spec/COLUMNS.md first_seen, original, url_from_first_seen, and
"a backlink is live"): what each of its visits and later observations proves, end to end
(archives → ingest → build → query). Each rule here was once broken by a planted one-line
bug that the rest of the suite let through (issue 17, docs/testing.md "Mutation testing")."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkatlas.extract.ingest import ingest
from linkatlas.observations import CheckLog, Observation

from .archives import Response, page, redirect, status, write_revisit, write_warc
from .conftest import build_quietly, run_query

SOURCE = "http://www.source.test/list"


def _links(*targets: str) -> str:
    return "<title>list</title>" + "".join(f'<a href="{t}">{t}</a>' for t in targets)


def _index(data: Path, tmp: Path, visits: list[Response],
           observations: list[tuple[str, str, int, str]] | None = None,
           archives: tuple[Path, ...] = ()) -> Path:
    """Build an index of `visits` (with the dead targets' 404s), further `archives` and
    check-log lines (url, time, http_code, error)."""
    dead = [status(f"http://dead.test/{name}", "2024-01-01T00:00:00Z", 404)
            for name in ("old", "new", "moved")]
    ingest(data, [write_warc(tmp / "visits.warc.gz", [*visits, *dead]), *archives])
    with CheckLog(data, name="checks.jsonl") as log:
        for url, time, code, error in observations or []:
            log.append(Observation(url, time, code, error, method="crawl", source="crawl"))
    build_quietly(data)
    return data


def _backlinks(data: Path) -> dict[str, dict[str, object]]:
    rows = run_query(data, target="dead.test", mode="domain", order_by="url_to")
    return {str(row["url_to"]): row for row in rows}


def _history(row: dict[str, object]) -> tuple[object, ...]:
    return (row["first_seen"], row["original"], row["url_from_first_seen"])


@pytest.fixture
def data(tmp_path: Path, pinned_now: None) -> Path:
    return tmp_path / "data"


def test_a_link_added_at_a_later_visit_is_not_original(data: Path, tmp_path: Path) -> None:
    _index(data, tmp_path, [
        page(SOURCE, "2024-01-10T00:00:00Z", _links("http://dead.test/old")),
        page(SOURCE, "2024-01-20T00:00:00Z",
             _links("http://dead.test/old", "http://dead.test/new"))])
    rows = _backlinks(data)
    assert _history(rows["http://dead.test/old"]) == (
        "2024-01-10T00:00:00Z", True, "2024-01-10T00:00:00Z")
    assert _history(rows["http://dead.test/new"]) == (
        "2024-01-20T00:00:00Z", False, "2024-01-10T00:00:00Z")


def test_a_link_on_a_page_first_seen_without_links_is_not_original(
        data: Path, tmp_path: Path) -> None:
    _index(data, tmp_path, [
        page(SOURCE, "2024-01-10T00:00:00Z", "<title>soon</title><p>nothing yet</p>"),
        page(SOURCE, "2024-01-20T00:00:00Z", _links("http://dead.test/new"))])
    assert _history(_backlinks(data)["http://dead.test/new"]) == (
        "2024-01-20T00:00:00Z", False, "2024-01-10T00:00:00Z")


@pytest.mark.parametrize("code", [404, 500])
def test_a_failed_first_visit_is_not_the_pages_first_good_visit(
        data: Path, tmp_path: Path, code: int) -> None:
    _index(data, tmp_path, [
        status(SOURCE, "2024-01-05T00:00:00Z", code),
        page(SOURCE, "2024-01-10T00:00:00Z", _links("http://dead.test/old"))])
    assert _history(_backlinks(data)["http://dead.test/old"]) == (
        "2024-01-10T00:00:00Z", True, "2024-01-10T00:00:00Z")


def test_a_redirecting_page_is_a_good_visit(data: Path, tmp_path: Path) -> None:
    """A page that only ever redirected was seen, and its redirect backlink was there from
    its first visit."""
    _index(data, tmp_path, [
        redirect(SOURCE, "2024-01-10T00:00:00Z", "http://dead.test/moved"),
        redirect(SOURCE, "2024-01-20T00:00:00Z", "http://dead.test/moved", status=302)])
    row = _backlinks(data)["http://dead.test/moved"]
    assert _history(row) == ("2024-01-10T00:00:00Z", True, "2024-01-10T00:00:00Z")
    assert (row["prev_visited"], row["last_visited"], row["redirect"]) == (
        "2024-01-10T00:00:00Z", "2024-01-20T00:00:00Z", 302)


def _sources(data: Path) -> set[object]:
    return {row["url_from"] for row in _backlinks(data).values()}


def test_a_timeout_or_429_after_a_404_does_not_bring_a_dead_page_back(
        data: Path, tmp_path: Path) -> None:
    _index(data, tmp_path, [page(SOURCE, "2024-01-10T00:00:00Z", _links("http://dead.test/old"))],
           [(SOURCE, "2024-02-01T00:00:00Z", 404, ""),
            (SOURCE, "2024-02-02T00:00:00Z", 0, "timeout"),
            (SOURCE, "2024-02-03T00:00:00Z", 429, ""),
            (SOURCE, "2024-02-04T00:00:00Z", 999, "")])
    assert _sources(data) == set()


def test_a_page_that_answers_a_redirect_after_a_404_is_alive_again(
        data: Path, tmp_path: Path) -> None:
    _index(data, tmp_path, [page(SOURCE, "2024-01-10T00:00:00Z", _links("http://dead.test/old"))],
           [(SOURCE, "2024-02-01T00:00:00Z", 404, ""),
            (SOURCE, "2024-02-02T00:00:00Z", 301, "")])
    assert _sources(data) == {SOURCE}


def test_a_404_older_than_the_pages_last_good_visit_does_not_kill_it(
        data: Path, tmp_path: Path) -> None:
    _index(data, tmp_path, [page(SOURCE, "2024-01-10T00:00:00Z", _links("http://dead.test/old")),
                            page(SOURCE, "2024-03-01T00:00:00Z", _links("http://dead.test/old"))],
           [(SOURCE, "2024-02-01T00:00:00Z", 404, "")])
    assert _sources(data) == {SOURCE}


def test_a_404_logged_in_the_second_of_a_good_visit_does_not_kill_the_page(
        data: Path, tmp_path: Path) -> None:
    """Dead means a failure *newer* than the last good visit; the archived visit, which holds
    the links, wins a tie (times are to the second)."""
    _index(data, tmp_path, [page(SOURCE, "2024-01-10T00:00:00Z", _links("http://dead.test/old"))],
           [(SOURCE, "2024-01-10T00:00:00Z", 404, "")])
    assert _sources(data) == {SOURCE}


# The columns a backlink takes from its referring page's visit (spec/COLUMNS.md).
PAGE_FACTS = ("ip_from", "title", "language", "encoding", "page_size", "links_internal",
              "links_external")


def test_a_pages_facts_come_from_its_latest_good_capture_with_a_body(
        data: Path, tmp_path: Path) -> None:
    """Two good visits that differ in every fact, then a 429 (an answer with a body, but no
    page) and a revisit (a good visit without a body): every fact of the page is the second
    good visit's, while the revisit still counts as its latest visit."""
    older = ('<html lang="de"><head><meta charset="iso-8859-1"><title>Alte Liste</title>'
             '</head><body><p>Diese Seite enthält eine Liste von Verweisen auf andere Seiten, '
             'die früher sehr nützlich waren und heute leider nicht mehr erreichbar sind.</p>'
             '<a href="http://dead.test/old">alt</a><a href="/a">intern</a></body></html>')
    newer = ('<html lang="en"><head><title>New list</title></head><body><p>This page holds '
             'a list of links to other sites that used to be very useful and are now gone, '
             'sadly, for good.</p><a href="http://dead.test/old">old</a>'
             '<a href="http://other.test/x">other</a><a href="/a">a</a><a href="/b">b</a>'
             '<a href="/c">c</a></body></html>')
    latin = [("Content-Type", "text/html; charset=iso-8859-1")]
    slow_down = b"<html><head><title>Slow down</title></head><body>Too many requests</body>"
    _index(data, tmp_path, [
        Response(SOURCE, "2024-01-10T00:00:00Z", 200, older.encode("iso-8859-1"), latin,
                 ip="198.51.100.1"),
        page(SOURCE, "2024-01-20T00:00:00Z", newer, ip="198.51.100.2"),
        Response(SOURCE, "2024-02-01T00:00:00Z", 429, slow_down, ip="198.51.100.9")],
        archives=(write_revisit(tmp_path / "revisit.warc.gz", SOURCE, "2024-02-10T00:00:00Z",
                                "2024-01-20T00:00:00Z"),))
    row = _backlinks(data)["http://dead.test/old"]
    assert {name: row[name] for name in PAGE_FACTS} == {
        "ip_from": "198.51.100.2", "title": "New list", "language": "en", "encoding": "utf8",
        "page_size": len(newer.encode()), "links_internal": 3, "links_external": 2}
    assert (row["url_from_first_seen"], row["prev_visited"], row["last_visited"]) == (
        "2024-01-10T00:00:00Z", "2024-01-20T00:00:00Z", "2024-02-10T00:00:00Z")

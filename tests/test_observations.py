"""What the build counts as an observation of a URL's status (spec/COLUMNS.md "Broken"):
every archived response, a redirect with the Location it gave at that capture, and every
check-log line that names a URL, a time and a status; a foreign line is skipped."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from linkatlas.extract.ingest import ingest

from .archives import Response, page, redirect, status, write_revisit, write_warc
from .conftest import build_quietly, run_query

SOURCE = "http://www.source.test/list"
MOVED = "http://moved.test/a"
SELECT = "url_to,http_code,error,url_redirect,redirect_code,broken_at"


@pytest.fixture
def data(tmp_path: Path, pinned_now: None) -> Path:
    return tmp_path / "data"


def _build(data: Path, tmp: Path, captures: list[Response],
           lines: list[dict[str, object]] | None = None) -> dict[str, dict[str, object]]:
    """Backlinks of SOURCE (linking to MOVED) after the captures and raw check-log lines."""
    ingest(data, [write_warc(tmp / "a.warc.gz", [
        page(SOURCE, "2024-01-01T00:00:00Z", f'<a href="{MOVED}">moved</a>'), *captures])])
    if lines:
        (data / "checks").mkdir(parents=True, exist_ok=True)
        (data / "checks" / "foreign.jsonl").write_bytes(
            b"".join(orjson.dumps(line) + b"\n" for line in lines))
    build_quietly(data)
    rows = run_query(data, target="moved.test", mode="domain", select=SELECT)
    return {str(row["url_to"]): row for row in rows}


# MOVED redirects (301) to dead.test/x, which answered 404 on Jan 3rd
BROKEN_THROUGH_DEAD_X = {"url_to": MOVED, "http_code": 404, "error": "",
                         "url_redirect": "http://dead.test/x", "redirect_code": 301,
                         "broken_at": "2024-01-03T00:00:00Z"}


def test_an_archived_redirect_is_followed_to_its_end(data: Path, tmp_path: Path) -> None:
    rows = _build(data, tmp_path, [
        redirect(MOVED, "2024-01-02T00:00:00Z", "http://dead.test/x"),
        status("http://dead.test/x", "2024-01-03T00:00:00Z", 404)])
    assert rows[MOVED] == BROKEN_THROUGH_DEAD_X


def test_the_location_of_the_latest_redirect_capture_counts(data: Path, tmp_path: Path) -> None:
    """The same URL redirected to a dead page, later to a good one: fixed."""
    rows = _build(data, tmp_path, [
        redirect(MOVED, "2024-01-02T00:00:00Z", "http://dead.test/x"),
        status("http://dead.test/x", "2024-01-03T00:00:00Z", 404),
        redirect(MOVED, "2024-01-04T00:00:00Z", "http://fine.test/y", status=302),
        page("http://fine.test/y", "2024-01-05T00:00:00Z", "<title>fine</title>")])
    assert rows == {}


@pytest.mark.parametrize("line", [
    {"url": MOVED, "time": "yesterday", "http_code": 404, "error": ""},
    {"url": MOVED, "time": "2024-02-01T00:00:00Z", "error": "dns"},
    {"url": MOVED, "time": "2024-02-01T00:00:00Z", "http_code": None, "error": "dns"},
], ids=["unreadable time", "no status", "null status"])
def test_a_foreign_check_log_line_is_skipped(data: Path, tmp_path: Path,
                                             line: dict[str, object]) -> None:
    rows = _build(data, tmp_path, [page(MOVED, "2024-01-02T00:00:00Z", "<title>ok</title>")],
                  [line])
    assert rows == {}  # the good capture stands


def test_a_redirect_is_broken_from_when_it_began_to_point_at_a_dead_page(
        data: Path, tmp_path: Path) -> None:
    """Each capture's own Location: MOVED led to a good page, then (from day 3) to one dead
    since day 2, so the backlink is broken from day 3."""
    rows = _build(data, tmp_path, [
        redirect(MOVED, "2024-01-01T12:00:00Z", "http://fine.test/y"),
        page("http://fine.test/y", "2024-01-01T13:00:00Z", "<title>fine</title>"),
        status("http://dead.test/x", "2024-01-02T00:00:00Z", 404),
        redirect(MOVED, "2024-01-03T00:00:00Z", "http://dead.test/x"),
        redirect(MOVED, "2024-01-04T00:00:00Z", "http://dead.test/x")])
    assert (rows[MOVED]["url_redirect"], rows[MOVED]["broken_at"]) == (
        "http://dead.test/x", "2024-01-03T00:00:00Z")


def test_two_redirects_captured_in_the_same_second_keep_their_own_locations(
        data: Path, tmp_path: Path) -> None:
    other = "http://moved.test/b"
    ingest(data, [write_warc(tmp_path / "b.warc.gz", [
        page("http://www.other.test/", "2024-01-01T00:00:00Z", f'<a href="{other}">b</a>')])])
    rows = _build(data, tmp_path, [
        status("http://dead.test/x", "2024-01-02T00:00:00Z", 404),
        page("http://fine.test/y", "2024-01-02T00:00:00Z", "<title>fine</title>"),
        redirect(MOVED, "2024-01-03T00:00:00Z", "http://dead.test/x"),
        redirect(other, "2024-01-03T00:00:00Z", "http://fine.test/y")])
    assert list(rows) == [MOVED]
    assert (rows[MOVED]["url_redirect"], rows[MOVED]["broken_at"]) == (
        "http://dead.test/x", "2024-01-03T00:00:00Z")


def test_a_revisit_of_a_redirect_still_redirects(data: Path, tmp_path: Path) -> None:
    """A revisit record of a 301 (the same empty payload as the redirect it refers to, as
    crawlers deduplicate them) is a capture at which the URL still redirected there."""
    ingest(data, [write_revisit(tmp_path / "revisit.warc.gz", MOVED, "2024-01-10T00:00:00Z",
                                "2024-01-02T00:00:00Z", location="http://dead.test/x")])
    rows = _build(data, tmp_path, [
        redirect(MOVED, "2024-01-02T00:00:00Z", "http://dead.test/x"),
        status("http://dead.test/x", "2024-01-03T00:00:00Z", 404)])
    assert rows[MOVED] == BROKEN_THROUGH_DEAD_X

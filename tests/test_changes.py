"""Changes between snapshots: `diff`, the changes log and `from=broken_backlinks_changes`,
on archives written by the test, each kind of change once."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from linkatlas import cli
from linkatlas.api.planner import parse_request, plan
from linkatlas.api.query import fetch, open_reader
from linkatlas.api.tables import CHANGES
from linkatlas.errors import QueryError, UsageError
from linkatlas.extract.ingest import ingest
from linkatlas.observations import CheckLog, Observation
from linkatlas.snapshot import changes_log_files as log_files
from linkatlas.snapshot import current
from linkatlas.watch.diff import diff

from .archives import page, redirect, status, write_warc
from .conftest import build_quietly


def _html(*targets: str) -> str:
    links = "".join(f'<p>see <a href="{t}">{t.rsplit("/", 1)[-1]}</a></p>' for t in targets)
    return f"<html><head><title>t</title></head><body>{links}</body></html>"


ONE = "http://a.test/one"
STAYS = "http://dead.test/stays"
ROUND_1 = [
    page(ONE, "2024-01-01T00:00:00Z", _html("http://dead.test/fixed", "http://dead.test/redir",
                                            STAYS, "http://dead.test/removed",
                                            "http://ok.test/later")),
    page("http://b.test/gone-page", "2024-01-01T00:00:00Z", _html(STAYS)),
    page("http://c.test/moved-page", "2024-01-01T00:00:00Z", _html(STAYS)),
    page("http://vanish.test/", "2024-01-01T00:00:00Z", _html(STAYS)),
    *[status(f"http://dead.test/{name}", "2024-01-02T00:00:00Z", 404)
      for name in ("fixed", "redir", "stays", "removed")],
    page("http://ok.test/later", "2024-01-02T00:00:00Z", "<title>fine</title>"),
]
ROUND_2 = [
    page(ONE, "2024-02-01T00:00:00Z", _html("http://dead.test/fixed", "http://dead.test/redir",
                                            STAYS, "http://ok.test/later")),
    status("http://b.test/gone-page", "2024-02-01T00:00:00Z", 404),
    redirect("http://c.test/moved-page", "2024-02-01T00:00:00Z", "http://c.test/elsewhere"),
    page("http://dead.test/fixed", "2024-02-02T00:00:00Z", "<title>back</title>"),
    redirect("http://dead.test/redir", "2024-02-02T00:00:00Z", "http://dead.test/new-home"),
    page("http://dead.test/new-home", "2024-02-02T00:00:00Z", "<title>new home</title>"),
    status("http://ok.test/later", "2024-02-02T00:00:00Z", 410),
]
# (change, reason, url_from, url_to): what the two rounds above changed, and nothing else
EXPECTED = {
    ("new", "", ONE, "http://ok.test/later"),
    ("fixed", "target_good", ONE, "http://dead.test/fixed"),
    ("fixed", "target_redirects_good", ONE, "http://dead.test/redir"),
    ("lost", "link_removed", ONE, "http://dead.test/removed"),
    ("lost", "page_gone", "http://b.test/gone-page", STAYS),
    ("lost", "page_redirects", "http://c.test/moved-page", STAYS),
    ("lost", "host_gone", "http://vanish.test/", STAYS),
}


def _two_rounds(data: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch,
                build: Callable[[Path], object] = build_quietly) -> None:
    monkeypatch.setenv("LINKATLAS_NOW", "2024-01-10T00:00:00Z")
    ingest(data, [write_warc(tmp / "one.warc.gz", ROUND_1)])
    build(data)
    monkeypatch.setenv("LINKATLAS_NOW", "2024-02-10T00:00:00Z")
    ingest(data, [write_warc(tmp / "two.warc.gz", ROUND_2)])
    with CheckLog(data, name="vanished.jsonl") as log:
        log.append(Observation("http://vanish.test/", "2024-02-03T00:00:00Z", 0, "dns",
                               method="crawl", source="crawl"))
    build(data)


@pytest.fixture
def rounds(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _two_rounds(data, tmp_path, monkeypatch)
    return data


def _table(data: Path, **params: str) -> list[dict[str, object]]:
    values = {"target": ["test"], "mode": ["subdomains"], **{k: [v] for k, v in params.items()}}
    request = parse_request(values, CHANGES.name)
    query = plan(request, current(data))
    rows = [row for batch in fetch(open_reader(), query) for row in batch]
    if request.output == "json":
        return [json.loads(row[0]) for row in rows]
    return [dict(zip(query.columns, row, strict=True)) for row in rows]


def test_diff_finds_each_kind_of_change(rounds: Path) -> None:
    found = diff(rounds)
    assert {(r["change"], r["reason"], r["url_from"], r["url_to"]) for r in found.rows} == (
        EXPECTED)
    assert found.counts() == {"new": 1, "fixed": 2, "lost": 4}
    # grouped by target, in target-key order
    assert [url for url, _ in found.by_target()] == [
        "http://dead.test/fixed", "http://dead.test/redir", "http://dead.test/removed", STAYS,
        "http://ok.test/later"]
    lost = next(r for r in found.rows if r["reason"] == "link_removed")
    assert lost["http_code"] == 404 and lost["anchor"] == "removed"  # the row while broken
    new = next(r for r in found.rows if r["change"] == "new")
    assert new["http_code"] == 410 and str(new["changed_at"]) == "2024-02-10 00:00:00"


def test_the_changes_table_serves_the_log(rounds: Path) -> None:
    rows = _table(rounds, order_by="url_to,url_from")
    assert {(r["change"], r["reason"], r["url_from"], r["url_to"]) for r in rows} == EXPECTED
    assert list(rows[0]) == list(CHANGES.names)
    assert {r["changed_at"] for r in rows} == {"2024-02-10T00:00:00Z"}
    lost = _table(rounds, where='change="lost",reason<>"link_removed"', select="url_from")
    assert sorted(r["url_from"] for r in lost) == [
        "http://b.test/gone-page", "http://c.test/moved-page", "http://vanish.test/"]
    since = _table(rounds, where='changed_at>="2024-02-01"', having='change="new"')
    assert [r["url_to"] for r in since] == ["http://ok.test/later"]
    assert _table(rounds, where='changed_at<"2024-02-01"') == []
    exact = _table(rounds, target="dead.test/redir", mode="exact", output="csv")
    assert [(r["change"], r["reason"]) for r in exact] == [("fixed", "target_redirects_good")]


def test_change_columns_belong_to_the_changes_table_only(rounds: Path) -> None:
    with pytest.raises(QueryError, match="column 'change' not found"):
        parse_request({"target": ["a.test"], "mode": ["domain"], "where": ['change="new"']})
    with pytest.raises(QueryError, match="where: column 'change' is string, got int 1"):
        parse_request({"target": ["a.test"], "mode": ["domain"], "where": ["change=1"]},
                      CHANGES.name)


def test_the_log_outlives_snapshot_retention(rounds: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    for day in range(11, 15):
        monkeypatch.setenv("LINKATLAS_NOW", f"2024-02-{day}T00:00:00Z")
        build_quietly(rounds)
    assert len(list((rounds / "snapshots").iterdir())) == 3
    assert len(log_files(rounds)) == 6  # the baseline, the change, four builds without any
    rows = _table(rounds)
    assert {(r["change"], r["reason"], r["url_from"], r["url_to"]) for r in rows} == EXPECTED
    assert diff(rounds).rows == []


def test_diff_between_named_snapshots_and_the_outputs(rounds: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    first, second = sorted(p.name for p in (rounds / "snapshots").iterdir())
    backwards = diff(rounds, second, first)  # the other way: fixed ones are new again
    assert {(r["change"], r["url_to"]) for r in backwards.rows if r["change"] == "new"} == {
        ("new", "http://dead.test/fixed"), ("new", "http://dead.test/redir"),
        ("new", "http://dead.test/removed"), ("new", STAYS)}
    assert {r["url_to"] for r in backwards.rows if r["change"] != "new"} == {
        "http://ok.test/later"}

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as done:
            cli.main(["--data", str(rounds), "diff", *args])
        assert done.value.code == 0
        return capsys.readouterr().out

    body = json.loads(run("--output", "json"))
    assert (body["from"], body["to"], body["counts"]) == (first, second, {
        "new": 1, "fixed": 2, "lost": 4})
    assert [t["url_to"] for t in body["targets"]][-1] == "http://ok.test/later"
    assert {(c["change"], c["reason"], c["url_from"], t["url_to"])
            for t in body["targets"] for c in t["changes"]} == EXPECTED
    table = list(csv.DictReader(io.StringIO(run("--output", "csv", "--from", first))))
    assert {(r["change"], r["reason"], r["url_from"], r["url_to"]) for r in table} == EXPECTED
    text = run()
    assert "1 new, 2 fixed, 4 lost" in text and "page_redirects" in text


def test_diff_refuses_unknown_snapshots_and_a_first_build(data: Path, tmp_path: Path,
                                                          pinned_now: None) -> None:
    ingest(data, [write_warc(tmp_path / "one.warc.gz", ROUND_1)])
    build_quietly(data)
    with pytest.raises(UsageError, match="nothing to compare yet"):
        diff(data)
    with pytest.raises(UsageError, match=r"--from: no snapshot '\.\./x'"):
        diff(data, "../x")
    assert _table(data) == []  # the first build is the baseline: no changes

"""Re-check now: `check URL...` observes just those targets on a real HTTP server and publishes
a patched snapshot equal to what a full rebuild gives, touching only the affected rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from linkatlas import cli
from linkatlas.check.checker import CheckOptions
from linkatlas.errors import UsageError
from linkatlas.extract.ingest import ingest
from linkatlas.index.recheck import _lock, recheck
from linkatlas.snapshot import current

from .archives import page, status, write_warc
from .conftest import build_quietly
from .ports import free_port


class Targets:
    """An HTTP server whose answer per path the test sets (HEAD and GET alike)."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.location: dict[str, str] = {}
        self.requests: list[str] = []
        answers, locations, log = self.status, self.location, self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                log.append(self.path)
                self.send_response(answers.get(self.path, 404))
                if self.path in locations:
                    self.send_header("Location", locations[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://t.test:{self.port}{path}"


@pytest.fixture
def targets() -> Iterator[Targets]:
    server = Targets()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _html(*links: str) -> str:
    return "<title>p</title>" + "".join(f'<a href="{u}">{u[-2:]}</a> text ' for u in links)


@pytest.fixture
def index(data: Path, tmp_path: Path, targets: Targets, monkeypatch: pytest.MonkeyPatch
          ) -> tuple[Path, CheckOptions]:
    """Pages on three sites linking to t.test: /fixed and /stays broken, /breaks good."""
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-01T00:00:00Z")
    fixed, stays, breaks = (targets.url(p) for p in ("/fixed", "/stays", "/breaks"))
    ingest(data, [write_warc(tmp_path / "a.warc.gz", [
        page("http://a.test/", "2024-01-01T00:00:00Z", _html(fixed, stays, breaks)),
        page("http://b.test/", "2024-01-01T00:00:00Z", _html(fixed, breaks)),
        page("http://c.test/x", "2024-01-01T00:00:00Z", _html(stays)),
        status(fixed, "2024-01-02T00:00:00Z", 404),
        status(stays, "2024-01-02T00:00:00Z", 410),
        page(breaks, "2024-01-02T00:00:00Z", "<title>fine</title>"),
    ])])
    build_quietly(data)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 t.test\n")
    return data, CheckOptions(hosts=hosts, hosts_only=True, confirm_delay=0.05, backoff=0.05)


def _rows(data: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{current(data).table}') "
                      "ORDER BY ALL").fetchall()


def test_a_recheck_patches_only_the_affected_rows_as_a_rebuild_would(
        index: tuple[Path, CheckOptions], targets: Targets,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data, options = index
    before = current(data)
    assert {row[1] for row in _rows(data)} == {targets.url("/fixed"), targets.url("/stays")}
    targets.status.update({"/fixed": 200, "/stays": 410, "/breaks": 500})
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-05T00:00:00Z")
    done = recheck(data, [targets.url("/fixed"), targets.url("/breaks")], options)
    assert sorted(done.changed) == [targets.url("/breaks"), targets.url("/fixed")]
    assert "/stays" not in targets.requests  # only the given targets are observed
    after = current(data)
    assert done.snapshot == after.id != before.id and after.manifest["previous"] == before.id
    patched = _rows(data)
    assert {(row[0], row[1]) for row in patched} == {
        ("http://a.test/", targets.url("/stays")), ("http://c.test/x", targets.url("/stays")),
        ("http://a.test/", targets.url("/breaks")), ("http://b.test/", targets.url("/breaks"))}
    # the same observations through a full rebuild give the same rows
    build_quietly(data)
    assert _rows(data) == patched
    broken_at = {row[1]: row[23] for row in patched}
    assert str(broken_at[targets.url("/breaks")]) == "2024-03-05 00:00:00"
    assert str(broken_at[targets.url("/stays")]) == "2024-01-02 00:00:00"


def test_the_changes_of_a_recheck_are_logged(index: tuple[Path, CheckOptions],
                                             targets: Targets,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from linkatlas.watch.diff import diff

    data, options = index
    targets.status.update({"/fixed": 301})
    targets.location["/fixed"] = targets.url("/breaks")
    targets.status["/breaks"] = 200
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-05T00:00:00Z")
    done = recheck(data, [targets.url("/fixed")], options)
    assert done.changed == [targets.url("/fixed")]
    found = {(r["change"], r["reason"], r["url_from"]) for r in diff(data).rows}
    assert found == {("fixed", "target_redirects_good", "http://a.test/"),
                     ("fixed", "target_redirects_good", "http://b.test/")}
    again = recheck(data, [targets.url("/fixed")], options)  # nothing new: nothing published
    assert again.changed == [] and again.snapshot == "" and current(data).id == done.snapshot


def test_only_targets_of_the_snapshot_and_one_process_at_a_time(
        index: tuple[Path, CheckOptions], targets: Targets,
        capsys: pytest.CaptureFixture[str]) -> None:
    data, options = index
    with pytest.raises(UsageError, match="not a link target in snapshot"):
        recheck(data, ["http://elsewhere.test/"], options)
    with _lock(data, 1), pytest.raises(UsageError, match="another re-check is running"):
        recheck(data, [targets.url("/fixed")], options, wait=0.2)
    assert targets.requests == []  # refused before any request
    targets.status["/fixed"] = 200
    with pytest.raises(SystemExit) as done:
        cli.main(["--data", str(data), "check", "--hosts", str(options.hosts), "--hosts-only",
                  targets.url("/fixed")])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "fixed" in out and current(data).id in out


def test_post_recheck_over_the_api(index: tuple[Path, CheckOptions], targets: Targets,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import httpx

    from linkatlas.server import Settings, create_app
    from linkatlas.watch import recheck_api

    data, options = index
    app = create_app(Settings(data, hosts=options.hosts, hosts_only=True))
    token = app.state.api.ledger.create("team", 4)

    async def call(method: str, **params: object) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, "/recheck",
                                        data=params)  # type: ignore[arg-type]

    def post(**params: object) -> httpx.Response:
        return asyncio.run(call("POST", **params))

    def rows_left() -> int:
        return int(app.state.api.ledger.info(token).rows_left)

    targets.status.update({"/fixed": 200, "/stays": 410})
    answer = post(token=token, url=[targets.url("/fixed"), targets.url("/stays")])
    assert answer.status_code == 200 and "X-Status" not in answer.headers
    assert answer.headers["Cache-Control"] == "no-store"  # a token's answer: never cached
    body = answer.json()
    assert body["snapshot"] == current(data).id
    assert [(r["url"], r["broken"], r["changed"]) for r in body["rechecked"]] == [
        (targets.url("/fixed"), False, True), (targets.url("/stays"), True, False)]
    assert rows_left() == 2  # 1 row per URL
    assert targets.url("/fixed") not in {row[1] for row in _rows(data)}  # visible at once

    def error(**params: object) -> str:
        response = post(**params)
        assert response.status_code == 200 and response.headers["X-Status"] == "error"
        return str(response.json()["error"])

    assert error(token="0" * 40, url=targets.url("/fixed")) == "invalid token"
    assert error(token=token) == "url: missing"
    assert error(token=token, url=["http://x.test/"] * 11).startswith("url: at most 10 URLs")
    assert error(token=token, url=[targets.url("/fixed")] * 3) == (
        "rows limit exceeded: 2 rows left")
    assert error(token=token, url="http://elsewhere.test/").startswith(
        "not a link target in snapshot")
    assert rows_left() == 2  # errors cost nothing
    monkeypatch.setattr(recheck_api, "RATE", 2)  # two re-checks ran: the first and the refused one
    assert error(token=token, url=targets.url("/stays")).startswith("rate limit: at most 2")
    assert asyncio.run(call("GET")).status_code == 405


def test_the_scheme_of_a_target_does_not_matter(index: tuple[Path, CheckOptions],
                                                targets: Targets) -> None:
    data, options = index
    targets.status["/fixed"] = 200
    done = recheck(data, [targets.url("/fixed").replace("http://", "https://")], options)
    assert done.changed == [targets.url("/fixed")]


def test_a_target_that_flips_keeps_its_rows_once(index: tuple[Path, CheckOptions],
                                                  targets: Targets,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from linkatlas.watch.diff import diff

    data, options = index
    for day, code in ((5, 500), (6, 200), (7, 404)):  # broken, good again, broken again
        targets.status["/breaks"] = code
        monkeypatch.setenv("LINKATLAS_NOW", f"2024-03-{day:02d}T00:00:00Z")
        assert recheck(data, [targets.url("/breaks")], options).changed == [
            targets.url("/breaks")]
        if code == 200:
            assert {(r["change"], r["reason"]) for r in diff(data).rows} == {
                ("fixed", "target_good")}
    patched = _rows(data)
    assert sum(row[1] == targets.url("/breaks") for row in patched) == 2
    build_quietly(data)
    assert _rows(data) == patched


def test_targets_redirecting_to_a_rechecked_url_change_with_it(
        index: tuple[Path, CheckOptions], targets: Targets,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from linkatlas.observations import CheckLog, Observation

    data, options = index
    fixed, breaks = targets.url("/fixed"), targets.url("/breaks")
    with CheckLog(data, name="redirects.jsonl") as log:
        log.append(Observation(fixed, "2024-02-01T00:00:00Z", 301, "", location=breaks))
    build_quietly(data)  # /fixed now redirects into /breaks, which is good
    assert fixed not in {row[1] for row in _rows(data)}
    targets.status["/breaks"] = 404
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-05T00:00:00Z")
    assert sorted(recheck(data, [breaks], options).changed) == [breaks, fixed]
    patched = _rows(data)
    assert {row[1] for row in patched} >= {fixed, breaks}
    build_quietly(data)
    assert _rows(data) == patched


def test_a_recheck_whose_redirect_chain_ends_undecided_changes_nothing(
        index: tuple[Path, CheckOptions], targets: Targets,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """/stays now redirects ten times (as many as are followed) to a URL that answers 429:
    its chain has no verdict, so the target keeps its state and nothing is published."""
    data, options = index
    before, rows = current(data), _rows(data)
    hops = ["/stays", *(f"/r{k}" for k in range(1, 11))]
    for path, following in zip(hops, hops[1:], strict=False):
        targets.status[path] = 302
        targets.location[path] = targets.url(following)
    targets.status["/r10"] = 429
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-05T00:00:00Z")
    done = recheck(data, [targets.url("/stays")], options)
    assert "/r10" in targets.requests  # the chain was followed to its end
    assert done.changed == [] and done.snapshot == "" and current(data).id == before.id
    assert _rows(data) == rows


def test_a_target_answering_a_redirect_without_a_location_is_good(
        index: tuple[Path, CheckOptions], targets: Targets,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 3xx is a good answer (spec/COLUMNS.md "Broken"); one without a Location leads nowhere,
    so the target is judged by that answer itself: fixed, not left without a verdict."""
    from linkatlas.watch.diff import diff

    data, options = index
    stays = targets.url("/stays")
    targets.status["/stays"] = 301  # and no Location header
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-05T00:00:00Z")
    assert recheck(data, [stays], options).changed == [stays]
    assert stays not in {row[1] for row in _rows(data)}
    assert {(r["change"], r["reason"], r["url_from"]) for r in diff(data).rows} == {
        ("fixed", "target_good", "http://a.test/"), ("fixed", "target_good", "http://c.test/x")}

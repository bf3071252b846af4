"""Two rounds of the sample web (pages lost and dying, links removed and added, targets fixed
and broken, a host leaving DNS): `diff`, the changes table and the digest a webhook receives
must give exactly the changes the web itself knows (sample.Web is its own ground truth)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from protego import Protego

from linkatlas import cli, urls
from linkatlas.api.planner import parse_request, plan
from linkatlas.api.query import fetch, open_reader
from linkatlas.api.tables import CHANGES
from linkatlas.sample import Web, generate, serve_in_thread
from linkatlas.snapshot import current
from linkatlas.watch.diff import diff

from .ports import free_port
from .test_notify import Hook, _digest_pairs, _targets
from .test_pipeline import observe

Pair = tuple[str, str]


def _external(url_from: str, url_to: str) -> bool:
    return (urls.registered_domain(urls.host_of(url_from))
            != urls.registered_domain(urls.host_of(url_to)))


def _crawlable(web: Web, url: str) -> bool:
    host = urlsplit(url).hostname or ""
    robots = web.robots(host)
    return robots is None or Protego.parse(robots).can_fetch(url, "linkatlas")


def _broken_backlinks(web: Web, port: int) -> set[Pair]:
    """The web's external broken backlinks (pairs), from pages a polite crawler visits."""
    broken = web.expected_broken(port)
    return {(u, link.url_to) for u, link in web.expected_links(port)
            if link.url_to in broken and _crawlable(web, u) and _external(u, link.url_to)}


def _truth(before: Web, after: Web, port: int) -> dict[tuple[str, str, str, str], int]:
    """(change, reason, url_from, url_to) → 1 for every change the second round made."""
    old, new = _broken_backlinks(before, port), _broken_backlinks(after, port)
    truth = {("new", "", u, t): 1 for u, t in new - old}
    for u, t in old - new:
        host = urlsplit(u).hostname or ""
        status = after.status(u, port)
        if host not in after.hosts:
            key = ("lost", "host_gone")
        elif status >= 400:
            key = ("lost", "page_gone")
        elif 300 <= status < 400:
            key = ("lost", "page_redirects")
        elif t in {link.url_to for link in after.links(u, port)}:
            redirects = 300 <= after.status(t, port) < 400
            key = ("fixed", "target_redirects_good" if redirects else "target_good")
        else:
            key = ("lost", "link_removed")
        truth[(*key, u, t)] = 1
    return truth


def _round(data: Path, web: Web, port: int, hosts: Path, hook: Hook) -> None:
    observe(data, web, port, hosts)
    with pytest.raises(SystemExit) as done:
        cli.main(["--data", str(data), "build", "--workers", "1", "--notify", hook.url])
    assert done.value.code == 0


def _pairs(rows: list[dict[str, object]]) -> dict[tuple[str, str, str, str], int]:
    """Changes as pairs (a page may link a target twice: one pair), external ones only."""
    return {(str(r["change"]), str(r["reason"]), str(r["url_from"]), str(r["url_to"])): 1
            for r in rows if _external(str(r["url_from"]), str(r["url_to"]))}


def test_two_rounds_of_the_sample_web_give_exactly_its_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    data, hosts = tmp_path / "data", tmp_path / "hosts"
    first, second = generate(seed=3, pages=120), generate(seed=3, pages=120, round=1)
    with serve_in_thread(first, port) as server, Hook() as hook:
        first.write_hosts(hosts)
        monkeypatch.setenv("LINKATLAS_NOW", "2024-05-01T00:00:00Z")
        _round(data, first, port, hosts, hook)
        second.write_hosts(hosts)
        server.switch(second)
        monkeypatch.setenv("LINKATLAS_NOW", "2024-05-10T00:00:00Z")
        _round(data, second, port, hosts, hook)

    truth = _truth(first, second, port)
    kinds = {(change, reason) for change, reason, _, _ in truth}
    # the rounds exercise every kind the web can show
    assert {("new", ""), ("fixed", "target_good"), ("lost", "page_gone"),
            ("lost", "host_gone")} <= kinds, kinds

    found = _pairs(diff(data).rows)
    assert sorted(found) == sorted(truth)

    request = parse_request({"target": ["test"], "mode": ["subdomains"], "limit": ["100000"],
                             "output": ["csv"]}, CHANGES.name)
    query = plan(request, current(data))
    rows = [dict(zip(query.columns, row, strict=True))
            for batch in fetch(open_reader(), query) for row in batch]
    assert sorted(_pairs(rows)) == sorted(truth)
    assert {row["changed_at"] for row in rows} == {datetime(2024, 5, 10)}

    (body,) = hook.bodies  # round 0 is the baseline
    digested = _targets(body["message"])
    expected = {t: "NEW" if change == "new" else "FIXED"
                for change, _, _, t in truth if change != "lost"}
    assert digested == expected
    assert _digest_pairs(body["message"]) == {
        ("NEW" if change == "new" else "FIXED", u, t) for change, _, u, t in truth
        if change != "lost"}
    assert json.loads((data / "current" / "report.json").read_text())["notify"]["sent"] == 1

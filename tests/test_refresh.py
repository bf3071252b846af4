"""`linkatlas refresh`: recrawl, check, build, diff and notify in one run; overlapping runs
refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkatlas import cli
from linkatlas.check.checker import CheckOptions
from linkatlas.crawl import CrawlOptions
from linkatlas.sample import generate, serve_in_thread
from linkatlas.watch.refresh import LOCK, locked, refresh

from .ports import free_port
from .test_notify import Hook


def test_two_refreshes_crawl_check_build_and_notify(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    data, hosts = tmp_path / "data", tmp_path / "hosts"
    first, second = generate(seed=4, pages=40), generate(seed=4, pages=40, round=1)
    crawl = CrawlOptions(hosts=hosts, hosts_only=True, delay=0.0, concurrency=16, per_host=4,
                         recrawl_after=1)
    check = CheckOptions(hosts=hosts, hosts_only=True, backoff=0.05, confirm_delay=0.05,
                         retry_after_cap=1.5)
    with serve_in_thread(first, port) as server, Hook() as hook:
        first.write_hosts(hosts)
        monkeypatch.setenv("LINKATLAS_NOW", "2024-05-01T00:00:00Z")
        once = refresh(data, first.seeds(port), crawl, check, recheck_after=1,
                       notify=[hook.url], workers=1)
        assert once.crawled.fetched > 40 and once.checked.observed > 0
        assert once.changes is None and once.digest is None  # the baseline
        second.write_hosts(hosts)
        server.switch(second)
        monkeypatch.setenv("LINKATLAS_NOW", "2024-05-10T00:00:00Z")
        again = refresh(data, [], crawl, check, recheck_after=1, notify=[hook.url], workers=1)
    assert again.crawled.fetched > 40  # the known pages were due again
    assert again.changes is not None and again.changes["new"] > 0
    assert again.digest is not None and again.delivery.sent == 1 and len(hook.bodies) == 1
    assert again.digest.new == again.changes["new"]
    assert json.loads((data / "current" / "report.json").read_text())["snapshot"] == (
        again.report["snapshot"])


def test_an_overlapping_refresh_refuses(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    with locked(data, LOCK, "refresh"):
        with pytest.raises(SystemExit) as done:
            cli.main(["--data", str(data), "refresh", "--hosts-only", "--hosts",
                      str(tmp_path / "none")])
        assert done.value.code == 2
        with pytest.raises(SystemExit) as done:
            cli.main(["--data", str(data), "refresh"])
        assert done.value.code == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith("error: --hosts")  # a bad flag is named first
    assert errors[1].startswith(f"error: another refresh is running in {data} (pid ")
    assert not (data / "snapshots").exists()

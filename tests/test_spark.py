"""`build --engine spark`: the DuckDB engine's snapshot, row for row, from the same observations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from linkatlas.extract.ingest import ingest
from linkatlas.index import build
from linkatlas.observations import CheckLog, Observation

from .archives import page, write_revisit, write_warc
from .shared import shared
from .spark_cluster import SparkCluster, spark_cluster  # noqa: F401 - a fixture
from .test_columns import assert_served_schema
from .test_index import _first_round, _second_round


@pytest.fixture(scope="module")
def observations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Visits over time, a revisit, check logs (a vanished host, a broken streak, transient
    failures, redirect chains, a torn line) and every real archive: each rule of the stages
    has a case."""
    tmp = tmp_path_factory.mktemp("observations")
    data = tmp / "data"
    real = sorted(p for p in shared("data", "real", "warc").rglob("*") if p.is_file())
    links = "".join(f'<a href="http://far{n}.test/p{n}">far {n}</a>' for n in range(40))
    ingest(data, [_first_round(tmp), _second_round(tmp), write_warc(tmp / "far.warc.gz", [
                      page("http://links.ref.test/", "2024-01-10T00:00:00Z",
                           f"<title>far</title>{links}")]),
                  write_revisit(tmp / "revisit.warc.gz", "http://www.alpha.test/",
                                "2024-02-15T00:00:00Z", "2024-01-01T10:00:00Z"), *real])
    with CheckLog(data, name="checks.jsonl") as log:
        for url, when, code, error in [
                ("http://dns.test/x", "2024-01-05T00:00:00Z", 0, "dns"),
                ("http://dead.test/gone", "2024-02-01T00:00:00Z", 200, ""),
                ("http://dead.test/gone", "2024-02-02T00:00:00Z", 404, ""),
                ("http://dead.test/gone", "2024-02-04T00:00:00Z", 0, "timeout"),
                ("http://dead.test/gone", "2024-02-05T00:00:00Z", 429, ""),
                ("http://www.alpha.test/old", "2024-02-20T00:00:00Z", 0, "dns")]:
            log.append(Observation(url, when, code, error))
        for url, when, code, location in [  # redirect chains: into a 404, and a loop
                ("http://ok.test/", "2024-02-03T00:00:00Z", 301, "http://ok.test/new"),
                ("http://ok.test/new", "2024-02-04T00:00:00Z", 404, ""),
                ("https://blog.dead.test/post?id=1", "2024-02-06T00:00:00Z", 302,
                 "https://blog.dead.test/a"),
                ("https://blog.dead.test/a", "2024-02-06T00:00:00Z", 302,
                 "https://blog.dead.test/post?id=1")]:
            log.append(Observation(url, when, code, location=location))
        for n in range(40):  # external targets: 404, NXDOMAIN, a redirect into a 410, a 999
            url, when = f"http://far{n}.test/p{n}", f"2024-01-{11 + n % 9:02d}T00:00:00Z"
            end = f"http://far{n}.test/end"
            log.append([Observation(url, when, 404), Observation(url, when, 0, "dns"),
                        Observation(url, when, 301, location=end),
                        Observation(url, when, 999)][n % 4])
            log.append(Observation(end, when, 410))
    with (data / "checks" / "torn.jsonl").open("ab") as stream:
        stream.write(b'{"url": "http://ok.test/", "time": "2024-02-01T00:00:00Z", '
                     b'"http_code": 404, "error": ""}\n{"url": "http://')
    return data


def _snapshot(data: Path) -> tuple[list[tuple[object, ...]], list[dict[str, object]], str]:
    """The served rows in file order, the manifest's files and the engine that built them."""
    manifest = json.loads((data / "current" / "manifest.json").read_text())
    folder = data / "current" / "broken_backlinks"
    con = duckdb.connect()
    rows = [row for entry in manifest["files"] for row in con.execute(
        "SELECT * FROM read_parquet(?)", [str(folder / entry["file"])]).fetchall()]
    schema = con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                         [str(folder / manifest["files"][0]["file"])]).fetchall()
    return rows, [*manifest["files"], {"schema": schema}], manifest["engine"]


# The rating columns: Spark's PageRank is SciPy's to within its tolerance, so where scores tie
# within it the ratings may differ (issue 15): equal on ≥ 99.9 % of rows, never more than 1
# apart. Every other column is equal.
RATINGS = ("ahrefs_rank", "domain_rating", "ahrefs_top")


def _assert_same_rows(rows: list[tuple[Any, ...]], expected: list[tuple[Any, ...]],
                      names: list[str]) -> None:
    rated = [names.index(name) for name in RATINGS]

    def rest(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(v for i, v in enumerate(row) if i not in rated)

    assert [rest(r) for r in rows] == [rest(r) for r in expected]
    for i in rated:
        apart = [abs(a[i] - b[i]) for a, b in zip(rows, expected, strict=True)]
        assert max(apart, default=0) <= 1, (names[i], apart)
        assert apart.count(0) >= 0.999 * len(apart), (names[i], apart)


def _assert_same_snapshot(on_spark: Path, on_duckdb: Path) -> None:
    """Row for row the same snapshot: rows (ratings as RATINGS says), files, key ranges and
    schema."""
    rows, files, engine = _snapshot(on_spark)
    expected_rows, expected_files, _ = _snapshot(on_duckdb)
    assert engine == "spark" and len(rows) > 30
    assert files == expected_files
    names = [column[0] for column in files[-1]["schema"]]
    _assert_same_rows(rows, expected_rows, names)
    assert_served_schema(on_spark / "current" / "broken_backlinks")  # the column table's


def test_spark_builds_the_duckdb_snapshot(observations: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-01T00:00:00Z")
    on_duckdb = shutil.copytree(observations, tmp_path / "duckdb")
    on_spark = shutil.copytree(observations, tmp_path / "spark")
    expected = build(on_duckdb, workers=1).to_json()
    got = build(on_spark, spark_master="local[2]").to_json()

    _assert_same_snapshot(on_spark, on_duckdb)
    reclaim = "SELECT * FROM read_parquet(?) ORDER BY ALL"  # the report's facts (index/reclaim)
    assert [duckdb.sql(reclaim, params=[str(d / "current" / "reclaim.parquet")]).fetchall()
            for d in (on_spark, on_duckdb)] == [duckdb.sql(reclaim, params=[str(
                on_duckdb / "current" / "reclaim.parquet")]).fetchall()] * 2
    for part in ("counts", "records", "skipped"):
        assert got[part] == expected[part], part
    # Spark extracted every archive itself, into the same cache layout.
    assert got["archives_parsed"] == expected["archives_parsed"] == got["archives"]
    assert sorted(p.name for p in (on_spark / "extract").iterdir()) == sorted(
        p.name for p in (on_duckdb / "extract").iterdir())
    assert not (on_spark / "tmp" / "spark" / "checkpoints").exists()
    # the facts a diff and a re-check read (index/changes.py) are the same too
    for name in ("targets", "hops", "pages"):
        read = f"SELECT * FROM read_parquet('{{}}/current/facts/{name}.parquet') ORDER BY ALL"
        assert duckdb.sql(read.format(on_spark)).fetchall() == duckdb.sql(
            read.format(on_duckdb)).fetchall(), name
    backlinks = "SELECT * FROM read_parquet('{}/current/facts/backlinks/*.parquet')"
    names = duckdb.sql(backlinks.format(on_duckdb)).columns
    order = ", ".join(name for name in names if name not in RATINGS)
    _assert_same_rows(*[duckdb.sql(f"{backlinks.format(d)} ORDER BY {order}").fetchall()
                        for d in (on_spark, on_duckdb)], names)


def test_spark_builds_the_duckdb_snapshot_on_a_standalone_cluster(
        observations: Path, tmp_path: Path, spark_cluster: SparkCluster,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A master and two workers, each its own JVM: the build's tasks run in executors that
    share nothing with the driver but DIR."""
    on_duckdb = shutil.copytree(observations, tmp_path / "duckdb")
    on_spark = shutil.copytree(observations, tmp_path / "spark")
    monkeypatch.setenv("LINKATLAS_NOW", "2024-03-01T00:00:00Z")
    build(on_duckdb, workers=1)
    result = _build_on_spark(on_spark, spark_cluster.master, **spark_cluster.env())
    assert result.returncode == 0, result.stderr
    _assert_same_snapshot(on_spark, on_duckdb)
    # The build was the cluster's: an application that ran on its two workers and ended.
    done = [app for app in spark_cluster.state()["completedapps"]
            if app["name"] == "linkatlas build"]
    assert done and done[-1]["state"] == "FINISHED", spark_cluster.state()
    assert not (on_spark / "tmp" / "spark" / "checkpoints").exists()


def _build_on_spark(data: Path, master: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linkatlas.cli", "--data", str(data), "build", "--engine",
         "spark", "--spark-master", master], capture_output=True, text=True, timeout=1200,
        env={**os.environ, **env})


@pytest.mark.parametrize(("master", "env", "message"), [
    ("nowhere://at-all", {}, "error: --spark-master: not a Spark master URL: 'nowhere://at-all'"),
    ("local[2]", {"JAVA_HOME": "/nonexistent"},
     "error: --engine spark: Spark needs a Java 17+ runtime; none in JAVA_HOME=/nonexistent"),
])
def test_a_spark_that_cannot_start_is_one_clear_error(
        observations: Path, tmp_path: Path, master: str, env: dict[str, str], message: str
        ) -> None:
    data = shutil.copytree(observations, tmp_path / "data")
    result = _build_on_spark(data, master, **env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "\tat org.apache" not in result.stderr  # no Java stack trace either
    assert not (data / "current").exists()


@pytest.mark.parametrize(("options", "message"), [
    (["--engine", "flink"], "--engine: 'flink' is not an engine; use duckdb or spark"),
    (["--spark-master", "local[2]"], "--spark-master: only with --engine spark"),
])
def test_engine_options_are_checked(data: Path, options: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "linkatlas.cli", "--data", str(data),
                             "build", *options], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr

"""Snapshot layout: key ranges per file, atomic `current`, pruning of old snapshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from linkatlas import snapshot
from linkatlas.errors import SnapshotError

FILES = [{"file": "part-0.parquet", "min_key": "com,a)/", "max_key": "com,c)/z", "rows": 9},
         {"file": "part-1.parquet", "min_key": "com,c)/z", "max_key": "org,b)/", "rows": 9},
         {"file": "part-2.parquet", "min_key": "org,c)/", "max_key": "org,d)/", "rows": 9}]


@pytest.mark.parametrize(("low", "high", "expected"), [
    ("com,b)", "com,b*", ["part-0.parquet"]),
    ("com,c)", "com,c*", ["part-0.parquet", "part-1.parquet"]),
    ("net,x)", "net,x*", ["part-1.parquet"]),
    ("org,d)/", "org,d)/\x00", ["part-2.parquet"]),
    ("zz", "zz*", ["part-0.parquet"]),  # nothing overlaps: any file, for the schema
])
def test_only_overlapping_files_are_read(tmp_path: Path, low: str, high: str,
                                         expected: list[str]) -> None:
    shot = snapshot.Snapshot("x", tmp_path, {"files": FILES})
    assert [Path(f).name for f in shot.files_for(low, high)] == expected


def test_publish_switches_current_and_prunes(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError):
        snapshot.current(tmp_path)
    for number in range(5):
        staging = tmp_path / f"staging{number}"
        staging.mkdir()
        published = snapshot.publish(tmp_path, staging, {"id": "20240101T000000Z",
                                                         "files": FILES, "n": number})
        assert snapshot.current(tmp_path).manifest["n"] == number
        assert snapshot.current(tmp_path).id == published.id
    snapshot.prune(tmp_path)
    left = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
    assert len(left) == snapshot.KEEP and snapshot.current(tmp_path).id == left[-1]


def test_publish_makes_everything_durable_before_current_switches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file, the manifest and every directory are fsynced before `current` moves, and
    the directories holding the new name and the new link after (issue 13, row 15)."""
    import os

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source: object, target: object) -> None:
        events.append(("replace", str(target)))
        real_replace(source, target)  # type: ignore[arg-type]

    data = tmp_path / "data"
    staging = data / "snapshots" / ".staging-x"
    (staging / "broken_backlinks").mkdir(parents=True)
    (staging / "broken_backlinks" / "part-0.parquet").write_bytes(b"rows")
    (staging / "report.json").write_text("{}")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    published = snapshot.publish(data, staging, {"id": "s1", "files": []})
    switch = events.index(("replace", str(data / "current")))
    synced_before = {path for kind, path in events[:switch] if kind == "fsync"}
    for name in ("broken_backlinks/part-0.parquet", "report.json", "manifest.json",
                 "broken_backlinks", ""):
        assert str(staging / name).rstrip("/") in synced_before, name
    assert str(data / "snapshots") in synced_before  # the rename of staging is durable
    assert ("fsync", str(data)) in events[switch:]  # and so is the new link
    assert published.path == data / "snapshots" / "s1"


def test_a_dead_builds_staging_is_removed_by_the_next_build(tmp_path: Path) -> None:
    from linkatlas.index import build

    from .archives import example_index

    data = example_index(tmp_path)
    dead = data / "snapshots" / ".staging-20240101T000000Z"
    (dead / "broken_backlinks").mkdir(parents=True)
    (dead / "broken_backlinks" / "part-0.parquet").write_bytes(b"x" * 1000)
    build(data, workers=1)
    assert not list((data / "snapshots").glob(".staging-*"))


def _publish(data: Path, number: int, snapshot_id: str = "20240101T000000Z") -> snapshot.Snapshot:
    staging = data / f"staging{number}"
    staging.mkdir(parents=True)
    (staging / "payload").write_text(str(number))
    return snapshot.publish(data, staging, {"id": snapshot_id, "files": FILES, "n": number})


def test_publish_moves_staging_and_numbers_a_taken_id(tmp_path: Path) -> None:
    first, second, third = (_publish(tmp_path, n) for n in range(3))
    assert [first.id, second.id, third.id] == [
        "20240101T000000Z", "20240101T000000Z-002", "20240101T000000Z-003"]
    assert not (tmp_path / "staging2").exists()
    assert (tmp_path / "snapshots" / third.id / "payload").read_text() == "2"
    manifest = json.loads((tmp_path / "snapshots" / third.id / "manifest.json").read_text())
    assert manifest["id"] == third.id and manifest["n"] == 2
    link = tmp_path / "current"
    assert link.is_symlink() and os.readlink(link) == f"snapshots/{third.id}"  # relative: movable
    shot = snapshot.current(tmp_path)
    assert third.path == tmp_path / "snapshots" / third.id and third.manifest["n"] == 2
    assert (shot.path, shot.manifest) == (third.path.resolve(), third.manifest)
    assert shot.table == str(third.path.resolve() / "broken_backlinks" / "*.parquet")


def test_snapshot_ids_sort_by_time() -> None:
    assert snapshot.new_id(datetime(2024, 3, 1, 12, 5, 9)) == "20240301T120509Z"


def test_publish_replaces_a_stale_temporary_link(tmp_path: Path) -> None:
    (tmp_path / f".current.{os.getpid()}").symlink_to("nowhere")  # a crashed publish's leftover
    published = _publish(tmp_path, 0)
    assert snapshot.current(tmp_path).id == published.id


def test_current_never_disappears_while_publishing(tmp_path: Path) -> None:
    """`current` is switched by a rename over the old link: a reader (another process, so it
    truly runs alongside) never finds it missing."""
    _publish(tmp_path, 0)
    link = tmp_path / "current"
    reader = subprocess.Popen(
        [sys.executable, "-c", "import os, sys\n"
         "link, stop = sys.argv[1], sys.argv[1] + '.stop'\n"
         "misses = 0\n"
         "print('ready', flush=True)\n"
         "while not os.path.exists(stop):\n"
         "    misses += not os.path.exists(link)\n"
         "print(misses)\n", str(link)], stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdout.readline() == "ready\n"
    for number in range(1, 300):
        _publish(tmp_path, number)
    (tmp_path / "current.stop").touch()
    out, _ = reader.communicate(timeout=30)
    assert out.strip() == "0"


def test_current_without_a_snapshot_or_manifest_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "current").symlink_to("snapshots/gone")
    with pytest.raises(SnapshotError, match="run `linkatlas build` first"):
        snapshot.current(tmp_path)
    (tmp_path / "snapshots" / "gone").mkdir(parents=True)  # a folder but no manifest
    with pytest.raises(SnapshotError):
        snapshot.current(tmp_path)


def test_prune_keeps_the_newest_and_the_live_one(tmp_path: Path) -> None:
    ids = [_publish(tmp_path, n, f"2024010{n}T000000Z").id for n in range(1, 7)]
    (tmp_path / "snapshots" / ".staging-x").mkdir()  # a build's unfinished folder: not ours
    link = tmp_path / "current"  # a server pointed back at the oldest (a rollback)
    temp = tmp_path / "rollback"
    temp.symlink_to(f"snapshots/{ids[0]}")
    os.replace(temp, link)
    snapshot.prune(tmp_path, keep=2)
    left = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
    assert left == [".staging-x", ids[0], *ids[-2:]]
    assert snapshot.current(tmp_path).id == ids[0]
    snapshot.prune(tmp_path)  # default KEEP = 3 now keeps the same three
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == left


def test_prune_without_current_or_with_few_snapshots(tmp_path: Path) -> None:
    for n in range(1, 3):
        (tmp_path / "snapshots" / f"2024010{n}T000000Z").mkdir(parents=True)
    snapshot.prune(tmp_path, keep=3)
    assert len(list((tmp_path / "snapshots").iterdir())) == 2
    snapshot.prune(tmp_path, keep=1)
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == ["20240102T000000Z"]


def test_write_table_records_each_files_key_range(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "ROW_GROUP", 2048)  # DuckDB's smallest row group
    monkeypatch.setattr(snapshot, "GROUPS_PER_FILE", 1)
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT printf('k%05d', i) AS url_to_key, i "
                "FROM range(10000) r(i)")
    tmp_path = tmp_path / "it's"  # a quote in the data directory's path is quoted in SQL
    for staging in ("a", "b"):
        (tmp_path / staging).mkdir(parents=True)
    files = snapshot.write_table(con, "SELECT * FROM t ORDER BY url_to_key", tmp_path / "a")
    assert sum(f["rows"] for f in files) == 10000 and len(files) >= 2
    assert [f["min_key"] for f in files] == sorted(f["min_key"] for f in files)
    assert files[0]["min_key"] == "k00000" and files[-1]["max_key"] == "k09999"
    for f in files:
        keys = [k for (k,) in con.execute("SELECT url_to_key FROM read_parquet(?)", [
            str(tmp_path / "a" / snapshot.TABLE / f["file"])]).fetchall()]
        assert (min(keys), max(keys), len(keys)) == (f["min_key"], f["max_key"], f["rows"])
    empty = snapshot.write_table(con, "SELECT * FROM t WHERE i < 0", tmp_path / "b")
    assert empty == [{"file": "part-0.parquet", "min_key": "", "max_key": "", "rows": 0}]
    assert con.execute("SELECT count(*) FROM read_parquet(?)", [
        str(tmp_path / "b" / snapshot.TABLE / "*.parquet")]).fetchone() == (0,)

"""Snapshot layout: key ranges per file, atomic `current`, pruning of old snapshots."""

from __future__ import annotations

from pathlib import Path

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

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

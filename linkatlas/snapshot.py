"""Snapshot layout: `DIR/snapshots/<id>/` holds the serve table, a manifest and report.json;
`DIR/current` is a symlink switched atomically (rename over the old link), so readers see
either the old snapshot or the new one, never half of one.

The serve table is `broken_backlinks/part-N.parquet`: files of ≤ 64 row groups of 16,384 rows,
in `url_to_key` order, each file's key range in the manifest. A request opens only the files
its key range overlaps, so its cost does not grow with the index (bench/api.py)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import SnapshotError

__all__ = ["Snapshot", "changes_log", "changes_log_files", "current", "new_id", "prune",
           "publish", "remove_staging", "sync_tree", "write_table"]

TABLE = "broken_backlinks"
MANIFEST = "manifest.json"
RECLAIM = "reclaim.parquet"  # per dead target: what to do with it (index/reclaim.py writes it)
ROW_GROUP = 16384
GROUPS_PER_FILE = 64
KEEP = 3  # snapshots kept on disk, so a server still reading an old one is not cut off


@dataclass(frozen=True)
class Snapshot:
    id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def table(self) -> str:
        """A glob of every file of the serve table (for whole-table reads)."""
        return str(self.path / TABLE / "*.parquet")

    def files_for(self, low: str, high: str) -> list[str]:
        """The table files whose keys may fall in [low, high); at least one file, so that a
        query always has the table's schema."""
        files = self.manifest["files"]
        chosen = [f["file"] for f in files
                  if f["rows"] and f["min_key"] < high and f["max_key"] >= low]
        return [str(self.path / TABLE / name) for name in chosen or [files[0]["file"]]]


def write_table(con: Any, select_sql: str, staging: Path) -> list[dict[str, Any]]:
    """Write the serve table (select_sql must be ordered by url_to_key) into staging and
    return each file's key range and row count, for the manifest."""
    folder = staging / TABLE
    quoted = str(folder).replace("'", "''")
    con.execute(f"""COPY ({select_sql}) TO '{quoted}'
        (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP},
         ROW_GROUPS_PER_FILE {GROUPS_PER_FILE}, FILENAME_PATTERN 'part-{{i}}')""")
    if not any(folder.glob("*.parquet")):  # no rows: one empty file keeps the schema
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT * FROM ({select_sql}) LIMIT 0) TO "
                    f"'{quoted}/part-0.parquet' (FORMAT parquet)")
    rows = con.execute(f"""
        SELECT parse_filename(filename) AS file, min(url_to_key), max(url_to_key), count(*)
        FROM read_parquet('{quoted}/*.parquet', filename = true)
        GROUP BY ALL ORDER BY 2""").fetchall()
    files = [{"file": f, "min_key": lo, "max_key": hi, "rows": n} for f, lo, hi, n in rows]
    return files or [{"file": "part-0.parquet", "min_key": "", "max_key": "", "rows": 0}]


def snapshots_dir(data: Path) -> Path:
    return data / "snapshots"


def changes_log(data: Path) -> Path:
    """DIR/changes: one Parquet file per snapshot's changes, kept after the snapshot is pruned
    (index/changes.py appends, the API's `broken_backlinks_changes` reads)."""
    return data / "changes"


def changes_log_files(data: Path) -> list[str]:
    """Every file of the changes log, oldest first."""
    folder = changes_log(data)
    if not folder.is_dir():
        return []
    return [str(p) for p in sorted(folder.glob("*.parquet")) if not p.name.startswith(".")]


def new_id(moment: datetime) -> str:
    """A sortable id from the build's clock; `publish` adds a counter when it is taken."""
    return moment.strftime("%Y%m%dT%H%M%SZ")


def publish(data: Path, staging: Path, manifest: dict[str, Any]) -> Snapshot:
    """Move a finished staging directory into place and point `current` at it."""
    base = snapshots_dir(data)
    base.mkdir(parents=True, exist_ok=True)
    snapshot_id = manifest["id"]
    target = base / snapshot_id
    counter = 1
    while target.exists():
        counter += 1
        target = base / f"{snapshot_id}-{counter:03d}"
    manifest = {**manifest, "id": target.name}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    # Durable before visible: a power loss after `current` switched must not find torn files.
    sync_tree(staging)
    os.replace(staging, target)
    _sync_dir(base)
    link = data / "current"
    temp = data / f".current.{os.getpid()}"
    if temp.is_symlink() or temp.exists():
        temp.unlink()
    temp.symlink_to(Path("snapshots") / target.name)
    os.replace(temp, link)
    _sync_dir(data)
    return Snapshot(target.name, target, manifest)


def sync_tree(root: Path) -> None:
    """fsync every file under `root`, then every directory, deepest first."""
    folders = [root]
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            folders.append(path)
        else:
            with path.open("rb") as stream:
                os.fsync(stream.fileno())
    for folder in reversed(folders):
        _sync_dir(folder)


def _sync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_staging(data: Path) -> list[Path]:
    """Delete the staging directories of builds that died (call under the build lock)."""
    base = snapshots_dir(data)
    left = sorted(base.glob(".staging-*")) if base.is_dir() else []
    for folder in left:
        shutil.rmtree(folder, ignore_errors=True)
    return left


def current(data: Path) -> Snapshot:
    """The current snapshot, resolved once: a reader keeps using it even if `current` moves."""
    link = data / "current"
    try:
        path = link.resolve(strict=True)
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        raise SnapshotError(f"no snapshot in {data}: run `linkatlas build` first") from None
    return Snapshot(path.name, path, manifest)


def prune(data: Path, keep: int = KEEP) -> None:
    """Delete all but the newest `keep` snapshots (never the current one)."""
    base = snapshots_dir(data)
    try:
        live = (data / "current").resolve(strict=True).name
    except OSError:
        live = ""
    entries = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in entries[:-keep]:
        if old.name != live:
            shutil.rmtree(old, ignore_errors=True)

"""Snapshot layout: `DIR/snapshots/<id>/` holds the serve table, a manifest and report.json;
`DIR/current` is a symlink switched atomically (rename over the old link), so readers see
either the old snapshot or the new one, never half of one."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import SnapshotError

__all__ = ["Snapshot", "current", "new_id", "publish", "prune"]

TABLE = "broken_backlinks.parquet"
MANIFEST = "manifest.json"
KEEP = 3  # snapshots kept on disk, so a server still reading an old one is not cut off


@dataclass(frozen=True)
class Snapshot:
    id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def table(self) -> Path:
        return self.path / TABLE


def snapshots_dir(data: Path) -> Path:
    return data / "snapshots"


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
    os.replace(staging, target)
    link = data / "current"
    temp = data / f".current.{os.getpid()}"
    if temp.is_symlink() or temp.exists():
        temp.unlink()
    temp.symlink_to(Path("snapshots") / target.name)
    os.replace(temp, link)
    return Snapshot(target.name, target, manifest)


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

"""`from=broken_backlinks_changes` (spec/API.md "Ext tables"): the whole changes log, asked
and billed as `broken_backlinks` (same parameters, conditions, formats; api/tables.py)."""

from __future__ import annotations

from ..errors import SnapshotError
from ..index.changes import log_files
from ..snapshot import Snapshot

__all__ = ["log_of"]


def log_of(current: Snapshot) -> list[str]:
    """The files of the changes log of the DIR `current` belongs to (DIR/snapshots/<id>)."""
    data = current.path.parent.parent
    files = log_files(data)
    if not files:
        raise SnapshotError("no changes recorded yet: run `linkatlas build`")
    return files

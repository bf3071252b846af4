"""`linkatlas diff`: new, fixed and lost broken backlinks between two snapshots, grouped by
target (the rule is index/changes.py's, the same one the build logs and the API serves)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from .. import snapshot
from ..api.formats import render
from ..api.tables import CHANGES
from ..clock import iso
from ..errors import SnapshotError, UsageError
from ..index.changes import FACTS_DIR, changes_sql

__all__ = ["Changes", "diff", "find", "previous_of", "render_csv", "render_json"]


@dataclass(frozen=True)
class Changes:
    """The changes from snapshot `before` to `after`, in target-key order; each row holds
    CHANGES.names (the 27 columns, change, changed_at, reason), plus url_to_key."""

    before: str
    after: str
    rows: list[dict[str, Any]]

    def by_target(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Rows grouped by url_to, in target-key order."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            groups.setdefault(row["url_to"], []).append(row)
        return list(groups.items())

    def counts(self) -> dict[str, int]:
        counts = {"new": 0, "fixed": 0, "lost": 0}
        for row in self.rows:
            counts[row["change"]] += 1
        return counts


def _ids(data: Path) -> list[str]:
    base = snapshot.snapshots_dir(data)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / snapshot.MANIFEST).is_file())


def find(data: Path, name: str, option: str) -> snapshot.Snapshot:
    """A snapshot by id (as listed under DIR/snapshots), or `current`."""
    if name == "current":
        return snapshot.current(data)
    if name not in _ids(data):  # never a path: only names listed in DIR/snapshots
        kept = ", ".join(_ids(data)) or "none"
        raise UsageError(f"{option}: no snapshot {name!r} in {data} (kept: {kept})")
    path = snapshot.snapshots_dir(data) / name
    return snapshot.Snapshot(name, path, json.loads((path / snapshot.MANIFEST).read_text()))


def previous_of(data: Path, after: snapshot.Snapshot) -> snapshot.Snapshot:
    """The snapshot `after` was built against (its manifest says), else the one before it."""
    ids = _ids(data)
    named = after.manifest.get("previous", "")
    if named in ids:
        return find(data, named, "--from")
    earlier = [i for i in ids if i < after.id]
    if not earlier:
        raise UsageError(f"--from: no snapshot before {after.id} in {data}: nothing to compare "
                         "yet (run build again after the next crawl or check)")
    return find(data, earlier[-1], "--from")


def diff(data: Path, before: str | None = None, after: str | None = None) -> Changes:
    """Changes between two snapshots (default: the current one and the one it replaced)."""
    to = find(data, after or "current", "--to")
    since = find(data, before, "--from") if before else previous_of(data, to)
    if not (to.path / FACTS_DIR).is_dir():
        raise UsageError(f"--to: snapshot {to.id} was built without change facts (by an older "
                         "linkatlas): build again")
    moment = datetime.strptime(to.manifest["built_at"], "%Y-%m-%dT%H:%M:%SZ")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute(changes_sql(since.path, to.path), [moment, moment])
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as exc:
        raise SnapshotError(f"diff failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    return Changes(since.id, to.id, rows)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row's columns as the API writes them: dates ISO, unknown text and dates `""`."""
    out: dict[str, Any] = {}
    for name in CHANGES.names:
        value = row.get(name)
        kind = CHANGES.by_name[name].kind.value
        if kind == "date":
            value = iso(value)
        elif value is None:
            value = "" if kind == "string" else 0 if kind == "int" else False
        out[name] = value
    return out


def render_json(changes: Changes) -> bytes:
    body = {"from": changes.before, "to": changes.after, "counts": changes.counts(),
            "targets": [{"url_to": url, "changes": [_plain(r) for r in rows]}
                        for url, rows in changes.by_target()]}
    return json.dumps(body, ensure_ascii=False, indent=1).encode() + b"\n"


def render_csv(changes: Changes) -> Iterator[bytes]:
    names = CHANGES.names
    rows = [tuple(r.get(n) for n in names) for r in changes.rows]
    return render("csv", names, [rows], table=CHANGES)


# C0 and C1 controls and DEL: page text must not drive a terminal (escape sequences).
_CONTROLS = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0)], "\ufffd")


def safe(text: object) -> str:
    """Text for a terminal: control characters shown as U+FFFD."""
    return str(text).translate(_CONTROLS)


def table_groups(changes: Changes) -> Iterator[tuple[str, list[tuple[str, ...]]]]:
    """(target heading, rows of change, reason, referring page, anchor, link type) for the
    terminal, every value made safe."""
    for url, rows in changes.by_target():
        first = rows[0]
        status = "dns" if first.get("error") == "dns" else str(first.get("http_code") or "")
        yield safe(f"{url}  ({status})"), [
            (r["change"], r["reason"], safe(r["url_from"]), safe(r.get("anchor") or ""),
             safe(r.get("link_type") or "")) for r in rows]

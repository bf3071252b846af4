"""Re-check now (`linkatlas check URL...`, `POST /recheck`): observe just these targets (and
the Locations of their redirects) and publish a snapshot in which only their rows change,
without a rebuild.

The new state of a target comes from the targets stage itself (`stages.targets`): its input
is the state the current snapshot holds (facts/hops: each URL's decided state, as one
observation at the start of its run) plus the new observations, so the verdict, the
newest-decided rule, redirect chains and broken_at are the build's; a target whose chain
passes through a rechecked URL changes with it. Rows of a target that breaks
come from facts/backlinks (every live backlink not served, as a serve row) or from the serve
table itself; only the serve files whose key
range holds a changed target are rewritten, the others are linked into the new snapshot.

One process at a time checks and publishes: the re-check holds DIR/build.lock (waiting for a
running build or re-check), so servers sharing a DIR stay consistent.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .. import clock, snapshot, urls
from ..check.checker import CheckOptions, check_urls
from ..columns import TIE_BREAK
from ..errors import UsageError
from ..observations import CheckLog
from ..rules.verdicts import MAX_REDIRECTS
from .changes import BACKLINKS, FACTS_DIR, STATE, append_log, record

__all__ = ["Rechecked", "recheck"]

@dataclass
class Rechecked:
    """What a re-check did: each URL's state before and after, and the snapshot it
    published ("" when no state changed: the current snapshot stays)."""

    before: str
    snapshot: str = ""
    targets: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds of observe, judge, publish

    changed: list[str] = field(default_factory=list)  # every target whose state changed


@contextmanager
def _lock(data: Path, wait: float) -> Iterator[None]:
    """DIR/build.lock, waiting up to `wait` seconds for a build or another re-check."""
    with (data / "build.lock").open("a") as lock:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UsageError(f"a build or another re-check is running in {data}: "
                                     "try again when it is done") from None
                time.sleep(0.05)
        yield


def _quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def normalized(given: list[str]) -> list[str]:
    """The URLs as targets are stored (normalized, each once), or UsageError naming one."""
    found: list[str] = []
    for text in given:
        url = urls.normalize(text.strip())
        if url is None:
            raise UsageError(f"not an http(s) URL: {text[:300]!r}")
        found.append(url)
    return list(dict.fromkeys(found))


def _observe(data: Path, wanted: list[str], options: CheckOptions,
             previous: dict[str, tuple[int, str]]) -> list[dict[str, Any]]:
    """Check the URLs (the checker follows their redirects) into a check log of their own,
    and return what it observed."""
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    name = f"recheck-{stamp}-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
    with CheckLog(data, name=name) as log:
        asyncio.run(check_urls(wanted, log, options, previous=previous))
    lines = log.path.read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def _judge(con: Any, facts: Path, observed: list[dict[str, Any]]) -> None:
    """The build's targets stage, from the hops the snapshot held (each URL's decided state as
    one observation at the start of its run: `since`) and the new observations, over the
    targets whose redirect chain reaches an observed URL (the rechecked ones among them)."""
    from .stages import targets

    con.execute("CREATE TABLE observed (url VARCHAR, time TIMESTAMP, http_code INTEGER, "
                "error VARCHAR, location VARCHAR)")
    if observed:
        con.executemany("INSERT INTO observed VALUES (?, ?::TIMESTAMP, ?, ?, ?)",
                        [[o["url"], o["time"].rstrip("Z").replace("T", " "), o["http_code"],
                          o["error"], o.get("location") or ""] for o in observed])
    hops = _quoted(facts / "hops.parquet")
    con.execute(f"""
        CREATE TABLE observations AS
        SELECT url, since AS time, http_code, error, location FROM read_parquet({hops})
        UNION ALL SELECT * FROM observed""")
    # Only targets whose chain reaches a rechecked URL can change: walk the redirects back.
    con.execute(f"""
        CREATE TABLE live AS
        WITH RECURSIVE back(url, depth) AS (
            SELECT DISTINCT url, 0 FROM observed
            UNION
            SELECT h.url, b.depth + 1 FROM read_parquet({hops}) h
            JOIN back b ON h.location = b.url AND h.redir AND b.depth < {MAX_REDIRECTS})
        SELECT t.url AS url_to FROM read_parquet({_quoted(facts / 'targets.parquet')}) t
        WHERE t.url IN (SELECT url FROM back)""")
    targets(con)


def recheck(data: Path, given: list[str], options: CheckOptions, *, wait: float = 60.0,
            max_urls: int | None = None) -> Rechecked:
    """Re-check the given link targets of the current snapshot and publish the patch."""
    import duckdb

    started = time.perf_counter()
    wanted = normalized(given)
    if not wanted:
        raise UsageError("check: no URL given")
    if max_urls is not None and len(wanted) > max_urls:
        raise UsageError(f"at most {max_urls} URLs per re-check, got {len(wanted)}")
    data.mkdir(parents=True, exist_ok=True)
    with _lock(data, wait):
        before = snapshot.current(data)
        facts = before.path / FACTS_DIR
        if not (facts / "hops.parquet").is_file():
            raise UsageError(f"snapshot {before.id} was built without re-check facts (by an "
                             "older linkatlas): run build first")
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            old = _old_state(con, facts / "targets.parquet", wanted, before.id)
            wanted = list(old)
            mark = time.perf_counter()
            observed = _observe(data, wanted, options, _own_verdicts(con, facts, wanted))
            phases = {"observe": time.perf_counter() - mark}
            mark = time.perf_counter()
            _judge(con, facts, observed)
            changed = _changed(con, facts / "targets.parquet")
            result = Rechecked(before.id, targets=_report(con, old, changed), phases=phases,
                               changed=changed)
            phases["judge"] = time.perf_counter() - mark
            mark = time.perf_counter()
            if changed:
                result.snapshot = _publish(con, data, before, changed)
            phases["publish"] = time.perf_counter() - mark
        finally:
            con.close()
    result.seconds = time.perf_counter() - started
    return result


def _old_state(con: Any, targets_file: Path, wanted: list[str], snapshot_id: str
               ) -> dict[str, dict[str, Any]]:
    """The snapshot's state of each target asked for; the scheme does not matter, as in the
    API's modes (a URL given with https finds the http target too)."""
    keys = [urls.key_of(url) for url in wanted]
    cursor = con.execute(f"SELECT url, url_to_key, {', '.join(STATE)} FROM "
                         f"read_parquet({_quoted(targets_file)}) "
                         "WHERE list_contains(?, url_to_key) ORDER BY url", [keys])
    found = cursor.fetchall()
    old = {row[0]: dict(zip(("url", *STATE), (row[0], *row[2:]), strict=True))
           for row in found}
    known = {row[1] for row in found}
    unknown = [url for url, key in zip(wanted, keys, strict=True) if key not in known]
    if unknown:
        raise UsageError(f"not a link target in snapshot {snapshot_id}: {unknown[0][:300]}")
    return old


def _own_verdicts(con: Any, facts: Path, wanted: list[str]) -> dict[str, tuple[int, str]]:
    """Each URL's own latest decided answer (not its chain's end): a different verdict now is
    confirmed by the checker before it is logged."""
    rows = con.execute(f"SELECT url, http_code, error FROM "
                       f"read_parquet({_quoted(facts / 'hops.parquet')}) "
                       "WHERE list_contains(?, url)", [wanted]).fetchall()
    return {url: (int(code or 0), error or "") for url, code, error in rows}


def _changed(con: Any, targets_file: Path) -> list[str]:
    """Targets whose state the new judgement changed (a target still undecided keeps its)."""
    differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in STATE)
    return [row[0] for row in con.execute(f"""
        SELECT n.url FROM targets n JOIN read_parquet({_quoted(targets_file)}) o
          ON o.url = n.url WHERE {differs} ORDER BY n.url""").fetchall()]


def _report(con: Any, old: dict[str, dict[str, Any]], changed: list[str]
            ) -> list[dict[str, Any]]:
    """Before → after of each URL asked for."""
    cursor = con.execute(f"SELECT url, {', '.join(STATE)} FROM targets "
                         "WHERE list_contains(?, url)", [list(old)])
    new = {row[0]: dict(zip(("url", *STATE), row, strict=True)) for row in cursor.fetchall()}
    return [{**(new.get(url) or before), "changed": url in changed}
            for url, before in old.items()]


def _publish(con: Any, data: Path, before: snapshot.Snapshot, changed: list[str]) -> str:
    """Write the patched snapshot (serve files, facts, changes) and make it current."""
    moment = clock.now()
    staging = data / "snapshots" / f".staging-{snapshot.new_id(moment)}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / snapshot.TABLE).mkdir(parents=True)
    try:
        con.execute("CREATE TABLE patched AS SELECT * FROM targets WHERE list_contains(?, url)",
                    [changed])
        files = _patch_serve(con, before, staging, changed)
        _patch_facts(con, before, staging, snapshot.new_id(moment))
        record(con, before, staging, moment, changed)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = {**before.manifest, "id": snapshot.new_id(moment),
                "built_at": clock.iso(moment), "rows": sum(int(f["rows"]) for f in files),
                "files": files, "previous": before.id, "rechecked": changed}
    published = snapshot.publish(data, staging, manifest)
    append_log(data)
    snapshot.prune(data)
    return published.id


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or no hard links: a copy
        shutil.copyfile(source, target)


def _patch_serve(con: Any, before: snapshot.Snapshot, staging: Path, changed: list[str]
                 ) -> list[dict[str, Any]]:
    """Rewrite only the serve files whose key range holds a changed target."""
    table = before.path / snapshot.TABLE
    files = sorted(before.manifest["files"], key=lambda f: f["min_key"])
    first = _quoted(table / files[0]["file"])
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {first}").fetchall()]
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                             f"{first})").fetchall())
    state = [c for c in ("http_code", "error", "broken_at", "url_redirect", "redirect_code")
             if c in types and c in _columns(con, "patched")]
    replaced = ", ".join(f"CAST(n.{c} AS {types[c]}) AS {c}" for c in state)
    backlinks = _quoted(before.path / FACTS_DIR / BACKLINKS / "*.parquet")
    keys = sorted({urls.key_of(url) for url in changed})
    served = [_quoted(table / f["file"]) for f in files
              if f["rows"] and any(f["min_key"] <= k <= f["max_key"] for k in keys)]
    # a target that is broken now: its rows as served (if it was broken) or as kept in
    # facts/backlinks (if it was not), with its new state
    sources = [f"SELECT * FROM read_parquet({backlinks})",
               *(f"SELECT * FROM read_parquet({f})" for f in served)]
    marks = ", ".join("?" * len(changed))  # bound IN list: filtered inside the Parquet scans
    sources = [f"{source} WHERE url_to IN ({marks})" for source in sources]
    con.execute(f"""
        CREATE TABLE added AS
        SELECT DISTINCT b.* REPLACE ({replaced})
        FROM ({" UNION ALL BY NAME ".join(sources)}) b
        JOIN patched n ON n.url = b.url_to AND n.broken""", changed * len(sources))
    filled = [f for f in files if f["rows"]] or files[:1]
    home: dict[str, list[str]] = {}
    for key in keys:  # each changed key's file: the last whose range starts at or before it
        owner = next((f for f in reversed(filled) if f["min_key"] <= key), filled[0])
        home.setdefault(owner["file"], []).append(key)
    order = ", ".join(["url_to_key", *TIE_BREAK])
    written = []
    for entry in files:
        source, target = table / entry["file"], staging / snapshot.TABLE / entry["file"]
        mine = home.get(entry["file"], [])
        touched = mine or any(entry["rows"] and entry["min_key"] <= k <= entry["max_key"]
                              for k in keys)
        if not touched:
            _link(source, target)
            written.append(entry)
            continue
        con.execute(f"""
            COPY (SELECT {", ".join(columns)} FROM (
                    SELECT * FROM read_parquet({_quoted(source)})
                    WHERE NOT list_contains(?, url_to)
                    UNION ALL BY NAME
                    SELECT * FROM added WHERE list_contains(?, url_to_key))
                  ORDER BY {order})
            TO {_quoted(target)} (FORMAT parquet, COMPRESSION zstd,
                                  ROW_GROUP_SIZE {snapshot.ROW_GROUP})""", [changed, mine])
        low, high, rows = con.execute(f"SELECT coalesce(min(url_to_key), ''), coalesce("
                                      f"max(url_to_key), ''), count(*) FROM "
                                      f"{_quoted(target)}").fetchone()
        written.append({"file": entry["file"], "min_key": low, "max_key": high, "rows": rows})
    return sorted(written, key=lambda f: f["min_key"])


def _columns(con: Any, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


def _patch_facts(con: Any, before: snapshot.Snapshot, staging: Path, moment_id: str) -> None:
    """facts/targets with the new states, facts/hops judged anew, and a backlinks part with
    the served rows of the targets that are no longer broken; the other parts and pages are
    unchanged (linked)."""
    from .changes import REDIRECTS_SQL

    old, new = before.path / FACTS_DIR, staging / FACTS_DIR
    (new / BACKLINKS).mkdir(parents=True)
    for part in (old / BACKLINKS).glob("*.parquet"):
        _link(part, new / BACKLINKS / part.name)
    _link(old / "pages.parquet", new / "pages.parquet")
    good = [row[0] for row in con.execute(
        "SELECT url FROM patched WHERE NOT coalesce(broken, FALSE)").fetchall()]
    if good:  # their rows as served, kept as facts now that the serve table drops them
        con.execute(f"""
            COPY (SELECT * FROM read_parquet({_quoted(before.table)})
                  WHERE url_to IN ({", ".join("?" * len(good))}))
            TO {_quoted(new / BACKLINKS / f"patch-{moment_id}.parquet")}
            (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {snapshot.ROW_GROUP})""", good)
    source = _quoted(old / "targets.parquet")
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                             f"{source})").fetchall())
    state = ", ".join(f"CAST(t.{c} AS {types[c]}) AS {c}" for c in STATE)
    con.execute(f"""
        COPY (SELECT * FROM (
                SELECT o.* REPLACE ({state},
                       coalesce(NOT t.broken AND {REDIRECTS_SQL}, FALSE) AS redirects)
                FROM read_parquet({source}) o JOIN patched t ON t.url = o.url
                UNION ALL
                SELECT * FROM read_parquet({source})
                WHERE url NOT IN (SELECT url FROM patched))
              ORDER BY url_to_key, url)
        TO {_quoted(new / "targets.parquet")} (FORMAT parquet, COMPRESSION zstd,
                                              ROW_GROUP_SIZE {snapshot.ROW_GROUP})""")
    hops = _quoted(old / "hops.parquet")  # the URLs judged anew replace theirs
    con.execute(f"""
        COPY (SELECT * FROM (SELECT * FROM hops UNION ALL
                             SELECT * FROM read_parquet({hops})
                             WHERE url NOT IN (SELECT url FROM hops))
              ORDER BY url)
        TO {_quoted(new / 'hops.parquet')} (FORMAT parquet, COMPRESSION zstd,
                                           ROW_GROUP_SIZE {snapshot.ROW_GROUP})""")

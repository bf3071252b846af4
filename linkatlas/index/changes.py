"""What changed between two snapshots: the facts each snapshot keeps for it, and the changes
(new, fixed, lost broken backlinks; spec/API.md `broken_backlinks_changes`).

The serve table holds only broken backlinks, so a backlink that left it does not say why. Each
snapshot therefore keeps three small fact tables beside it (`facts/`), written by either engine
from the same SQL text:

- `links`: the identity of every live link (docs/architecture.md: url_from, url_to, link_type,
  anchor, alt, nofollow) — still on its page or not;
- `targets`: the decided status of every live target — good again or not, and whether it
  redirects;
- `pages`: the referring pages that are not fine — gone (4xx/5xx), host gone (NXDOMAIN), or
  redirecting elsewhere at their latest good visit.

A backlink broken in snapshot A and absent from B's serve table is `fixed` when B still has the
link and its target is good, else `lost` with the page's reason (`link_removed` when the page is
fine). Changes compare A's serve table with B's serve table and facts, so any two snapshots can
be compared, and each build records its changes against the snapshot it replaces
(`changes.parquet` in the snapshot, appended to the log in `DIR/changes/`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import snapshot
from ..columns import TIE_BREAK
from .stages import BROKEN, GOOD

__all__ = ["CHANGES_FILE", "FACTS", "FACTS_DIR", "LOG_DIR", "append_log", "changes_sql",
           "log_files", "record", "write_facts"]

FACTS_DIR = "facts"
CHANGES_FILE = "changes.parquet"
LOG_DIR = "changes"

# A target "redirects" when its decided answer is a 3xx (it is good, and fixed by a redirect).
_REDIRECTS = "(http_code BETWEEN 300 AND 399)"

FACTS: dict[str, str] = {
    "links": f"""
        SELECT {", ".join(TIE_BREAK)} FROM live
        ORDER BY {", ".join(TIE_BREAK)}""",
    "targets": f"""
        SELECT url, http_code, error, broken, NOT broken AND {_REDIRECTS} AS redirects
        FROM targets ORDER BY url""",
    # The newest decided observation of a dead page says whether its host is gone; a page
    # whose latest good visit answered 3xx carries only its redirect now.
    "pages": f"""
        WITH newest AS (
            SELECT o.url, o.error, row_number() OVER (
                       PARTITION BY o.url ORDER BY o.time DESC, o.http_code DESC, o.error DESC
                   ) AS n
            FROM observations o JOIN dead_pages d ON d.url = o.url
            WHERE {BROKEN} OR {GOOD}),
        landed AS (
            SELECT url, max_by(status, time) AS status FROM visits WHERE status < 400
            GROUP BY url)
        SELECT p.url, CASE WHEN n.error = 'dns' THEN 'host_gone'
                           WHEN n.url IS NOT NULL THEN 'page_gone'
                           ELSE 'page_redirects' END AS state
        FROM pages p
        LEFT JOIN newest n ON n.url = p.url AND n.n = 1
        LEFT JOIN landed v ON v.url = p.url
        WHERE n.url IS NOT NULL OR v.status BETWEEN 300 AND 399
        ORDER BY p.url""",
}


def _quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def write_facts(con: Any, staging: Path, source: Callable[[str, str], str] | None = None
                ) -> None:
    """Write FACTS into staging/facts/ with DuckDB; `source(name, sql)` gives the SELECT to
    copy from when another engine computed the tables (Spark hands DuckDB its rows)."""
    folder = staging / FACTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in FACTS.items():
        query = sql if source is None else source(name, sql)
        con.execute(f"COPY ({query}) TO {_quoted(folder / f'{name}.parquet')} "
                    "(FORMAT parquet, COMPRESSION zstd)")


def _same(left: str, right: str) -> str:
    """Join condition on a backlink's identity (NULL-safe)."""
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in TIE_BREAK)


def changes_sql(before: Path, after: Path) -> str:
    """Changes from snapshot dir `before` to `after` (one bound parameter: the change time,
    twice), ordered by target key. New rows are `after`'s rows; fixed and lost rows are the
    backlink as it was while broken (`before`'s row)."""
    a = _quoted(before / snapshot.TABLE / "*.parquet")
    b = _quoted(after / snapshot.TABLE / "*.parquet")
    facts = after / FACTS_DIR
    links, targets, pages = (_quoted(facts / f"{n}.parquet") for n in ("links", "targets",
                                                                      "pages"))
    return f"""
        WITH a AS (SELECT * FROM read_parquet({a}, union_by_name = true)),
             b AS (SELECT * FROM read_parquet({b}, union_by_name = true)),
             gone AS (SELECT * FROM a WHERE NOT EXISTS (
                          SELECT 1 FROM b WHERE {_same('a', 'b')}))
        SELECT * FROM (
            SELECT b.*, 'new' AS change, ?::TIMESTAMP AS changed_at, '' AS reason FROM b
            WHERE NOT EXISTS (SELECT 1 FROM a WHERE {_same('a', 'b')})
            UNION ALL BY NAME
            SELECT g.*,
                   CASE WHEN l.url_from IS NOT NULL THEN 'fixed' ELSE 'lost' END AS change,
                   ?::TIMESTAMP AS changed_at,
                   CASE WHEN l.url_from IS NOT NULL AND t.redirects THEN 'target_redirects_good'
                        WHEN l.url_from IS NOT NULL THEN 'target_good'
                        ELSE coalesce(p.state, 'link_removed') END AS reason
            FROM gone g
            LEFT JOIN read_parquet({links}) l ON {_same('g', 'l')}
            LEFT JOIN read_parquet({targets}) t ON t.url = g.url_to
            LEFT JOIN read_parquet({pages}) p ON p.url = g.url_from
            -- still linked and not good (a rule left it out, or no verdict): not a change
            WHERE l.url_from IS NULL OR NOT coalesce(t.broken, true))
        ORDER BY url_to_key, CASE change WHEN 'new' THEN 0 WHEN 'fixed' THEN 1 ELSE 2 END,
                 {", ".join(TIE_BREAK)}"""


def record(con: Any, before: snapshot.Snapshot | None, staging: Path, moment: datetime
           ) -> None:
    """Write the changes of a build (staging) against the snapshot it replaces into
    staging/changes.parquet. The first build has nothing to compare: no rows (a baseline),
    but the file keeps the table's schema."""
    target = _quoted(staging / CHANGES_FILE)
    if before is None or not (before.path / snapshot.TABLE).is_dir():
        b = _quoted(staging / snapshot.TABLE / "*.parquet")
        con.execute(f"""COPY (SELECT *, 'new' AS change, ?::TIMESTAMP AS changed_at,
                                     '' AS reason FROM read_parquet({b}) LIMIT 0)
                        TO {target} (FORMAT parquet)""", [moment])
        return
    con.execute(f"COPY ({changes_sql(before.path, staging)}) TO {target} "
                "(FORMAT parquet, COMPRESSION zstd)", [moment, moment])


def log_dir(data: Path) -> Path:
    return data / LOG_DIR


def append_log(data: Path) -> None:
    """Add the changes of every snapshot on disk that are not in the log yet (the one just
    published, and any whose build stopped between publishing and logging). The log is
    append-only and outlives snapshot retention."""
    folder = log_dir(data)
    folder.mkdir(parents=True, exist_ok=True)
    base = snapshot.snapshots_dir(data)
    for entry in sorted(base.iterdir()):
        source = entry / CHANGES_FILE
        logged = folder / f"{entry.name}.parquet"
        if entry.name.startswith(".") or not source.is_file() or logged.exists():
            continue
        temp = folder / f".{entry.name}.parquet.tmp"
        shutil.copyfile(source, temp)
        os.replace(temp, logged)


def log_files(data: Path) -> list[str]:
    """Every file of the changes log, oldest first."""
    folder = log_dir(data)
    if not folder.is_dir():
        return []
    return [str(p) for p in sorted(folder.glob("*.parquet")) if not p.name.startswith(".")]

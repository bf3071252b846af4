"""What changed between two snapshots: the facts each snapshot keeps for it, and the changes
(new, fixed, lost broken backlinks; spec/API.md `broken_backlinks_changes`).

The serve table holds only broken backlinks, so a backlink that left it does not say why. Each
snapshot therefore keeps four fact tables beside it (`facts/`), written by either engine from
the same SQL text:

- `backlinks`: every live backlink the serve table does not hold (its target is good or
  undecided), as a serve row (the serve query with those targets counted as broken): whether
  a link is still on its page, and the rows a re-check adds when a target breaks
  (recheck.py);
- `targets`: every live target and its decided state (NULL when undecided): good again or
  not, whether it redirects, and what a re-check starts from;
- `hops`: the newest decided state of every URL on a redirect chain and since when it holds
  (the targets stage's `hops`), from which a re-check continues;
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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import snapshot
from ..columns import TIE_BREAK
from ..rules.verdicts import broken_sql, good_sql

__all__ = ["BACKLINKS", "CHANGES_FILE", "FACTS_DIR", "HOPS_FACTS_SQL", "PAGES_FACTS_SQL",
           "REDIRECTS_SQL", "STATE", "TARGETS_FACTS_SQL", "append_log", "changes_sql",
           "every_target_sql", "every_target_view", "record", "write_facts"]

FACTS_DIR = "facts"
# A folder of parts: a re-check adds a part with the rows of the targets it found good again.
BACKLINKS = "backlinks"
CHANGES_FILE = "changes.parquet"

# A good target "redirects" when its redirect chain ends elsewhere (a fix by a redirect).
REDIRECTS_SQL = "(t.url_redirect <> '')"
# A target's state, as the targets stage decides it (stages.TARGETS_SQL).
STATE = ("http_code", "error", "broken", "broken_at", "url_redirect", "redirect_code")

# Every live target with its decided state (NULL when undecided), in key order.
TARGETS_FACTS_SQL = f"""
        SELECT u.url_to AS url, u.key_to AS url_to_key,
               {", ".join(f"t.{c}" for c in STATE)},
               coalesce(NOT t.broken AND {REDIRECTS_SQL}, FALSE) AS redirects
        FROM (SELECT url_to, min(key_to) AS key_to FROM live GROUP BY url_to) u
        LEFT JOIN targets t ON t.url = u.url_to
        ORDER BY url_to_key, url"""

# The newest decided state of every URL on a redirect chain, and since when it holds
# (stages.HOPS_SQL): what a re-check's patch starts from.
HOPS_FACTS_SQL = "SELECT * FROM hops ORDER BY url"

# The newest decided observation of a dead page says whether its host is gone; a page whose
# latest good visit answered 3xx carries only its redirect now.
PAGES_FACTS_SQL = f"""
        WITH newest AS (
            SELECT o.url, o.error, row_number() OVER (
                       PARTITION BY o.url ORDER BY o.time DESC, o.http_code DESC, o.error DESC
                   ) AS n
            FROM observations o JOIN dead_pages d ON d.url = o.url
            WHERE {broken_sql("o.http_code", "o.error")}
               OR {good_sql("o.http_code", "o.error")}),
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
        ORDER BY p.url"""


def every_target_sql(columns: list[str]) -> str:
    """`targets` as the serve query sees it when every live target that is not broken (good
    or undecided) counts as broken (its state kept; the decided table renamed
    `targets_decided` meanwhile): the serve query then gives a row for every live backlink the
    serve table does not hold. `columns`: the targets table's."""
    kept = "".join(f"t.{c}, " for c in columns if c not in ("url", "broken"))
    return f"""
        SELECT u.url_to AS url, {kept}TRUE AS broken
        FROM (SELECT DISTINCT url_to FROM live) u LEFT JOIN targets_decided t
          ON t.url = u.url_to
        WHERE NOT coalesce(t.broken, FALSE)"""


def _unordered(sql: str) -> str:
    """A query without its final ORDER BY: the backlinks facts are read by target, never in
    order, and sorting a million wide rows was most of their cost."""
    return sql[:sql.rindex("ORDER BY")]


def _quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _copy(con: Any, query: str, path: Path) -> None:
    con.execute(f"COPY ({query}) TO {_quoted(path)} (FORMAT parquet, COMPRESSION zstd, "
                f"ROW_GROUP_SIZE {snapshot.ROW_GROUP})")


@contextmanager
def every_target_view(con: Any) -> Iterator[None]:
    """every_target_sql as DuckDB's `targets` while the context lasts."""
    columns = [row[0] for row in con.execute("DESCRIBE targets").fetchall()]
    con.execute("ALTER TABLE targets RENAME TO targets_decided")
    try:
        con.execute(f"CREATE VIEW targets AS {every_target_sql(columns)}")
        yield
    finally:
        con.execute("DROP VIEW IF EXISTS targets")
        con.execute("ALTER TABLE targets_decided RENAME TO targets")


def write_facts(con: Any, staging: Path,
                source: Callable[[str], str] | None = None,
                every_target: Callable[[], Any] | None = None,
                dialect: Mapping[str, str] | None = None) -> None:
    """Write staging/facts/ with DuckDB. On another engine, `source(sql)` runs sql there and
    names what DuckDB copies from, `every_target()` is its context for the backlinks, and
    `dialect` its spelling of the stage SQL's placeholders (stages.DUCKDB by default)."""
    from .stages import DUCKDB, SERVE_SQL

    folder = staging / FACTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    run = source or (lambda sql: sql)
    _copy(con, run(TARGETS_FACTS_SQL), folder / "targets.parquet")
    _copy(con, run(PAGES_FACTS_SQL), folder / "pages.parquet")
    _copy(con, run(HOPS_FACTS_SQL), folder / "hops.parquet")
    with (every_target or (lambda: every_target_view(con)))():
        (folder / BACKLINKS).mkdir()
        serve = SERVE_SQL.format(**(dialect or DUCKDB))
        _copy(con, run(_unordered(serve)), folder / BACKLINKS / "part-0.parquet")


def _same(left: str, right: str) -> str:
    """Join condition on a backlink's identity (NULL-safe)."""
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in TIE_BREAK)


def changes_sql(before: Path, after: Path, only: str = "") -> str:
    """Changes from snapshot dir `before` to `after` (one bound parameter: the change time,
    twice), ordered by target key. New rows are `after`'s rows; fixed and lost rows are the
    backlink as it was while broken (`before`'s row). `only` names a table of the target URLs
    that may have changed (a re-check's), to read just their rows (and `{only}_links`, their
    backlinks facts)."""
    where = f" WHERE url_to IN (SELECT url FROM {only})" if only else ""
    parts = _quoted(after / FACTS_DIR / BACKLINKS / "*.parquet")
    links = f"{only}_links" if only else f"read_parquet({parts})"
    a = _quoted(before / snapshot.TABLE / "*.parquet")
    b = _quoted(after / snapshot.TABLE / "*.parquet")
    facts = after / FACTS_DIR
    targets, pages = (_quoted(facts / f"{n}.parquet") for n in ("targets", "pages"))
    return f"""
        WITH a AS (SELECT * FROM read_parquet({a}, union_by_name = true){where}),
             b AS (SELECT * FROM read_parquet({b}, union_by_name = true){where}),
             gone AS (SELECT * FROM a WHERE NOT EXISTS (
                          SELECT 1 FROM b WHERE {_same('a', 'b')}))
        SELECT * FROM (
            SELECT b.*, 'new' AS change, ?::TIMESTAMP AS changed_at, '' AS reason FROM b
            WHERE NOT EXISTS (SELECT 1 FROM a WHERE {_same('a', 'b')})
            UNION ALL BY NAME
            SELECT g.* EXCLUDE (linked),
                   CASE WHEN linked THEN 'fixed' ELSE 'lost' END AS change,
                   ?::TIMESTAMP AS changed_at,
                   CASE WHEN linked AND t.redirects THEN 'target_redirects_good'
                        WHEN linked THEN 'target_good'
                        ELSE coalesce(p.state, 'link_removed') END AS reason
            FROM (SELECT *, EXISTS (SELECT 1 FROM {links} l
                                    WHERE {_same('a', 'l')}) AS linked FROM gone a) g
            LEFT JOIN read_parquet({targets}) t ON t.url = g.url_to
            LEFT JOIN read_parquet({pages}) p ON p.url = g.url_from
            -- still linked and not good (a rule left it out, or no verdict): not a change
            WHERE NOT linked OR t.broken = FALSE)
        ORDER BY url_to_key, CASE change WHEN 'new' THEN 0 WHEN 'fixed' THEN 1 ELSE 2 END,
                 {", ".join(TIE_BREAK)}"""


def record(con: Any, before: snapshot.Snapshot | None, staging: Path, moment: datetime,
           only: list[str] | None = None) -> None:
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
    if only is not None:  # a re-check: only these targets' rows can have changed
        con.execute("CREATE OR REPLACE TEMP TABLE changed_targets AS "
                    "SELECT unnest(?::VARCHAR[]) AS url", [only])
        # an IN list of bound values is filtered inside the Parquet scan: only url_to is read
        # for the other rows
        marks = ", ".join("?" * len(only))
        parts = _quoted(staging / FACTS_DIR / BACKLINKS / "*.parquet")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE changed_targets_links AS
                        SELECT {", ".join(TIE_BREAK)} FROM read_parquet({parts})
                        WHERE url_to IN ({marks})""", only)
    sql = changes_sql(before.path, staging, "changed_targets" if only is not None else "")
    con.execute(f"COPY ({sql}) TO {target} (FORMAT parquet, COMPRESSION zstd)",
                [moment, moment])


def append_log(data: Path) -> None:
    """Add the changes of every snapshot on disk that are not in the log yet (the one just
    published, and any whose build stopped between publishing and logging). The log is
    append-only and outlives snapshot retention."""
    folder = snapshot.changes_log(data)
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

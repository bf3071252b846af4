"""The snapshot's `reclaim.parquet`: the facts the report needs to suggest where a dead URL
should redirect (docs/report.md "Reclaim"), which the serve table does not hold.

- `redirect` rows: a broken target the index saw redirect (in an archive or the checker's log)
  *before* its current broken streak began, with the latest such location;
- `live` rows: pages of a host that has broken targets whose latest capture was a good HTML
  page (and that are not broken targets or dead pages themselves), with their titles.

One SQL text for both engines (DuckDB and Spark agree on every function it uses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..snapshot import RECLAIM

__all__ = ["FILE", "RECLAIM_SQL", "reclaim_table", "write"]

FILE = RECLAIM  # the name lives with the snapshot layout, where the report reads it
_HOST = "lower(regexp_extract({url}, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]*)', 1))"

RECLAIM_SQL = f"""
        WITH dead AS (
            SELECT url, broken_at, {_HOST.format(url="url")} AS host
            FROM targets WHERE broken),
        latest AS (
            SELECT url, max(time) AS time FROM visits GROUP BY url),
        live_pages AS (
            SELECT v.url, {_HOST.format(url="v.url")} AS host, v.title
            FROM visits v JOIN latest l ON l.url = v.url AND l.time = v.time
            WHERE v.kind = 'page' AND v.status BETWEEN 200 AND 299
              AND v.url NOT IN (SELECT url FROM dead_pages)
              AND v.url NOT IN (SELECT url FROM dead))
        SELECT DISTINCT 'live' AS kind, p.host, p.url, coalesce(p.title, '') AS title,
               '' AS location
        FROM live_pages p WHERE p.host IN (SELECT host FROM dead)
        UNION ALL
        SELECT 'redirect' AS kind, d.host, d.url, '' AS title,
               max_by(o.location, o.time) AS location
        FROM dead d JOIN observations o
          ON o.url = d.url AND o.http_code BETWEEN 300 AND 399 AND o.location <> ''
         AND (d.broken_at IS NULL OR o.time < d.broken_at)
        GROUP BY d.host, d.url
        ORDER BY kind, host, url"""


def write(con: Any, select_sql: str, staging: Path) -> None:
    """Write the rows of select_sql (DuckDB) as the snapshot's reclaim file."""
    path = str(staging / FILE).replace("'", "''")
    con.execute(f"COPY ({select_sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")


def reclaim_table(con: Any, staging: Path) -> None:
    """The DuckDB engine's stage."""
    write(con, RECLAIM_SQL, staging)

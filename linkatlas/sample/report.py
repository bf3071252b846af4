"""A synthetic snapshot for the report: one big site, `big.test`, with many dead URLs linked
from many referring domains, and live pages to suggest (bench/report.py, the browser tests).
Written with the build's own writer (snapshot.write_table) in the serve table's layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from .. import clock, snapshot, urls
from ..index.reclaim import FILE

__all__ = ["write_big_site"]


def write_big_site(data: Path, backlinks: int, dead: int, live: int = 2000) -> None:
    """Publish the snapshot: `backlinks` rows over `dead` dead URLs of big.test, from
    20,000 referring domains, and `live` live pages of big.test in the reclaim file."""
    staging = data / "snapshots" / ".staging-report"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    con = duckdb.connect()
    key = urls.key_of("http://big.test/")[:-1]  # "test,big)"
    files = snapshot.write_table(con, f"""
        WITH base AS (
            SELECT i, hash(i) AS h, i % {dead} AS t, hash(i * 7) % 20000 AS r
            FROM range({backlinks}) x(i))
        SELECT 'http://www.ref' || r || '.test/page/' || (h % 50) AS url_from,
               'http://big.test/section-' || (t % 40) || '/old-page-' || t AS url_to,
               (h % 101)::BIGINT AS ahrefs_rank, (hash(r) % 101)::BIGINT AS domain_rating,
               1::BIGINT AS ahrefs_top, '203.0.113.' || (h % 250) AS ip_from,
               ((h >> 4) % 300)::BIGINT AS links_internal,
               ((h >> 12) % 200)::BIGINT AS links_external,
               (1000 + (h % 90000))::BIGINT AS page_size,
               ['en', 'de', 'fr', ''][1 + (h % 4)::INT] AS language, 'utf8' AS encoding,
               'Referring page ' || i AS title,
               TIMESTAMP '2021-01-01' + INTERVAL (h % 1000) DAY AS first_seen,
               TIMESTAMP '2024-01-01' + INTERVAL (h % 300) DAY AS last_visited,
               NULL::TIMESTAMP AS prev_visited, h % 4 = 0 AS original, 'href' AS link_type,
               0::BIGINT AS redirect, h % 5 = 0 AS nofollow, '' AS alt,
               'anchor ' || (h % 300) AS anchor, 'text before' AS text_pre,
               'text after' AS text_post,
               TIMESTAMP '2023-01-01' + INTERVAL (t % 700) DAY AS broken_at,
               TIMESTAMP '2020-01-01' AS url_from_first_seen,
               [404, 410, 500][1 + (t % 3)::INT]::BIGINT AS http_code, '' AS error,
               '{key}/section-' || (t % 40) || '/old-page-' || t AS url_to_key,
               'ref' || r || '.test' AS url_from_domain
        FROM base ORDER BY url_to_key, url_from""", staging)
    path = str(staging / FILE).replace("'", "''")
    con.execute(f"""COPY (
        SELECT 'live' AS kind, 'big.test' AS host,
               'http://big.test/section-' || (i % 40) || '/page-' || i AS url,
               'Page ' || i || ' of section ' || (i % 40) AS title, '' AS location
        FROM range({live}) x(i)) TO '{path}' (FORMAT parquet)""")
    con.close()
    moment = clock.now()
    snapshot.publish(data, staging, {"id": snapshot.new_id(moment), "built_at": clock.iso(moment),
                                     "rows": backlinks, "engine": "synthetic", "files": files})

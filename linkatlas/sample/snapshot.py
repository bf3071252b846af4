"""A synthetic snapshot written straight into the serve-table layout, for benchmarks and
for tests that need many rows (timeouts, streaming). It has the exact schema `build` writes
and the same key order, over `domains` target domains `dN.test` (half with a `www.`)."""

from __future__ import annotations

from pathlib import Path

from .. import clock, snapshot
from ..index import connect

__all__ = ["write_synthetic"]


def write_synthetic(data: Path, rows: int, domains: int, seed: int = 0) -> snapshot.Snapshot:
    """Write and publish a snapshot of `rows` broken backlinks over `domains` domains."""
    staging = data / "snapshots" / f".staging-synthetic-{rows}-{domains}"
    staging.mkdir(parents=True, exist_ok=True)
    con = connect(data, memory_limit="2GB")
    try:
        files = snapshot.write_table(con, f"""
        WITH base AS (
            SELECT i, hash(i + {int(seed)}) AS h, (hash(i * 7 + {int(seed)}) % {domains}) AS d
            FROM range({rows}) t(i)),
        shaped AS (
            SELECT i, h, d, (h % 2 = 0) AS www, 'd' || d || '.test' AS host,
                   '/p/' || (h % 997) || '/' || i AS path,
                   'http://s' || (h % 100003) || '.linker.test/page/' || (i % 37) AS url_from
            FROM base)
        SELECT url_from,
               'http://' || CASE WHEN www THEN 'www.' ELSE '' END || host || path AS url_to,
               (h % 101)::BIGINT AS ahrefs_rank, ((h >> 8) % 101)::BIGINT AS domain_rating,
               (d + 1)::BIGINT AS ahrefs_top, '203.0.113.' || (h % 250) AS ip_from,
               ((h >> 4) % 300)::BIGINT AS links_internal,
               ((h >> 12) % 200)::BIGINT AS links_external,
               (1000 + (h % 90000))::BIGINT AS page_size,
               ['en', 'de', 'fr', 'ja', ''][1 + (h % 5)::INT] AS language,
               ['utf8', 'iso-8859-1', 'windows-1251'][1 + (h % 3)::INT] AS encoding,
               'Page ' || i AS title,
               TIMESTAMP '2020-01-01' + INTERVAL (h % 1000) DAY AS first_seen,
               TIMESTAMP '2024-01-01' + INTERVAL (h % 300) DAY AS last_visited,
               CASE WHEN h % 3 = 0 THEN NULL
                    ELSE TIMESTAMP '2023-01-01' + INTERVAL (h % 300) DAY END AS prev_visited,
               h % 4 = 0 AS original,
               ['href', 'href', 'href', 'redirect', 'frame', 'canonical'][1 + (h % 6)::INT]
                   AS link_type,
               0::BIGINT AS redirect, h % 5 = 0 AS nofollow, '' AS alt,
               'anchor ' || (h % 1000) AS anchor, 'before the link' AS text_pre,
               'after the link' AS text_post,
               TIMESTAMP '2024-06-01' + INTERVAL (h % 100) DAY AS broken_at,
               TIMESTAMP '2019-01-01' + INTERVAL (h % 365) DAY AS url_from_first_seen,
               [404, 410, 500, 0][1 + (h % 4)::INT]::BIGINT AS http_code,
               CASE WHEN h % 4 = 3 THEN 'dns' ELSE '' END AS error,
               'test,d' || d || CASE WHEN www THEN ',www' ELSE '' END || ')' || path
                   AS url_to_key,
               'linker.test' AS url_from_domain
        FROM shaped
        ORDER BY url_to_key, url_from""", staging)
    finally:
        con.close()
    moment = clock.now()
    return snapshot.publish(data, staging, {"id": snapshot.new_id(moment),
                                            "built_at": clock.iso(moment), "rows": rows,
                                            "engine": "synthetic", "files": files})

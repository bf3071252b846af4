"""A synthetic snapshot written straight into the serve-table layout, for benchmarks and
for tests that need many rows (timeouts, streaming). It has the exact schema `build` writes
(the column table's, columns.select_list) and the same key order, over `domains` target
domains `dN.test` (half with a `www.`)."""

from __future__ import annotations

from pathlib import Path

from .. import clock, snapshot
from ..columns import select_list
from ..index import connect

__all__ = ["write_synthetic"]

# Each column's value over `shaped` (h: a row's hash, d: its target domain); the column table
# gives the order and the types, and the empty value of a column not listed.
_VALUES = {
    "url_from": "url_from",
    "url_to": "'http://' || CASE WHEN www THEN 'www.' ELSE '' END || host || path",
    "ahrefs_rank": "h % 101",
    "domain_rating": "(h >> 8) % 101",
    "ahrefs_top": "d + 1",
    "ip_from": "'203.0.113.' || (h % 250)",
    "links_internal": "(h >> 4) % 300",
    "links_external": "(h >> 12) % 200",
    "page_size": "1000 + (h % 90000)",
    "language": "['en', 'de', 'fr', 'ja', ''][1 + (h % 5)::INT]",
    "encoding": "['utf8', 'iso-8859-1', 'windows-1251'][1 + (h % 3)::INT]",
    "title": "'Page ' || i",
    "first_seen": "TIMESTAMP '2020-01-01' + INTERVAL (h % 1000) DAY",
    "last_visited": "TIMESTAMP '2024-01-01' + INTERVAL (h % 300) DAY",
    "prev_visited": "CASE WHEN h % 3 <> 0 THEN TIMESTAMP '2023-01-01' + INTERVAL (h % 300) DAY END",
    "original": "h % 4 = 0",
    "link_type": "['href', 'href', 'href', 'redirect', 'frame', 'canonical'][1 + (h % 6)::INT]",
    "nofollow": "h % 5 = 0",
    "anchor": "'anchor ' || (h % 1000)",
    "text_pre": "'before the link'",
    "text_post": "'after the link'",
    "broken_at": "TIMESTAMP '2024-06-01' + INTERVAL (h % 100) DAY",
    "url_from_first_seen": "TIMESTAMP '2019-01-01' + INTERVAL (h % 365) DAY",
    "http_code": "[404, 410, 500, 0][1 + (h % 4)::INT]",
    "error": "CASE WHEN h % 4 = 3 THEN 'dns' ELSE '' END",
    "url_to_key": "'test,d' || d || CASE WHEN www THEN ',www' ELSE '' END || ')' || path",
    "url_from_domain": "'linker.test'",
}


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
        SELECT {select_list(_VALUES, fill=True)}
        FROM shaped
        ORDER BY url_to_key, url_from""", staging)
    finally:
        con.close()
    moment = clock.now()
    return snapshot.publish(data, staging, {"id": snapshot.new_id(moment),
                                            "built_at": clock.iso(moment), "rows": rows,
                                            "engine": "synthetic", "files": files})

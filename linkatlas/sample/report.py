"""A synthetic snapshot for the report: one big site, `big.test`, with many dead URLs linked
from many referring domains, and live pages to suggest (bench/report.py, the browser tests).
Written with the build's own writer (snapshot.write_table) in the serve table's layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from .. import clock, snapshot, urls
from ..columns import select_list
from ..snapshot import RECLAIM as FILE

__all__ = ["write_big_site"]


def write_big_site(data: Path, backlinks: int, dead: int, live: int = 2000) -> None:
    """Publish the snapshot: `backlinks` rows over `dead` dead URLs of big.test, from
    20,000 referring domains, and `live` live pages of big.test in the reclaim file."""
    staging = data / "snapshots" / ".staging-report"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    con = duckdb.connect()
    key = urls.key_of("http://big.test/")[:-1]  # "test,big)"
    values = {
        "url_from": "'http://www.ref' || r || '.test/page/' || (h % 50)",
        "url_to": "'http://big.test/section-' || (t % 40) || '/old-page-' || t",
        "ahrefs_rank": "h % 101", "domain_rating": "hash(r) % 101", "ahrefs_top": "1",
        "ip_from": "'203.0.113.' || (h % 250)", "links_internal": "(h >> 4) % 300",
        "links_external": "(h >> 12) % 200", "page_size": "1000 + (h % 90000)",
        "language": "['en', 'de', 'fr', ''][1 + (h % 4)::INT]", "encoding": "'utf8'",
        "title": "'Referring page ' || i",
        "first_seen": "TIMESTAMP '2021-01-01' + INTERVAL (h % 1000) DAY",
        "last_visited": "TIMESTAMP '2024-01-01' + INTERVAL (h % 300) DAY",
        "original": "h % 4 = 0", "link_type": "'href'", "nofollow": "h % 5 = 0",
        "anchor": "'anchor ' || (h % 300)", "text_pre": "'text before'",
        "text_post": "'text after'",
        "broken_at": "TIMESTAMP '2023-01-01' + INTERVAL (t % 700) DAY",
        "url_from_first_seen": "TIMESTAMP '2020-01-01'",
        "http_code": "[404, 410, 500][1 + (t % 3)::INT]",
        "url_to_key": f"'{key}/section-' || (t % 40) || '/old-page-' || t",
        "url_from_domain": "'ref' || r || '.test'",
    }  # the column table gives the order, the types and the empty value of the others
    files = snapshot.write_table(con, f"""
        WITH base AS (
            SELECT i, hash(i) AS h, i % {dead} AS t, hash(i * 7) % 20000 AS r
            FROM range({backlinks}) x(i))
        SELECT {select_list(values, fill=True)}
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

"""The build stages after extraction, as SQL over the cached extraction tables (DuckDB).

Each stage is a function connection → tables, listed once in STAGES, in order:
visits → history → targets → graph → (ratings) → serve. DESIGN.md §3 says what each derives;
spec/COLUMNS.md says what each column means.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from .. import snapshot

__all__ = ["BROKEN", "FACTS", "GOOD", "GRAPH_SQL", "LIVE_SQL", "PAGES_SQL", "SERVE_SQL",
           "load_inputs", "serve_table"]

Connection = duckdb.DuckDBPyConnection

# Verdict of one observation (spec/COLUMNS.md "Broken"): 429 and network failures are
# transient and never decide anything; 3xx is not broken.
BROKEN = "(error = 'dns' OR (http_code >= 400 AND http_code <> 429))"
GOOD = "(error = '' AND http_code BETWEEN 200 AND 399)"


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def load_inputs(con: Connection, visits: list[Path], links: list[Path],
                checks: list[Path]) -> None:
    """Visits and links deduplicated (the same capture in two archives is one visit), and
    every observation of a URL: archive responses and check-log lines."""
    con.execute(f"""
        CREATE TABLE visits AS
        SELECT * EXCLUDE (rn) FROM (
            SELECT *, row_number() OVER (PARTITION BY url, time ORDER BY archive, "offset") rn
            FROM read_parquet({_files(visits)})) WHERE rn = 1""")
    # Links of the kept capture only (extraction already kept one row per link and capture).
    con.execute(f"""
        CREATE TABLE links AS
        SELECT l.* EXCLUDE ("offset", archive)
        FROM read_parquet({_files(links)}) l
        SEMI JOIN visits v
          ON v.url = l.url_from AND v.time = l.time AND v.archive = l.archive
         AND v."offset" = l."offset"
        """)
    # A revisit (WARC 1.1 §6.7: the payload is the same as an earlier capture's) is a visit
    # at which the links of that capture were present: the one it refers to, else the
    # latest earlier page or redirect capture of the URL.
    con.execute("""
        INSERT INTO links
        SELECT l.* REPLACE (r.time AS time)
        FROM visits r
        JOIN links l ON l.url_from = r.url AND l.time = (
            SELECT max(s.time) FROM visits s
            WHERE s.url = r.url AND s.kind IN ('page', 'redirect')
              AND s.time <= coalesce(r.refers_to, r.time))
        WHERE r.kind = 'revisit'""")
    checked = ""
    if checks:
        checked = f"""UNION ALL
            SELECT url, CAST(time AS TIMESTAMP) AS time, http_code, error
            FROM read_json({_files(checks)}, format = 'newline_delimited',
                           ignore_errors = true,
                           columns = {{url: 'VARCHAR', time: 'VARCHAR', http_code: 'INTEGER',
                                       error: 'VARCHAR'}})
            WHERE url IS NOT NULL AND try_cast(time AS TIMESTAMP) IS NOT NULL"""
    con.execute(f"""
        CREATE TABLE observations AS
        SELECT url, time::TIMESTAMP AS time, status AS http_code, '' AS error FROM visits
        {checked}""")


# Page facts come from the latest successful capture with a body (a revisit has none).
FACTS = "status < 400 AND kind <> 'revisit'"
PAGES_SQL = f"""
        SELECT url, any_value(key) AS key, any_value(domain) AS domain,
               min(time) FILTER (WHERE status < 400) AS first_good,
               max(time) FILTER (WHERE status < 400) AS last_good,
               max_by(ip, time) FILTER (WHERE {FACTS}) AS ip,
               max_by(title, time) FILTER (WHERE {FACTS}) AS title,
               max_by(language, time) FILTER (WHERE {FACTS}) AS language,
               max_by(encoding, time) FILTER (WHERE {FACTS}) AS encoding,
               max_by(page_size, time) FILTER (WHERE {FACTS}) AS page_size,
               max_by(links_internal, time) FILTER (WHERE {FACTS}) AS links_internal,
               max_by(links_external, time) FILTER (WHERE {FACTS}) AS links_external
        FROM visits GROUP BY url"""


# The row of a live link at the page's latest good visit holds its latest facts; only a page
# visited more than once needs the aggregate over its earlier rows (the costly part: it groups
# by text columns). Snippets stay in `links` (the row is `link`): copying them for every link
# costs more than fetching them for the broken ones (SERVE_SQL). The dialects differ in how
# a group's two latest times are taken: the placeholders.
LIVE_SQL = """
        WITH latest AS (
            SELECT l.rowid AS link, l.url_from, l.url_to, l.link_type, l.anchor, l.alt,
                   l.nofollow, l.key_to, l.domain_to, l.time, p.first_good
            FROM links l JOIN pages p ON p.url = l.url_from AND l.time = p.last_good
            WHERE l.url_from NOT IN (SELECT url FROM dead_pages)),
        revisited AS (
            SELECT url_from FROM links GROUP BY url_from HAVING min(time) < max(time)),
        earlier AS (
            SELECT url_from, url_to, link_type, anchor, alt, nofollow,
                   min(time) AS first_seen, {latest_times} AS times
            FROM links WHERE url_from IN (SELECT url_from FROM revisited)
            GROUP BY url_from, url_to, link_type, anchor, alt, nofollow)
        SELECT l.link, l.url_from, l.url_to, l.link_type, l.anchor, l.alt, l.nofollow,
               l.key_to, l.domain_to, e.first_seen, l.time AS last_visited,
               {second_time} AS prev_visited, e.first_seen = l.first_good AS original
        FROM latest l JOIN earlier e USING (url_from, url_to, link_type, anchor, alt, nofollow)
        UNION ALL
        SELECT l.link, l.url_from, l.url_to, l.link_type, l.anchor, l.alt, l.nofollow,
               l.key_to, l.domain_to, l.time AS first_seen, l.time AS last_visited,
               {no_time} AS prev_visited, l.time = l.first_good AS original
        FROM latest l WHERE l.url_from NOT IN (SELECT url_from FROM revisited)"""
LIVE_DUCKDB = {"latest_times": "max(time, 2)", "second_time": "e.times[2]", "no_time": "NULL"}


def history(con: Connection) -> None:
    """Visit history of each referring page and of each backlink on it."""
    con.execute(f"CREATE TABLE pages AS {PAGES_SQL}")
    # A backlink is live when present at the latest successful visit of a page that has not
    # since answered 4xx/5xx or vanished (NXDOMAIN, from the crawler's or checker's log);
    # original when present at the page's first good visit.
    con.execute(f"""
        CREATE TABLE dead_pages AS
        SELECT o.url FROM observations o JOIN pages p USING (url)
        WHERE ({BROKEN} OR {GOOD})
        GROUP BY o.url, p.last_good
        HAVING arg_max({BROKEN}, struct_pack(o.time, o.http_code))
           AND (p.last_good IS NULL OR max(o.time) > p.last_good)""")
    con.execute(f"CREATE TABLE live AS {LIVE_SQL.format(**LIVE_DUCKDB)}")


def targets(con: Connection) -> None:
    """Status of each live link target from its observations: the newest non-transient one
    wins; broken_at starts the current broken streak (first broken after the last good)."""
    con.execute(f"""
        CREATE TABLE targets AS
        WITH o AS (
            SELECT url, time, http_code, error, {BROKEN} AS broken
            FROM observations
            WHERE url IN (SELECT DISTINCT url_to FROM live) AND ({BROKEN} OR {GOOD})),
        state AS (
            SELECT url,
                   arg_max(http_code, struct_pack(time, http_code)) AS http_code,
                   arg_max(error, struct_pack(time, http_code)) AS error,
                   arg_max(broken, struct_pack(time, http_code)) AS broken,
                   max(time) FILTER (WHERE NOT broken) AS last_good
            FROM o GROUP BY url)
        SELECT s.url, s.http_code, s.error, s.broken,
               (SELECT min(o.time) FROM o WHERE o.url = s.url AND o.broken
                  AND (s.last_good IS NULL OR o.time > s.last_good)) AS broken_at
        FROM state s""")


# The dofollow link graph the ratings read (ratings.rate): live links of every page.
GRAPH_SQL = """
        SELECT p.key AS key_from, l.key_to, p.domain AS domain_from, l.domain_to
        FROM live l JOIN pages p ON p.url = l.url_from
        WHERE NOT l.nofollow AND l.link_type IN ('href', 'redirect', 'frame')"""


def graph(con: Connection) -> None:
    con.execute(f"CREATE TABLE graph_links AS {GRAPH_SQL}")


SERVE_SQL = """
        SELECT l.url_from, l.url_to,
               coalesce(ur.ahrefs_rank, 0)::BIGINT AS ahrefs_rank,
               coalesce(dr.domain_rating, 0)::BIGINT AS domain_rating,
               coalesce(dt.ahrefs_top, 0)::BIGINT AS ahrefs_top,
               p.ip AS ip_from, p.links_internal::BIGINT AS links_internal,
               p.links_external::BIGINT AS links_external, p.page_size::BIGINT AS page_size,
               p.language, p.encoding, p.title,
               l.first_seen::TIMESTAMP AS first_seen, l.last_visited::TIMESTAMP AS last_visited,
               l.prev_visited::TIMESTAMP AS prev_visited, l.original, l.link_type,
               k.redirect::BIGINT AS redirect, l.nofollow, l.alt, l.anchor,
               k.text_pre, k.text_post, t.broken_at::TIMESTAMP AS broken_at,
               p.first_good::TIMESTAMP AS url_from_first_seen, t.http_code::BIGINT AS http_code,
               t.error, l.key_to AS url_to_key
        FROM live l
        JOIN targets t ON t.url = l.url_to AND t.broken
        JOIN links k ON k.rowid = l.link
        JOIN pages p ON p.url = l.url_from
        LEFT JOIN url_rating ur ON ur.key = p.key
        LEFT JOIN domain_rating dr ON dr.domain = p.domain
        LEFT JOIN domain_rating dt ON dt.domain = l.domain_to
        ORDER BY url_to_key, l.url_from, l.url_to, l.link_type, l.anchor, l.alt, l.nofollow"""


def serve_table(con: Connection, staging: Path) -> list[dict[str, object]]:
    """Live backlinks whose target is broken, with page facts and ratings, in target-key
    order so every API mode is one range scan (DESIGN.md §4); returns the files written."""
    return snapshot.write_table(con, SERVE_SQL, staging)


STAGES: tuple[tuple[str, Callable[[Connection], None]], ...] = (
    ("history", history),
    ("targets", targets),
    ("graph", graph),
)

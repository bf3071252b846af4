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
from ..columns import Kind, select_list
from ..rules.verdicts import MAX_REDIRECTS, broken_sql, good_sql

__all__ = ["DEAD_PAGES_SQL", "DUCKDB", "FACTS", "GRAPH_SQL", "HOPS_SQL", "LIVE_SQL",
           "OBSERVATIONS_SQL", "PAGES_SQL", "SERVE_SQL", "STAGES", "TABLES", "TARGETS_SQL",
           "create", "history", "load_inputs", "serve_table", "targets"]

Connection = duckdb.DuckDBPyConnection

# Verdict of one observation (spec/COLUMNS.md "Broken"), generated from rules/verdicts.py.
BROKEN = broken_sql()
GOOD = good_sql()
# The SQL both engines run differs in small ways only (DuckDB ↔ Spark): these placeholders.
DUCKDB = {"newest": "struct_pack(time, http_code)", "newest_o": "struct_pack(o.time, o.http_code)",
          "latest_times": "max(time, 2)", "second_time": "e.times[2]", "no_time": "NULL",
          "inlined": "NOT MATERIALIZED",
          **{f"{kind.value}_type": kind.sql for kind in Kind}}


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
    source = "SELECT NULL AS url, NULL AS time, NULL AS http_code, NULL AS error, NULL AS location"
    if checks:
        source = f"""SELECT * FROM read_json({_files(checks)}, format = 'newline_delimited',
            ignore_errors = true, columns = {{url: 'VARCHAR', time: 'VARCHAR',
            http_code: 'INTEGER', error: 'VARCHAR', location: 'VARCHAR'}})"""
    con.execute(f"CREATE VIEW checks_read AS {source}")
    con.execute(f"CREATE TABLE observations AS {OBSERVATIONS_SQL}")


# Every observation of a URL's status: archive responses (a redirect with its Location, the
# url_to of its redirect link: a redirect capture's, or the one a revisit of it copied in
# load_inputs; one capture of a URL a second, so one link) and check-log lines (a torn or
# foreign line is skipped).
OBSERVATIONS_SQL = """
        SELECT v.url, CAST(v.time AS TIMESTAMP) AS time, v.status AS http_code, '' AS error,
               coalesce(r.url_to, '') AS location
        FROM visits v LEFT JOIN (
            SELECT url_from, time, any_value(url_to) AS url_to FROM links
            WHERE link_type = 'redirect' GROUP BY url_from, time) r
          ON r.url_from = v.url AND r.time = v.time
        UNION ALL
        SELECT url, try_cast(time AS TIMESTAMP) AS time, http_code, coalesce(error, '') AS error,
               coalesce(location, '') AS location
        FROM checks_read
        WHERE url IS NOT NULL AND http_code IS NOT NULL
          AND try_cast(time AS TIMESTAMP) IS NOT NULL"""


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
# a group's two latest times are taken: the placeholders. `latest` is read twice; DuckDB would
# materialize it (every live link, once more than the table), and computing it twice costs
# less (the second read is joined with `earlier`, empty unless pages were revisited): {inlined}.
# The join's own filter on revisited pages changes no row (`earlier` holds only theirs) but
# keeps DuckDB from hashing every live link to probe an `earlier` it expected to be as big.
LIVE_SQL = """
        WITH latest AS {inlined} (
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
        WHERE l.url_from IN (SELECT url_from FROM revisited)
        UNION ALL
        SELECT l.link, l.url_from, l.url_to, l.link_type, l.anchor, l.alt, l.nofollow,
               l.key_to, l.domain_to, l.time AS first_seen, l.time AS last_visited,
               {no_time} AS prev_visited, l.time = l.first_good AS original
        FROM latest l WHERE l.url_from NOT IN (SELECT url_from FROM revisited)"""

# A page is dead when its newest decided observation is broken and newer than its last good
# visit (a 3xx of the page itself is a good visit: its redirect link is live).
_O_BROKEN = broken_sql("o.http_code", "o.error")
DEAD_PAGES_SQL = f"""
        SELECT o.url FROM observations o JOIN pages p ON p.url = o.url
        WHERE ({_O_BROKEN} OR {good_sql("o.http_code", "o.error")})
        GROUP BY o.url, p.last_good
        HAVING max_by({_O_BROKEN}, {{newest_o}})
           AND (p.last_good IS NULL OR max(o.time) > p.last_good)"""


# The newest decided observation of every URL a target's redirect chain may pass through, and
# `since`: when that state began (the first of its current run of observations: broken, or
# redirecting to the same Location, or good), from which a chain's broken_at is found.
HOPS_SQL = f"""
        WITH o AS (
            SELECT url, time, http_code, error, location, {BROKEN} AS broken,
                   ({GOOD} AND http_code BETWEEN 300 AND 399 AND location <> '') AS redir
            FROM observations
            WHERE ({BROKEN} OR {GOOD}) AND url IN (
                SELECT url_to FROM live UNION SELECT location FROM observations
                WHERE location <> '')),
        latest AS (
            SELECT url, max_by(http_code, {{newest}}) AS http_code,
                   max_by(error, {{newest}}) AS error, max_by(location, {{newest}}) AS location,
                   max_by(broken, {{newest}}) AS broken, max_by(redir, {{newest}}) AS redir
            FROM o GROUP BY url),
        marked AS (
            SELECT o.url, o.time,
                   CASE WHEN l.broken THEN o.broken
                        WHEN l.redir THEN o.redir AND o.location = l.location
                        ELSE NOT o.broken AND NOT o.redir END AS same
            FROM o JOIN latest l ON l.url = o.url),
        streaks AS (
            SELECT url, time, same,
                   max(CASE WHEN NOT same THEN time END) OVER (PARTITION BY url) AS changed
            FROM marked)
        SELECT l.url, l.http_code, l.error, l.location, l.broken, l.redir, s.since
        FROM latest l JOIN (
            SELECT url, min(CASE WHEN same AND (changed IS NULL OR time > changed) THEN time END)
                   AS since
            FROM streaks GROUP BY url) s ON s.url = l.url"""


def _chain_end(column: str, beyond: str) -> str:
    """`column` of the first hop that does not redirect; `beyond` when every hop does."""
    cases = " ".join(f"WHEN NOT coalesce(h{k}.redir, FALSE) THEN h{k}.{column}"
                     for k in range(MAX_REDIRECTS + 1))
    return f"CASE {cases} ELSE {beyond} END"


def _targets_sql() -> str:
    """Each live link target judged at the end of its redirect chain (spec/COLUMNS.md): the
    chain's end decides http_code, error and whether it is broken; broken_at is when the
    chain last took its present shape (the latest `since` along it); a target whose chain
    reaches a URL with no decided observation is undecided (left out)."""
    joins = "\n".join(f"        LEFT JOIN hops h{k} ON h{k - 1}.redir AND h{k}.url = "
                      f"h{k - 1}.location" for k in range(1, MAX_REDIRECTS + 1))
    last = f"h{MAX_REDIRECTS}"
    redirect_url = ("CASE WHEN NOT h0.redir THEN '' " + " ".join(
        f"WHEN NOT coalesce(h{k}.redir, FALSE) THEN h{k}.url" for k in range(1, MAX_REDIRECTS + 1))
        + f" ELSE {last}.url END")
    since = ", ".join(f"h{k}.since" for k in range(MAX_REDIRECTS + 1))
    return f"""
        SELECT url, http_code, error, broken, url_redirect, redirect_code,
               CASE WHEN broken THEN broken_at END AS broken_at
        FROM (
            SELECT t.url, {_chain_end("http_code", f"{last}.http_code")} AS http_code,
                   {_chain_end("error", "'redirects'")} AS error,
                   {_chain_end("broken", "TRUE")} AS broken,
                   {_chain_end("url IS NOT NULL", "TRUE")} AS decided,
                   {redirect_url} AS url_redirect,
                   CASE WHEN h0.redir THEN h0.http_code ELSE 0 END AS redirect_code,
                   greatest({since}) AS broken_at
            FROM (SELECT DISTINCT url_to AS url FROM live) t
            JOIN hops h0 ON h0.url = t.url
{joins}) chains
        WHERE decided"""


TARGETS_SQL = _targets_sql()


# The dofollow link graph the ratings read (ratings.rate): live links of every page.
GRAPH_SQL = """
        SELECT p.key AS key_from, l.key_to, p.domain AS domain_from, l.domain_to
        FROM live l JOIN pages p ON p.url = l.url_from
        WHERE NOT l.nofollow AND l.link_type IN ('href', 'redirect', 'frame')"""


# The serve table. Its columns, their order and casts come from the column table (columns.py);
# each type is a placeholder ({int_type}, …: DUCKDB here, spark.SPARK), since the engines spell
# types differently. The joins and filters are the stage's own.
SERVE_SQL = f"""
        SELECT {select_list(types={kind: f"{{{kind.value}_type}}" for kind in Kind})}
        FROM live l
        JOIN targets t ON t.url = l.url_to AND t.broken
        JOIN links k ON k.rowid = l.link
        JOIN pages p ON p.url = l.url_from AND p.domain <> l.domain_to
        LEFT JOIN url_rating ur ON ur.key = p.key
        LEFT JOIN domain_rating dr ON dr.domain = p.domain
        LEFT JOIN domain_rating dt ON dt.domain = l.domain_to
        ORDER BY url_to_key, l.url_from, l.url_to, l.link_type, l.anchor, l.alt, l.nofollow"""


def serve_table(con: Connection, staging: Path) -> list[dict[str, object]]:
    """Live backlinks whose target is broken, with page facts and ratings, in target-key
    order so every API mode is one range scan (DESIGN.md §4); returns the files written."""
    return snapshot.write_table(con, SERVE_SQL.format(**DUCKDB), staging)


# The stages between load and ratings, each the tables it creates in order: (table, SQL with
# the dialect placeholders, stable). Either engine runs them (engine.Engine.table); a stable
# table's rows are never recomputed (Spark checkpoints it: the targets query joins hops 11
# times, and a cached view would carry its whole plan into each).
# history: the visit history of each referring page and of each backlink on it. A backlink is
# live when present at the latest successful visit of a page that has not since answered
# 4xx/5xx or vanished (NXDOMAIN, from the crawler's or checker's log); original when present
# at the page's first good visit.
# targets: each live link target's status, the newest decided observation of each URL
# followed along redirect chains.
TABLES: tuple[tuple[str, tuple[tuple[str, str, bool], ...]], ...] = (
    ("history", (("pages", PAGES_SQL, False), ("dead_pages", DEAD_PAGES_SQL, False),
                 ("live", LIVE_SQL, False))),
    ("targets", (("hops", HOPS_SQL, True), ("targets", TARGETS_SQL, True))),
    ("graph", (("graph_links", GRAPH_SQL, False),)),
)


def create(con: Connection, name: str, sql: str) -> None:
    """Table `name` from shared SQL in DuckDB's dialect."""
    con.execute(f"CREATE TABLE {name} AS {sql.format(**DUCKDB)}")


def _stage(stage: str) -> Callable[[Connection], None]:
    """The DuckDB function of one stage of TABLES (due.py and recheck.py run one alone)."""
    def run(con: Connection) -> None:
        for name, sql, _ in dict(TABLES)[stage]:
            create(con, name, sql)
    run.__name__ = stage
    return run


history, targets, graph = _stage("history"), _stage("targets"), _stage("graph")
STAGES: tuple[tuple[str, Callable[[Connection], None]], ...] = tuple(
    (name, _stage(name)) for name, _ in TABLES)

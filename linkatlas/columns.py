"""The columns of `broken_backlinks`, declared once (spec/COLUMNS.md): the 27 of v2, then the
ext columns, served only when a request names them in `select`; and the hidden columns the serve
table also holds, which no request can name.

Build (the serve stage's projection and casts, index/stages.SERVE_SQL), the synthetic snapshots
(sample/), condition parser, planner, output formats, `--help`, docs and the web page all read
this table; `tests/test_columns.py` diffs it with the spec and with the Parquet schema of built
snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BY_NAME", "COLUMNS", "HIDDEN", "NAMES", "SERVED", "TIE_BREAK", "Column", "Kind",
           "option_help", "select_list"]


class Kind(StrEnum):
    """Column types as the spec names them."""

    STRING = "string"
    INT = "int"
    DATE = "date"
    BOOLEAN = "boolean"

    @property
    def sql(self) -> str:
        """DuckDB's type: what the serve table's Parquet files hold (the build casts to it)."""
        return _SQL_TYPES[self]

    @property
    def empty(self) -> str:
        """SQL for the value an unknown fact has (spec/COLUMNS.md: `""`, 0, unknown date)."""
        return _EMPTY[self]


_SQL_TYPES = {
    Kind.STRING: "VARCHAR",
    Kind.INT: "BIGINT",
    Kind.DATE: "TIMESTAMP",
    Kind.BOOLEAN: "BOOLEAN",
}
_EMPTY = {Kind.STRING: "''", Kind.INT: "0", Kind.DATE: "NULL", Kind.BOOLEAN: "FALSE"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    where: bool
    having: bool
    description: str
    ext: bool = False  # (ext) served only when named in `select`; `*` is the v2 27
    # How the table that serves the column computes it. broken_backlinks: the serve stage's SQL
    # over its tables (index/stages.SERVE_SQL: l live links, k links, p pages, t targets, ur
    # url_rating, dr/dt domain_rating of url_from's/url_to's domain); broken_targets: the
    # aggregate over a target's backlink rows.
    sql: str = ""


def _c(name: str, kind: Kind, where: bool, having: bool, sql: str, description: str,
       ext: bool = False) -> Column:
    return Column(name, kind, where, having, description, ext, sql)


S, N, D, B = Kind.STRING, Kind.INT, Kind.DATE, Kind.BOOLEAN

COLUMNS: tuple[Column, ...] = (
    _c("url_from", S, True, True, "l.url_from",
       "referring page URL, as fetched (normalized)"),
    _c("url_to", S, True, True, "l.url_to",
       "link target: absolute, resolved against the page URL and any `<base href>`, normalized"),
    _c("ahrefs_rank", N, True, True, "coalesce(ur.ahrefs_rank, 0)",
       "URL Rating of `url_from`, 0–100"),
    _c("domain_rating", N, False, True, "coalesce(dr.domain_rating, 0)",
       "Domain Rating of `url_from`'s registered domain, 0–100"),
    _c("ahrefs_top", N, False, True, "coalesce(dt.ahrefs_top, 0)",
       "Rank of `url_to`'s registered domain among all domains by raw domain score, 1 = "
       "strongest; 0 when unranked"),
    _c("ip_from", S, True, True, "p.ip",
       "IP address `url_from` was fetched from (WARC-IP-Address)"),
    _c("links_internal", N, True, True, "p.links_internal",
       "outgoing links on `url_from` whose target has the same registered domain"),
    _c("links_external", N, True, True, "p.links_external",
       "outgoing links on `url_from` to other registered domains"),
    _c("page_size", N, True, True, "p.page_size",
       "bytes of the referring page's body, after transfer/content decoding"),
    _c("language", S, True, True, "p.language",
       "ISO 639-1 code of the page's main language; `\"\"` when unknown"),
    _c("encoding", S, True, True, "p.encoding",
       "page character encoding, lower-case: `utf8`, `iso-8859-1`, `windows-1251`, "
       "`shift_jis`, `gbk` …; `raw` for bodiless redirect responses"),
    _c("title", S, True, True, "p.title",
       "`<title>` text, entities decoded, whitespace collapsed; for a redirect backlink the "
       "status line, e.g. `301 Moved Permanently`"),
    _c("first_seen", D, True, True, "l.first_seen",
       "first visit of `url_from` at which this backlink was present"),
    _c("last_visited", D, True, True, "l.last_visited",
       "latest visit of `url_from` at which it was present"),
    _c("prev_visited", D, True, True, "l.prev_visited",
       "the visit before `last_visited` at which it was present; `\"\"` if seen once"),
    _c("original", B, True, True, "l.original",
       "the backlink was present at the very first visit of `url_from`"),
    _c("link_type", S, True, True, "l.link_type",
       "`href`, `redirect`, `frame`, `form`, `canonical`, `rss` or `alternate` (below)"),
    _c("redirect", N, True, True, "k.redirect",
       "for `redirect` backlinks the 3xx code (301, 302, 303, 307, 308); else 0"),
    _c("nofollow", B, True, True, "l.nofollow",
       "link `rel` has `nofollow`, `ugc` or `sponsored`, or the page says nofollow (meta "
       "robots or X-Robots-Tag)"),
    _c("alt", S, True, True, "l.alt",
       "alt text of an image inside the link; `\"\"` otherwise"),
    _c("anchor", S, True, True, "l.anchor",
       "text of the link element, whitespace collapsed"),
    _c("text_pre", S, True, True, "k.text_pre",
       "up to 100 characters of page text right before the anchor, cut at a word boundary"),
    _c("text_post", S, True, True, "k.text_post",
       "up to 100 characters of page text right after the anchor, cut at a word boundary"),
    _c("broken_at", D, True, True, "t.broken_at",
       "first observation of `url_to` as broken after its last good observation (the start of "
       "the current broken streak)"),
    _c("url_from_first_seen", D, True, True, "p.first_good",
       "first successful visit of `url_from`"),
    _c("http_code", N, True, True, "t.http_code",
       "HTTP status of `url_to` at its latest decided observation — for a target that "
       "redirects, the status at the end of its redirect chain (ours); 0 when the host does "
       "not resolve"),
    _c("error", S, True, True, "t.error",
       "`dns` when `url_to`'s host does not resolve (NXDOMAIN); (ours) `redirects` when its "
       "redirect chain loops or exceeds 10 hops; `\"\"` otherwise"),
    _c("url_redirect", S, True, True, "t.url_redirect",
       "when `url_to` redirects: the last URL of its redirect chain; `\"\"` otherwise", ext=True),
    _c("redirect_code", N, True, True, "t.redirect_code",
       "when `url_to` redirects: the 3xx of its first hop; 0 otherwise", ext=True),
)

BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}
# The v2 columns, in order: what `select=*` (or no select) answers.
NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS if not column.ext)

# Appended to every ORDER BY so that offset paging never repeats or skips a row: the four of
# spec/API.md, then alt and nofollow, which complete a backlink's identity (COLUMNS.md).
TIE_BREAK: tuple[str, ...] = ("url_from", "url_to", "link_type", "anchor", "alt", "nofollow")

# In the serve table after the columns above, never selectable nor usable in a condition.
HIDDEN: tuple[Column, ...] = (
    Column("url_to_key", Kind.STRING, False, False, "`url_to` as a key (urls.key_of): the "
           "table is sorted by it, and every mode is one range of it", sql="l.key_to"),
    Column("url_from_domain", Kind.STRING, False, False, "registered domain of `url_from`: "
           "what one_per_domain and refdomains group by (api/targets.py)", sql="p.domain"),
)
# Every column of the serve table's Parquet files, in their order.
SERVED: tuple[Column, ...] = (*COLUMNS, *HIDDEN)


def select_list(values: Mapping[str, str] | None = None, types: Mapping[Kind, str] | None = None,
                fill: bool = False) -> str:
    """The serve table's SELECT list: every served column, in order, as `CAST(value AS type)`.
    The value is the column's serve-stage SQL, or `values[name]` (a synthetic snapshot's);
    with `fill`, a column `values` lacks gets its kind's empty value. `types` spells each
    kind's type for an engine (DuckDB's by default)."""
    unknown = sorted(set(values or {}) - {column.name for column in SERVED})
    if unknown:
        raise KeyError(f"not a served column: {', '.join(unknown)}")

    def value(column: Column) -> str:
        if values is None:
            return column.sql
        if column.name in values:
            return values[column.name]
        if fill:
            return column.kind.empty
        raise KeyError(f"no value for served column {column.name}")

    return ",\n               ".join(
        f"CAST({value(c)} AS {(types or _SQL_TYPES)[c.kind]}) AS {c.name}" for c in SERVED)


def option_help(option: str) -> str:
    """`--help` of a query option that names columns (select, where, having, order_by)."""
    if option == "select":
        ext = ", ".join(column.name for column in COLUMNS if column.ext)
        return (f"Comma-separated columns, * for all {len(NAMES)}: {', '.join(NAMES)}. "
                f"Ext, only when named: {ext}.")
    if option in ("where", "having"):
        usable = [column for column in COLUMNS if getattr(column, option)]
        left_out = [column.name for column in COLUMNS if column not in usable]
        rows = "backlink rows" if option == "where" else "finished rows"
        scope = f"any column but {', '.join(left_out)}" if left_out else "any column"
        return f"Condition on {rows} ({scope}), e.g. \"http_code = 404\"."
    if option == "order_by":
        return ("col[:asc|:desc],... over the columns --select lists (selected or not); "
                "ascending without a direction.")
    raise KeyError(option)

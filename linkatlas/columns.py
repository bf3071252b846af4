"""The columns of `broken_backlinks`, declared once (spec/COLUMNS.md): the 27 of v2, then the
ext columns, served only when a request names them in `select`.

Build, condition parser, planner, output formats, `--help`, docs and the web page all read
this table; `tests/test_columns.py` diffs it with the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Column types as the spec names them."""

    STRING = "string"
    INT = "int"
    DATE = "date"
    BOOLEAN = "boolean"

    @property
    def sql(self) -> str:
        return _SQL_TYPES[self]


_SQL_TYPES = {
    Kind.STRING: "VARCHAR",
    Kind.INT: "BIGINT",
    Kind.DATE: "TIMESTAMP",
    Kind.BOOLEAN: "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    where: bool
    having: bool
    description: str
    ext: bool = False  # (ext) served only when named in `select`; `*` is the v2 27


def _c(name: str, kind: Kind, where: bool, having: bool, description: str,
       ext: bool = False) -> Column:
    return Column(name, kind, where, having, description, ext)


S, N, D, B = Kind.STRING, Kind.INT, Kind.DATE, Kind.BOOLEAN

COLUMNS: tuple[Column, ...] = (
    _c("url_from", S, True, True, "referring page URL, as fetched (normalized)"),
    _c("url_to", S, True, True, "link target: absolute, resolved against the page URL and any "
       "`<base href>`, normalized"),
    _c("ahrefs_rank", N, True, True, "URL Rating of `url_from`, 0–100"),
    _c("domain_rating", N, False, True, "Domain Rating of `url_from`'s registered domain, 0–100"),
    _c("ahrefs_top", N, False, True, "Rank of `url_to`'s registered domain among all domains by "
       "raw domain score, 1 = strongest; 0 when unranked"),
    _c("ip_from", S, True, True, "IP address `url_from` was fetched from (WARC-IP-Address)"),
    _c("links_internal", N, True, True, "outgoing links on `url_from` whose target has the same "
       "registered domain"),
    _c("links_external", N, True, True, "outgoing links on `url_from` to other registered domains"),
    _c("page_size", N, True, True, "bytes of the referring page's body, after transfer/content "
       "decoding"),
    _c("language", S, True, True, "ISO 639-1 code of the page's main language; `\"\"` when "
       "unknown"),
    _c("encoding", S, True, True, "page character encoding, lower-case: `utf8`, `iso-8859-1`, "
       "`windows-1251`, `shift_jis`, `gbk` …; `raw` for bodiless redirect responses"),
    _c("title", S, True, True, "`<title>` text, entities decoded, whitespace collapsed; for a "
       "redirect backlink the status line, e.g. `301 Moved Permanently`"),
    _c("first_seen", D, True, True, "first visit of `url_from` at which this backlink was present"),
    _c("last_visited", D, True, True, "latest visit of `url_from` at which it was present"),
    _c("prev_visited", D, True, True, "the visit before `last_visited` at which it was present; "
       "`\"\"` if seen once"),
    _c("original", B, True, True, "the backlink was present at the very first visit of `url_from`"),
    _c("link_type", S, True, True, "`href`, `redirect`, `frame`, `form`, `canonical`, `rss` or "
       "`alternate` (below)"),
    _c("redirect", N, True, True, "for `redirect` backlinks the 3xx code (301, 302, 303, 307, "
       "308); else 0"),
    _c("nofollow", B, True, True, "link `rel` has `nofollow`, `ugc` or `sponsored`, or the page "
       "says nofollow (meta robots or X-Robots-Tag)"),
    _c("alt", S, True, True, "alt text of an image inside the link; `\"\"` otherwise"),
    _c("anchor", S, True, True, "text of the link element, whitespace collapsed"),
    _c("text_pre", S, True, True, "up to 100 characters of page text right before the anchor, "
       "cut at a word boundary"),
    _c("text_post", S, True, True, "up to 100 characters of page text right after the anchor, "
       "cut at a word boundary"),
    _c("broken_at", D, True, True, "first observation of `url_to` as broken after its last good "
       "observation (the start of the current broken streak)"),
    _c("url_from_first_seen", D, True, True, "first successful visit of `url_from`"),
    _c("http_code", N, True, True, "HTTP status of `url_to` at its latest decided observation "
       "— for a target that redirects, the status at the end of its redirect chain (ours); 0 "
       "when the host does not resolve"),
    _c("error", S, True, True, "`dns` when `url_to`'s host does not resolve (NXDOMAIN); (ours) "
       "`redirects` when its redirect chain loops or exceeds 10 hops; `\"\"` otherwise"),
    _c("url_redirect", S, True, True, "when `url_to` redirects: the last URL of its redirect "
       "chain; `\"\"` otherwise", ext=True),
    _c("redirect_code", N, True, True, "when `url_to` redirects: the 3xx of its first hop; 0 "
       "otherwise", ext=True),
)

BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}
# The v2 columns, in order: what `select=*` (or no select) answers.
NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS if not column.ext)

# Appended to every ORDER BY so that offset paging never repeats or skips a row: the four of
# spec/API.md, then alt and nofollow, which complete a backlink's identity (COLUMNS.md).
TIE_BREAK: tuple[str, ...] = ("url_from", "url_to", "link_type", "anchor", "alt", "nofollow")

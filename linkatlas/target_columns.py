"""The columns of the ext table `broken_targets` (spec/API.md "Ext tables"): one row per
broken target URL, grouped from the rows of `broken_backlinks` over the same mode key range.

Same `Column` type as `columns.py`; the columns shared with `broken_backlinks` take their
type from there, so a fact is declared once. Conditions, planner and formats read this table
for `from=broken_targets`.
"""

from __future__ import annotations

from .columns import BY_NAME as BACKLINK_COLUMNS
from .columns import Column, Kind

__all__ = ["BY_NAME", "COLUMNS", "NAMES", "TIE_BREAK"]


def _shared(name: str, aggregate: str, ext: bool = False) -> Column:
    column = BACKLINK_COLUMNS[name]
    return Column(name, column.kind, True, True, column.description, ext, aggregate)


def _c(name: str, kind: Kind, aggregate: str, description: str) -> Column:
    # Every column of a grouped row is a fact of the finished row: where and having both
    # accept it (docs/report.md).
    return Column(name, kind, True, True, description, sql=aggregate)


# Each column's `sql`: its aggregate over the backlink rows of one url_to (api/targets.py);
# anchors_top has its own grouping (targets.anchors_cte).
COLUMNS: tuple[Column, ...] = (
    _shared("url_to", "url_to"),
    _shared("http_code", "any_value(http_code)"),
    _shared("error", "any_value(error)"),
    _shared("broken_at", "any_value(broken_at)"),
    _c("refdomains", Kind.INT, "count(DISTINCT url_from_domain)",
       "distinct registered domains of the referring pages"),
    _c("backlinks", Kind.INT, "count(*)", "backlinks to `url_to` (rows of `broken_backlinks`)"),
    _c("dofollow_backlinks", Kind.INT, "count(*) FILTER (WHERE NOT nofollow)",
       "backlinks to `url_to` without nofollow"),
    _c("domain_rating_max", Kind.INT, "max(domain_rating)",
       "highest Domain Rating among the referring domains"),
    _c("anchors_top", Kind.STRING, "", "up to 5 most frequent non-empty anchors, most frequent "
       "first (ties: code point order), joined by ` | `"),
    _shared("url_redirect", "any_value(url_redirect)", ext=True),
)

BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}
NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS if not column.ext)
# url_to is a grouped row's identity: the one tie-break paging needs.
TIE_BREAK: tuple[str, ...] = ("url_to",)

"""`from=broken_targets` (spec/API.md "Ext tables"): the rows of `broken_backlinks` over the
same mode key range, grouped by target URL at query time. One SQL statement, values bound.

Decisions (docs/report.md): `where` and `having` both hold on the grouped rows (for the
per-target columns this is the same as filtering the backlinks first); with
`one_per_domain=1` each referring registered domain keeps only its best-URL-Rating link
before the grouping, so it counts for one target only.
"""

from __future__ import annotations

from ..columns import TIE_BREAK as BACKLINK_TIE_BREAK
from ..target_columns import COLUMNS

__all__ = ["AGGREGATES", "anchors_cte", "best_per_domain", "grouped_ctes"]

# Each column of a grouped row, as an aggregate over the backlink rows of one url_to (the
# column table's, target_columns.py).
AGGREGATES: dict[str, str] = {column.name: column.sql for column in COLUMNS if column.sql}
_TOP_ANCHORS = 5


def best_per_domain(partition: str) -> str:
    """A QUALIFY clause keeping, per `partition`, the link from the page with the highest URL
    Rating; ties go to the first backlink in identity order (spec/API.md), so it is stable."""
    order = ", ".join(f'"{name}"' for name in BACKLINK_TIE_BREAK)
    return (f"QUALIFY row_number() OVER (PARTITION BY {partition} "
            f"ORDER BY ahrefs_rank DESC, {order}) = 1")


def anchors_cte(restrict: str = "") -> str:
    """`anchors`: the top anchors of each url_to of `backlink_rows` (optionally only those
    matching `restrict`, an SQL condition)."""
    where = f" AND {restrict}" if restrict else ""
    return f"""anchors AS (
            SELECT url_to, string_agg(anchor, ' | ' ORDER BY n DESC, anchor) AS anchors_top
            FROM (SELECT url_to, anchor, count(*) AS n FROM backlink_rows
                  WHERE anchor <> ''{where} GROUP BY url_to, anchor
                  QUALIFY row_number() OVER (PARTITION BY url_to ORDER BY n DESC, anchor)
                          <= {_TOP_ANCHORS})
            GROUP BY url_to)"""


def grouped_ctes(rows: str, needed: tuple[str, ...], anchors: bool) -> str:
    """CTEs ending in `targets`: one row per url_to of the subquery `rows` (backlink rows)
    with the `needed` aggregates, and `anchors_top` when `anchors`. Only what is needed is
    computed: the top anchors cost a second grouping."""
    fields = [f'{AGGREGATES[name]} AS "{name}"' for name in needed if name in AGGREGATES]
    ctes = (f"backlink_rows AS MATERIALIZED ({rows}), "
            f"grouped AS (SELECT {', '.join(fields)} FROM backlink_rows GROUP BY url_to)")
    if not anchors:
        return ctes + ", targets AS (SELECT * FROM grouped)"
    return ctes + f""", {anchors_cte()}, targets AS (
            SELECT g.*, coalesce(a.anchors_top, '') AS anchors_top
            FROM grouped g LEFT JOIN anchors a USING (url_to))"""

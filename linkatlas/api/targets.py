"""`from=broken_targets` (spec/API.md "Ext tables"): the rows of `broken_backlinks` over the
same mode key range, grouped by target URL at query time. One SQL statement, values bound.

Decisions (docs/report.md): `where` and `having` both hold on the grouped rows (for the
per-target columns this is the same as filtering the backlinks first); with
`one_per_domain=1` each referring registered domain keeps only its best-URL-Rating link
before the grouping, so it counts for one target only.
"""

from __future__ import annotations

from ..columns import TIE_BREAK as BACKLINK_TIE_BREAK

__all__ = ["AGGREGATES", "best_per_domain", "grouped_sql"]

# Each column of a grouped row, as an aggregate over the backlink rows of one url_to.
AGGREGATES: dict[str, str] = {
    "url_to": "url_to",
    "http_code": "any_value(http_code)",
    "error": "any_value(error)",
    "broken_at": "any_value(broken_at)",
    "refdomains": "count(DISTINCT url_from_domain)",
    "backlinks": "count(*)",
    "dofollow_backlinks": "count(*) FILTER (WHERE NOT nofollow)",
    "domain_rating_max": "max(domain_rating)",
    "url_redirect": "any_value(url_redirect)",
}
_TOP_ANCHORS = 5


def best_per_domain(partition: str) -> str:
    """A QUALIFY clause keeping, per `partition`, the link from the page with the highest URL
    Rating; ties go to the first backlink in identity order (spec/API.md), so it is stable."""
    order = ", ".join(f'"{name}"' for name in BACKLINK_TIE_BREAK)
    return (f"QUALIFY row_number() OVER (PARTITION BY {partition} "
            f"ORDER BY ahrefs_rank DESC, {order}) = 1")


def grouped_sql(rows: str, needed: tuple[str, ...]) -> str:
    """A query with one row per url_to holding the `needed` columns, over the subquery
    `rows` (backlink rows). Only what is needed is aggregated: the top anchors cost a
    second grouping."""
    fields = [f'{AGGREGATES[name]} AS "{name}"' for name in needed if name in AGGREGATES]
    sql = (f"WITH backlink_rows AS ({rows}), "
           f"grouped AS (SELECT {', '.join(fields)} FROM backlink_rows GROUP BY url_to)")
    if "anchors_top" not in needed:
        return sql + " SELECT * FROM grouped"
    return sql + f""", anchor_counts AS (
            SELECT url_to, anchor, count(*) AS n FROM backlink_rows WHERE anchor <> ''
            GROUP BY url_to, anchor
            QUALIFY row_number() OVER (PARTITION BY url_to ORDER BY n DESC, anchor)
                    <= {_TOP_ANCHORS}),
        anchors AS (
            SELECT url_to, string_agg(anchor, ' | ' ORDER BY n DESC, anchor) AS anchors_top
            FROM anchor_counts GROUP BY url_to)
        SELECT g.*, coalesce(a.anchors_top, '') AS anchors_top
        FROM grouped g LEFT JOIN anchors a USING (url_to)"""

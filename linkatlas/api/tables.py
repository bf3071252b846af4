"""The tables a request may name in `from=` that return rows: what each one reads its
columns from, how its rows are named in json/xml/php, and what a row costs (spec/API.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import change_columns, columns, target_columns
from ..columns import Column

__all__ = ["BACKLINKS", "CHANGES", "TABLES", "TARGETS", "Table"]


@dataclass(frozen=True)
class Table:
    name: str
    by_name: Mapping[str, Column]
    names: tuple[str, ...]          # what `select=*` answers
    tie_break: tuple[str, ...]      # appended to every ORDER BY (total order, stable paging)
    default_order: str
    root: str                       # json/php key and xml element of the row list
    item: str                       # xml element of one row
    row_cost: int                   # spec/API.md Billing: per row returned


BACKLINKS = Table("broken_backlinks", columns.BY_NAME, columns.NAMES, columns.TIE_BREAK,
                  "ahrefs_rank:desc", "refpages", "refpage", 5)
# Its own root key (docs/report.md): a v2 client never asked for this table, and a row here
# is a target, not a referring page.
TARGETS = Table("broken_targets", target_columns.BY_NAME, target_columns.NAMES,
                target_columns.TIE_BREAK, "refdomains:desc,domain_rating_max:desc", "targets",
                "target", 1)

# (ext) the changes log (docs/watch.md): broken backlinks plus change, changed_at, reason;
# asked and billed as broken_backlinks, over DIR/changes instead of the serve table.
CHANGES = Table("broken_backlinks_changes", change_columns.BY_NAME, change_columns.NAMES,
                change_columns.TIE_BREAK, change_columns.DEFAULT_ORDER, "refpages", "refpage",
                5)

TABLES: dict[str, Table] = {table.name: table for table in (BACKLINKS, TARGETS, CHANGES)}

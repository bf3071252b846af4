"""The columns of `broken_backlinks_changes` (spec/API.md "Ext tables"): the columns of
`broken_backlinks` (read from columns.py, never copied) plus what changed, when and why.
api/tables.py makes the table of them."""

from __future__ import annotations

from .columns import COLUMNS as BACKLINK_COLUMNS
from .columns import NAMES as BACKLINK_NAMES
from .columns import TIE_BREAK as BACKLINK_TIE_BREAK
from .columns import Column, Kind

__all__ = ["BY_NAME", "CHANGE_COLUMNS", "COLUMNS", "DEFAULT_ORDER", "NAMES", "TIE_BREAK"]

CHANGE_COLUMNS: tuple[Column, ...] = (
    Column("change", Kind.STRING, True, True, "`new` (broken at this build, not at the one "
           "before), `fixed` (the link is still there and its target answers good again) or "
           "`lost` (the referring page no longer carries the link)"),
    Column("changed_at", Kind.DATE, True, True, "time of the build that saw the change"),
    Column("reason", Kind.STRING, True, True, "`\"\"` for new; fixed: `target_good`, "
           "`target_redirects_good`; lost: `link_removed`, `page_gone` (the page answers "
           "4xx/5xx), `page_redirects` (it redirects elsewhere), `host_gone` (its host no "
           "longer resolves)"),
)
COLUMNS: tuple[Column, ...] = (*BACKLINK_COLUMNS, *CHANGE_COLUMNS)
BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}
# select=*: the 27 of broken_backlinks, then the change columns
NAMES: tuple[str, ...] = (*BACKLINK_NAMES, *(column.name for column in CHANGE_COLUMNS))
# A backlink changes at most once per build, so its identity and the build's time are unique.
TIE_BREAK: tuple[str, ...] = (*BACKLINK_TIE_BREAK, "changed_at")
DEFAULT_ORDER = "changed_at:desc,ahrefs_rank:desc"

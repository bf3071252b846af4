"""The one column table matches spec/COLUMNS.md, and every reader of it agrees."""

from __future__ import annotations

import re

from linkatlas.columns import COLUMNS, NAMES
from linkatlas.web.pages import docs

from .shared import shared


def test_column_table_matches_the_spec() -> None:
    rows = re.findall(r"^\| (\w+) \| (string|int|date|boolean) \| ([+−]) \| ([+−]) \| (.+) \|$",
                      shared("spec", "COLUMNS.md").read_text(encoding="utf-8"), re.M)
    assert [(name, kind, w == "+", h == "+", text) for name, kind, w, h, text in rows] == [
        (c.name, c.kind.value, c.where, c.having, c.description) for c in COLUMNS]


def test_docs_list_every_column_with_its_permissions() -> None:
    page = docs()
    for column in COLUMNS:
        assert re.search(rf"<code>{column.name}</code></td><td>{column.kind.value}</td>"
                         rf"<td>{'[+]' if column.where else '−'}</td>", page), column.name
    assert len(NAMES) == 27

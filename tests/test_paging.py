"""Paging through the API (spec/API.md limit/offset): the row count php's serialize() writes
before the rows is the count of the page answered, after the offset (issue 17: a count that
ignored the offset made every later page of a php answer fail)."""

from __future__ import annotations

import httpx
import pytest

from .test_api import _get, _rows
from .test_api import client as client  # noqa: F401  (fixtures, used by name)
from .test_api import data as data  # noqa: F401
from .test_api import token as token  # noqa: F401

ROWS = 25  # example.com and its subdomains in tests/archives.py's example index


@pytest.mark.parametrize("offset", [0, 10, 20, 24, 25, 40])
def test_php_counts_the_rows_of_the_page_it_answers(
        client: httpx.Client, token: str, offset: int) -> None:  # noqa: F811
    params = {"target": "example.com", "mode": "subdomains", "select": "url_to",
              "order_by": "url_to", "limit": "10", "offset": str(offset)}
    rows = _rows(_get(client, token, **params))
    assert len(rows) == max(0, min(10, ROWS - offset))
    php = _get(client, token, **params, output="php")
    assert php.status_code == 200
    assert php.text.startswith(f'a:1:{{s:8:"refpages";a:{len(rows)}:{{')
    assert php.text.count('s:6:"url_to"') == len(rows)

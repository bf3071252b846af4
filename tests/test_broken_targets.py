"""The ext table `broken_targets` and the ext parameter `one_per_domain` through the API
in-process: grouping, conditions and sorting on every column, every format, billing."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from lxml import etree

from linkatlas import target_columns, urls
from linkatlas.columns import Kind
from linkatlas.server import Settings, create_app

from .report_web import report_index

TARGET = {"target": "shop.test", "mode": "domain"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_index(tmp_path_factory.mktemp("targets"))


class Client:
    def __init__(self, data: Path) -> None:
        self.app = create_app(Settings(data, f"sqlite:///{data.parent}/ledger.sqlite"))
        self.ledger = self.app.state.api.ledger
        self.token = self.ledger.create("report", 1_000_000)

    def get(self, **params: str) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.get("/?" + urlencode({"token": self.token, **params}))
        return asyncio.run(call())

    def rows(self, table: str, **params: str) -> list[dict[str, Any]]:
        response = self.get(**{"from": table, **TARGET, **params})
        body = orjson.loads(response.content)
        assert "error" not in body, body
        return body["targets" if table == "broken_targets" else "refpages"]

    def rows_left(self) -> int:
        return self.ledger.info(self.token).rows_left


@pytest.fixture(scope="module")
def client(data: Path) -> Iterator[Client]:
    client = Client(data)
    yield client
    client.ledger.close()


def _domain(url: str) -> str:
    return urls.registered_domain(urls.host_of(url))


def _group(backlinks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """broken_targets computed in Python from broken_backlinks rows (the reference)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in backlinks:
        groups[row["url_to"]].append(row)
    found = {}
    for url, rows in groups.items():
        anchors = Counter(row["anchor"] for row in rows if row["anchor"])
        top = sorted(anchors.items(), key=lambda item: (-item[1], item[0]))[:5]
        found[url] = {
            "url_to": url, "http_code": rows[0]["http_code"], "error": rows[0]["error"],
            "broken_at": rows[0]["broken_at"],
            "refdomains": len({_domain(row["url_from"]) for row in rows}),
            "backlinks": len(rows), "dofollow_backlinks": sum(not r["nofollow"] for r in rows),
            "domain_rating_max": max(row["domain_rating"] for row in rows),
            "anchors_top": " | ".join(anchor for anchor, _ in top)}
    return found


def test_grouped_rows_match_the_backlinks(client: Client) -> None:
    backlinks = client.rows("broken_backlinks", limit="1000")
    expected = _group(backlinks)
    rows = client.rows("broken_targets")
    assert {row["url_to"]: row for row in rows} == expected
    assert len(expected) == 4
    # default order: referring domains, then best DR, then url_to
    keys = [(-r["refdomains"], -r["domain_rating_max"], r["url_to"]) for r in rows]
    assert keys == sorted(keys)
    blue = expected["http://shop.test/products/blue-widget-old"]
    assert (blue["refdomains"], blue["backlinks"], blue["dofollow_backlinks"]) == (3, 5, 4)
    assert blue["anchors_top"].startswith("blue widget | ")


def _literal(kind: Kind, value: Any) -> str:
    if kind is Kind.INT:
        return str(value)
    if kind is Kind.BOOLEAN:
        return "true" if value else "false"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize("column", target_columns.NAMES)
def test_every_column_in_select_where_having_order_by(client: Client, column: str) -> None:
    rows = client.rows("broken_targets")
    value = sorted(row[column] for row in rows)[len(rows) // 2]
    kind = target_columns.BY_NAME[column].kind
    for param in ("where", "having"):
        found = client.rows("broken_targets", select=column,
                            **{param: f"{column}>={_literal(kind, value)}"})
        assert sorted(r[column] for r in found) == sorted(
            r[column] for r in rows if r[column] >= value)
        assert all(list(r) == [column] for r in found)
    ordered = client.rows("broken_targets", order_by=f"{column}:desc", select="url_to," + column)
    assert [r[column] for r in ordered] == sorted((r[column] for r in rows), reverse=True)


def test_every_output_format(client: Client) -> None:
    rows = client.rows("broken_targets")
    common = {"from": "broken_targets", **TARGET}
    xml = etree.fromstring(client.get(**common, output="xml").content)
    assert [t.findtext("url_to") for t in xml.find("targets")] == [r["url_to"] for r in rows]
    assert xml.find("targets/target/refdomains").text == str(rows[0]["refdomains"])
    php = client.get(**common, output="php", limit="1").text
    assert php.startswith('a:1:{s:7:"targets";a:1:{i:0;a:9:{s:6:"url_to";')
    assert f's:10:"refdomains";i:{rows[0]["refdomains"]};' in php
    csv = client.get(**common, output="csv").text.splitlines()
    assert csv[0] == ",".join(target_columns.NAMES)
    assert len(csv) == len(rows) + 1


def test_cost_is_one_per_target(client: Client) -> None:
    before = client.rows_left()
    assert len(client.rows("broken_targets")) == 4
    assert before - client.rows_left() == 1 + 4
    before = client.rows_left()
    found = client.rows("broken_targets", where="backlinks>1", having="refdomains>=2")
    assert before - client.rows_left() == 1 + len(found) + 5 + 5 and len(found) == 2


def test_errors_name_the_column_and_are_free(client: Client) -> None:
    before = client.rows_left()
    for params, message in [
        ({"select": "url_from"}, "select: column 'url_from' not found"),
        ({"order_by": "ahrefs_rank"}, "order_by: column 'ahrefs_rank' not found"),
        ({"where": "refdomains>\"x\""}, "where: column 'refdomains' is int, got string \"x\""),
        ({"one_per_domain": "yes"}, "one_per_domain: invalid value 'yes'; expected 1 or 0"),
    ]:
        body = orjson.loads(client.get(**{"from": "broken_targets", **TARGET, **params}).content)
        assert body == {"error": message}
    assert client.rows_left() == before


def _best_per(rows: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    best: dict[Any, dict[str, Any]] = {}
    for row in rows:
        k = key(row)
        order = (-row["ahrefs_rank"], row["url_from"], row["url_to"], row["link_type"],
                 row["anchor"], row["alt"], row["nofollow"])
        if k not in best or order < best[k][0]:
            best[k] = (order, row)  # type: ignore[assignment]
    return [row for _, row in best.values()]  # type: ignore[misc]


def test_one_per_domain_on_backlinks(client: Client) -> None:
    rows = client.rows("broken_backlinks")
    kept = client.rows("broken_backlinks", one_per_domain="1")
    expected = _best_per(rows, lambda r: (_domain(r["url_from"]), r["url_to"]))
    key = lambda r: (r["url_from"], r["url_to"], r["anchor"])  # noqa: E731
    assert sorted(map(key, kept)) == sorted(map(key, expected))
    assert len(kept) < len(rows)  # refa.test/p2 and b.blogs.test lose to their domain's best
    # where narrows the rows first: refa.test/p2 is the best nofollow link of its domain
    nofollow = client.rows("broken_backlinks", one_per_domain="1", where="nofollow=true")
    assert [r["url_from"] for r in nofollow] == ["http://refa.test/p2"]


def test_one_per_domain_on_targets(client: Client) -> None:
    rows = client.rows("broken_backlinks")
    best = _best_per(rows, lambda r: _domain(r["url_from"]))
    grouped = client.rows("broken_targets", one_per_domain="1")
    assert {r["url_to"]: r for r in grouped} == _group(best)
    assert sum(r["refdomains"] for r in grouped) == len({_domain(r["url_from"]) for r in rows})


def test_docs_describe_the_table_and_the_parameter(client: Client) -> None:
    async def call() -> str:
        transport = httpx.ASGITransport(app=client.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (await c.get("/docs")).text
    docs = asyncio.run(call())
    section = docs[docs.index('id=broken_targets'):]
    assert all(f"<code>{c.name}</code>" in section for c in target_columns.COLUMNS)
    assert "<code>one_per_domain</code>" in docs and "1 + 1 × rows" in section
    assert "id=report" in docs and "mod_rewrite" in docs and "/report/chart.svg" in docs


def test_count_query_agrees_with_the_rows(data: Path) -> None:
    """The count the API bills a large answer by (api/app.py) is the number of rows."""
    from linkatlas.api.planner import parse_request, plan
    from linkatlas.api.query import open_reader
    from linkatlas.snapshot import current

    con = open_reader()
    for params in ({}, {"where": ["backlinks>1"]}, {"having": ['anchors_top<>""'],
                                                     "where": ["http_code=404"]}):
        request = parse_request({"target": ["shop.test"], "mode": ["domain"],
                                 "select": ["url_to,anchors_top"], **params}, "broken_targets")
        compiled = plan(request, current(data))
        rows = con.execute(compiled.sql, compiled.params).fetchall()
        assert con.execute(compiled.count_sql, compiled.count_params).fetchone() == (len(rows),)


def test_url_redirect_is_served_when_selected(client: Client) -> None:
    rows = client.rows("broken_targets", select="url_to,url_redirect")
    assert rows and all(set(row) == {"url_to", "url_redirect"} for row in rows)
    assert "url_redirect" not in client.rows("broken_targets")[0]  # ext: only when named

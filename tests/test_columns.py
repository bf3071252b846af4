"""The one column table matches spec/COLUMNS.md, every reader of it agrees, and the serve
table that build and the synthetic snapshots write has its schema."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from linkatlas.cli import app
from linkatlas.columns import COLUMNS, HIDDEN, NAMES, SERVED, Kind, select_list
from linkatlas.extract.ingest import ingest
from linkatlas.index.spark import SPARK
from linkatlas.index.stages import DUCKDB, SERVE_SQL
from linkatlas.observations import CheckLog, Observation
from linkatlas.sample.report import write_big_site
from linkatlas.sample.snapshot import write_synthetic
from linkatlas.snapshot import current
from linkatlas.web.pages import docs

from .conftest import build_quietly, run_query
from .shared import shared
from .test_index import _first_round, _second_round


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


# How a Parquet reader sees each kind: (physical type, converted type).
PARQUET = {Kind.STRING: ("BYTE_ARRAY", "UTF8"), Kind.INT: ("INT64", "INT_64"),
           Kind.DATE: ("INT64", "TIMESTAMP_MICROS"), Kind.BOOLEAN: ("BOOLEAN", None)}


def assert_served_schema(folder: Path) -> None:
    """Every Parquet file under folder holds the column table's served columns: same names,
    same order, same DuckDB and Parquet types."""
    files = sorted(folder.glob("*.parquet"))
    assert files, folder
    expected = [(c.name, c.kind.sql, *PARQUET[c.kind]) for c in SERVED]
    con = duckdb.connect()
    for file in files:
        described = con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                "read_parquet(?))", [str(file)]).fetchall()
        physical = con.execute("SELECT name, type, converted_type FROM parquet_schema(?) "
                               "WHERE name <> 'duckdb_schema'", [str(file)]).fetchall()
        assert [(name, kind, *rest[1:]) for (name, kind), rest in
                zip(described, physical, strict=True)] == expected, file
        assert [row[0] for row in physical] == [row[0] for row in described]


def test_a_built_snapshot_has_the_column_tables_schema(data: Path, tmp_path: Path,
                                                       pinned_now: None) -> None:
    ingest(data, [_first_round(tmp_path), _second_round(tmp_path)])
    with CheckLog(data, name="checks.jsonl") as log:
        log.append(Observation("http://dns.test/x", "2024-01-05T00:00:00Z", 0, "dns"))
        log.append(Observation("http://ok.test/", "2024-02-03T00:00:00Z", 301,
                               location="http://ok.test/new"))
        log.append(Observation("http://ok.test/new", "2024-02-04T00:00:00Z", 404))
    build_quietly(data)
    served = current(data).path
    assert_served_schema(served / "broken_backlinks")
    # the rows a diff or a re-check adds come from the same query (index/changes.py)
    assert_served_schema(served / "facts" / "backlinks")
    rows = run_query(data, target="ok.test", mode="domain", select="url_to,url_redirect")
    assert rows == [{"url_to": "http://ok.test/", "url_redirect": "http://ok.test/new"}]


def test_synthetic_snapshots_have_the_column_tables_schema(tmp_path: Path) -> None:
    assert_served_schema(write_synthetic(tmp_path / "a", 300, 7).path / "broken_backlinks")
    write_big_site(tmp_path / "b", backlinks=300, dead=30, live=10)
    assert_served_schema(current(tmp_path / "b").path / "broken_backlinks")


def test_the_serve_projection_is_the_tables_in_each_engines_types() -> None:
    for dialect, types in ((DUCKDB, [c.kind.sql for c in SERVED]),
                           (SPARK, ["STRING", "BIGINT", "TIMESTAMP_NTZ", "BOOLEAN"])):
        sql = SERVE_SQL.format(**dialect)
        casts = re.findall(r"CAST\((.+?) AS (\w+)\) AS (\w+)", sql)
        assert [(value, name) for value, _, name in casts] == [(c.sql, c.name) for c in SERVED]
        assert {kind for _, kind, _ in casts} <= set(types)
        if dialect is DUCKDB:
            assert [kind for _, kind, _ in casts] == types


def test_a_synthetic_value_must_name_a_served_column() -> None:
    with pytest.raises(KeyError, match="not a served column: url_form"):
        select_list({"url_form": "''"}, fill=True)
    with pytest.raises(KeyError, match="no value for served column url_from"):
        select_list({"url_to": "''"})
    assert "CAST(0 AS BIGINT) AS ahrefs_rank" in select_list({}, fill=True)


def test_query_help_lists_the_columns_from_the_table() -> None:
    result = CliRunner().invoke(app, ["query", "--help"], env={"COLUMNS": "400"},
                                terminal_width=400)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())  # rich wraps in a box
    assert f"* for all 27: {', '.join(NAMES)}." in text
    assert "Ext, only when named: url_redirect, redirect_code." in text
    assert "(any column but domain_rating, ahrefs_top)" in text
    assert not any(column.name in text for column in HIDDEN)

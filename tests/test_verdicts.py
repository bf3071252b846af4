"""The one verdict rule (rules/verdicts.py): the Python verdict and the SQL both engines run
agree on every status 0–999 × every error kind, and say what spec/COLUMNS.md's table says."""

from __future__ import annotations

import itertools
import os

import duckdb
import pytest

from linkatlas.rules.verdicts import (
    BROKEN,
    ERRORS,
    GOOD,
    UNDECIDED,
    broken_sql,
    good_sql,
    is_broken,
    verdict,
)

CASES = list(itertools.product(range(1000), ERRORS))


def _sql_verdict(broken: bool, good: bool) -> str:
    assert not (broken and good)
    return BROKEN if broken else GOOD if good else UNDECIDED


@pytest.mark.parametrize(("code", "error", "expected"), [
    (404, "", BROKEN), (410, "", BROKEN), (500, "", BROKEN), (503, "", BROKEN),
    (599, "", BROKEN), (428, "", BROKEN), (430, "", BROKEN),
    (200, "", GOOD), (204, "", GOOD), (301, "", GOOD), (399, "", GOOD),
    (429, "", UNDECIDED), (999, "", UNDECIDED), (600, "", UNDECIDED), (101, "", UNDECIDED),
    (100, "", UNDECIDED), (0, "", UNDECIDED), (199, "", UNDECIDED),
    (0, "dns", BROKEN), (0, "redirects", BROKEN), (301, "redirects", BROKEN),
    (404, "timeout", UNDECIDED), (0, "timeout", UNDECIDED), (200, "resolver", UNDECIDED),
    (0, "robots", UNDECIDED), (0, "address", UNDECIDED), (0, "other", UNDECIDED),
])
def test_the_table_of_the_spec(code: int, error: str, expected: str) -> None:
    assert verdict(code, error) == expected
    assert is_broken(code, error) == {BROKEN: True, GOOD: False, UNDECIDED: None}[expected]


def test_duckdb_sql_is_the_python_rule() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE o (http_code INTEGER, error VARCHAR)")
    con.executemany("INSERT INTO o VALUES (?, ?)", CASES)
    rows = con.execute(f"SELECT http_code, error, {broken_sql()}, {good_sql()} FROM o").fetchall()
    assert len(rows) == len(CASES)
    differ = [(code, error) for code, error, broken, good in rows
              if _sql_verdict(broken, good) != verdict(code, error)]
    assert differ == []


def test_spark_sql_is_the_python_rule() -> None:
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (SparkSession.builder.master("local[1]").appName("verdicts")
             .config("spark.ui.enabled", "false").getOrCreate())
    try:
        spark.sparkContext.setLogLevel("ERROR")
        spark.createDataFrame(CASES, "http_code INT, error STRING").createOrReplaceTempView("o")
        rows = spark.sql(f"SELECT http_code, error, {broken_sql()} AS b, {good_sql()} AS g "
                         "FROM o").collect()
    finally:
        spark.stop()
    assert len(rows) == len(CASES)
    differ = [(r.http_code, r.error) for r in rows
              if _sql_verdict(r.b, r.g) != verdict(r.http_code, r.error)]
    assert differ == []


def test_a_status_alone_is_an_answer_without_error() -> None:
    """The callers' shorthand: verdict(404) is the verdict of an HTTP answer (error "")."""
    assert (verdict(404), verdict(200), verdict(429)) == (BROKEN, GOOD, UNDECIDED)
    assert (is_broken(410), is_broken(301), is_broken(999)) == (True, False, None)

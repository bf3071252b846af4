"""SQL mutants of the build's stage SQL (linkatlas/index/stages.py), made on sqlglot's tree.

Python mutation tools do not look inside SQL strings, and several rules live there. Each mutant
changes one node: a comparison flipped (= ↔ <>, < ↔ >=, > ↔ <=), one conjunct of an AND
dropped, MIN ↔ MAX, max_by ↔ min_by, a NOT removed; never inside the verdict rule's SQL,
which rules/verdicts.py generates and tests/test_verdicts.py holds to the table. A mutant
reaches the tests through this module as a pytest plugin (`-p tools.sql_mutants`): it
replaces the named constant of `linkatlas.index.stages` for the run, from the environment
variable MUTANT (JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

# The stage SQL the DuckDB engine runs; the ones with placeholders are .format()-ed by it.
CONSTANTS = ("OBSERVATIONS_SQL", "PAGES_SQL", "LIVE_SQL", "DEAD_PAGES_SQL", "HOPS_SQL",
             "TARGETS_SQL", "GRAPH_SQL", "SERVE_SQL")
FORMATTED = {"LIVE_SQL", "DEAD_PAGES_SQL", "HOPS_SQL", "SERVE_SQL"}
FLIPS: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.EQ: exp.NEQ, exp.NEQ: exp.EQ, exp.LT: exp.GTE, exp.GTE: exp.LT,
    exp.GT: exp.LTE, exp.LTE: exp.GT,
}
SWAPS: dict[type[exp.Expression], type[exp.Expression]] = {
    exp.Min: exp.Max, exp.Max: exp.Min, exp.ArgMax: exp.ArgMin, exp.ArgMin: exp.ArgMax,
}


@dataclass(frozen=True)
class Mutant:
    constant: str
    number: int
    what: str      # e.g. "a = b → a <> b"
    text: str      # the constant's new value, as stages.py would hold it


def _source(constant: str) -> str:
    from linkatlas.index import stages

    text = getattr(stages, constant)
    return text.format(**stages.DUCKDB) if constant in FORMATTED else text


def _store(constant: str, sql: str) -> str:
    """The constant's value that gives `sql` once the engine has formatted it."""
    return sql.replace("{", "{{").replace("}", "}}") if constant in FORMATTED else sql


def _changes(node: exp.Expression) -> Iterator[tuple[str, exp.Expression]]:
    """The one-node changes of node: (description, replacement)."""
    if type(node) in FLIPS:
        new = FLIPS[type(node)](this=node.this.copy(), expression=node.expression.copy())
        yield f"{node.sql('duckdb')} → {new.sql('duckdb')}", new
    elif type(node) in SWAPS:
        new = node.copy()
        new = SWAPS[type(node)](**{k: v for k, v in new.args.items()})
        yield f"{node.sql('duckdb')[:60]} → {new.sql('duckdb')[:60]}", new
    elif isinstance(node, exp.And):
        for kept, dropped in ((node.this, node.expression), (node.expression, node.this)):
            yield f"drop `{dropped.sql('duckdb')[:70]}`", kept.copy()
    elif isinstance(node, exp.Not):
        yield f"drop NOT in {node.sql('duckdb')[:60]}", node.this.copy()


def _verdict_nodes(tree: exp.Expression) -> set[int]:
    """Ids of the nodes inside a verdict fragment (rules/verdicts.py's broken_sql/good_sql,
    pasted into the stage SQL): that rule is one table, mutated and tested in its own module
    (mutmut on verdicts.py, tests/test_verdicts.py); a change to one pasted copy is not a bug
    anyone can write."""
    from linkatlas.rules.verdicts import broken_sql, good_sql

    fragments = {sqlglot.parse_one(rule(*columns), read="duckdb").sql("duckdb")
                 for rule in (broken_sql, good_sql)
                 for columns in (("http_code", "error"), ("o.http_code", "o.error"))}
    inside: set[int] = set()
    for node in tree.walk():
        if id(node) not in inside and isinstance(node, exp.Paren | exp.Or | exp.And) \
                and node.sql("duckdb") in fragments:
            inside.update(id(child) for child in node.walk())
    return inside


def baseline(constant: str) -> str:
    """The constant as sqlglot writes it back unchanged (the mutants' common ground)."""
    return _store(constant, sqlglot.parse_one(_source(constant), read="duckdb").sql("duckdb"))


def mutants(constant: str) -> list[Mutant]:
    tree = sqlglot.parse_one(_source(constant), read="duckdb")
    unchanged = tree.sql("duckdb")
    found: list[Mutant] = []
    skipped = _verdict_nodes(tree)
    for index, node in enumerate(tree.walk()):
        if id(node) in skipped:
            continue
        for what, _ in _changes(node):
            copy = tree.copy()
            target = list(copy.walk())[index]
            replacement = dict(_changes(target))[what]
            if target is copy:
                copy = replacement
            else:
                target.replace(replacement)
            sql = copy.sql("duckdb")
            if sql != unchanged:
                found.append(Mutant(constant, len(found) + 1, what, _store(constant, sql)))
    return found


def pytest_configure(config: object) -> None:
    """Plugin hook: put the mutant named by $MUTANT in place before any test runs."""
    chosen = os.environ.get("MUTANT")
    if chosen:
        from linkatlas.index import stages

        mutant = json.loads(chosen)
        original = getattr(stages, mutant["constant"])
        setattr(stages, mutant["constant"], mutant["text"])
        # The build runs the stage tables from stages.TABLES (read when a build starts), which
        # holds the constants' text as it was at import: the mutant must replace it there too,
        # or it never runs.
        stages.TABLES = tuple(
            (stage, tuple((name, mutant["text"] if sql is original else sql, stable)
                          for name, sql, stable in tables))
            for stage, tables in stages.TABLES)

"""The engine a build runs on: what differs between DuckDB (one machine) and Spark (a cluster).

`build` (index/__init__.py) is one sequence over this interface: extract with the engine's
runner, `load` the observations, create each stage's tables (`table`, the shared SQL of
stages.TABLES, whose dialect placeholders the engine fills), rate (`ratings`), write the
snapshot's files with DuckDB from the engine's `rows`, `close`. The DuckDB engine is here; the
Spark engine is spark.SparkEngine. `opened` (index/__init__.py) picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from ..extract.run import Runner
    from .inputs import Inputs

__all__ = ["DuckDBEngine", "Engine"]


class Engine(ABC):
    """One build's engine. Its tables are named as in stages.py (visits, links, observations,
    pages, …, url_rating, domain_rating); `con` is a DuckDB connection that writes the
    snapshot's files on either engine (and holds the tables on DuckDB)."""

    name: str  # the manifest's `engine`

    def __init__(self, data: Path, memory_limit: str, threads: int | None) -> None:
        self.data, self.memory_limit, self.threads = data, memory_limit, threads

    @cached_property
    def con(self) -> duckdb.DuckDBPyConnection:
        """Opened at first use: after extraction, whose workers import DuckDB meanwhile."""
        from .inputs import connect

        return connect(self.data, self.memory_limit, self.threads)

    @property
    @abstractmethod
    def dialect(self) -> Mapping[str, str]:
        """Its spelling of the shared SQL's placeholders (stages.DUCKDB, spark.SPARK)."""

    def runner(self) -> Runner | None:
        """How archives' chunks are extracted: None for this machine's worker processes."""
        return None

    @abstractmethod
    def load(self, inputs: Inputs) -> None:
        """visits, links (with a stable `rowid`), observations: stages.load_inputs's tables."""

    @abstractmethod
    def table(self, name: str, sql: str, stable: bool = False) -> None:
        """Create table `name` from sql (its dialect placeholders filled). A stable table's
        rows are never recomputed (row numbers in it stay)."""

    @abstractmethod
    def ratings(self, ranks: Path | None) -> None:
        """url_rating and domain_rating from graph_links (docs/ratings.md)."""

    @abstractmethod
    def rows(self, sql: str) -> AbstractContextManager[str]:
        """sql's rows as a query `con` reads, while the context lasts."""

    def every_target(self) -> AbstractContextManager[None]:
        """A context in which `targets` holds every live target not broken, as broken
        (changes.every_target_sql), for the backlinks facts."""
        from .changes import every_target_view

        return every_target_view(self.con)

    def count(self, sql: str) -> int:
        """The first column of sql's one row (0 when NULL)."""
        with self.rows(sql) as query:
            row = self.con.execute(query).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        if "con" in self.__dict__:
            self.con.close()


class DuckDBEngine(Engine):
    """Every stage in one DuckDB process, spilling to DIR/tmp under memory_limit."""

    name = "duckdb"

    @property
    def dialect(self) -> Mapping[str, str]:
        from .stages import DUCKDB  # (DuckDB is imported while the extraction workers run)

        return DUCKDB

    def load(self, inputs: Inputs) -> None:
        from .inputs import load

        load(self.con, inputs)

    def table(self, name: str, sql: str, stable: bool = False) -> None:
        from .stages import create

        create(self.con, name, sql)

    def ratings(self, ranks: Path | None) -> None:
        from .ratings import rate

        rate(self.con, ranks)

    def rows(self, sql: str) -> AbstractContextManager[str]:
        return nullcontext(sql)

"""Imported ranks (linkatlas.ranks) decide DR and rank for the domains they cover.

docs/ratings.md ("Imported ranks") states the rule. In short, along one order:

1. domains the file ranks above its floor: rank = the file's PageRank position, DR = the file's
   PageRank value on the log scale of ratings.to_scale (the file's weakest linked domain 1,
   its strongest 100);
2. domains only the local graph knows, linked locally: ranked after (1) by their local
   order, DR 1 (the file's weakest linked domain is 1, and a linked domain is never 0);
3. domains at the file's floor (no domain links to them in Common Crawl's graph): the
   file's position, shifted past (2), DR 0;
4. domains only the local graph knows and nobody links to: last, DR 0.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..errors import BuildError
from .scale import TIE, log_scale

__all__ = ["merge"]


def _anchors(con: duckdb.DuckDBPyConnection, ranks: Path) -> tuple[float, float, float, int, int]:
    """(high, floor, low, last linked position, last position) over the whole file."""
    row = con.execute(
        f"""
        WITH r AS (SELECT pr_pos, pr_val FROM read_parquet(?)),
             f AS (SELECT min(pr_val) AS floor FROM r)
        SELECT max(pr_val), any_value(f.floor),
               min(pr_val) FILTER (WHERE pr_val > f.floor * (1 + {TIE})),
               coalesce(max(pr_pos) FILTER (WHERE pr_val > f.floor * (1 + {TIE})), 0),
               max(pr_pos)
        FROM r, f""", [str(ranks)]).fetchone()
    if row is None or row[0] is None:
        raise BuildError(f"{ranks}: imported ranks are empty (run `ratings import` again)")
    high, floor, low, linked, last = row
    return float(high), float(floor), float(low or floor), int(linked), int(last)


def merge(con: duckdb.DuckDBPyConnection, ranks: Path) -> None:
    """Rewrite domain_rating(domain, domain_rating, ahrefs_top, imported) with the ranks."""
    try:
        high, floor, low, linked, last = _anchors(con, ranks)
        rows = con.execute(
            """
            WITH i AS (SELECT domain, min(pr_pos) AS pos, max(pr_val) AS val
                       FROM read_parquet(?)
                       WHERE domain IN (SELECT domain FROM domain_rating) GROUP BY domain)
            SELECT d.domain, d.domain_rating, i.pos, i.val
            FROM domain_rating d LEFT JOIN i USING (domain)
            ORDER BY d.ahrefs_top""", [str(ranks)]).fetchnumpy()
    except duckdb.Error as exc:
        raise BuildError(f"{ranks}: imported ranks unreadable ({str(exc).splitlines()[0]}); "
                         "import them again or `ratings remove`") from None
    local_dr = np.asarray(rows["domain_rating"], dtype=np.int32)
    found = ~np.ma.getmaskarray(rows["pos"]) if np.ma.isMaskedArray(rows["pos"]) else (
        ~np.isnan(np.asarray(rows["pos"], dtype=np.float64)))
    pos = np.asarray(np.ma.filled(rows["pos"], 0), dtype=np.int64)
    val = np.asarray(np.ma.filled(rows["val"], 0.0), dtype=np.float64)
    above = found & (val > floor * (1 + TIE))
    local_linked = ~found & (local_dr > 0)
    local_rest = ~found & ~local_linked
    spread = int(local_linked.sum())

    dr = np.zeros(local_dr.size, dtype=np.int32)
    top = np.zeros(local_dr.size, dtype=np.int64)
    if above.any():
        scaled = log_scale(val[above], low, high)
        dr[above] = np.where(pos[above] == 1, scaled, np.minimum(scaled, 99))
    top[above] = pos[above]
    dr[local_linked] = 1
    top[local_linked] = linked + np.arange(1, spread + 1)  # rows come in local order
    at_floor = found & ~above
    top[at_floor] = pos[at_floor] + spread
    top[local_rest] = last + spread + np.arange(1, int(local_rest.sum()) + 1)

    table = pa.table({"domain": rows["domain"], "domain_rating": dr,
                      "ahrefs_top": top, "imported": found})
    con.register("_imported_rating", table)
    con.execute(
        """
        CREATE OR REPLACE TABLE domain_rating AS
        SELECT domain, domain_rating::INTEGER AS domain_rating,
               ahrefs_top::INTEGER AS ahrefs_top, imported
        FROM _imported_rating""")
    con.unregister("_imported_rating")

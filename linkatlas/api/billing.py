"""The billing arithmetic (spec/API.md "Billing (rows)"): what a request costs, and which row
counts a ledger accepts. Pure functions; the ledgers (api/ledger/) store and debit the rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import LedgerError

if TYPE_CHECKING:
    from .planner import Request

__all__ = ["CONDITION_COST", "MAX_ROWS", "REQUEST_COST", "check_rows", "cost_of"]

MAX_ROWS = 2**62  # far below the 64-bit limit of both databases, so sums cannot overflow
REQUEST_COST = 1  # every row request, whatever it returns
CONDITION_COST = 5  # for `where`, and again for `having`


def cost_of(query: Request, rows: int) -> int:
    """1 + 5 × rows (broken_targets: 1 × rows), + 5 with where, + 5 with having; offset is
    free. With `rows` 0 it is the least the request can cost, asked before it runs."""
    return (REQUEST_COST + query.columns.row_cost * rows
            + CONDITION_COST * bool(query.where) + CONDITION_COST * bool(query.having))


def check_rows(rows: object, what: str, minimum: int) -> int:
    """`rows` if it is a whole number from `minimum` to MAX_ROWS (not a bool); else a
    LedgerError naming `what`."""
    if isinstance(rows, bool) or not isinstance(rows, int) or not minimum <= rows <= MAX_ROWS:
        raise LedgerError(f"{what}: must be a whole number from {minimum} to {MAX_ROWS}")
    return rows

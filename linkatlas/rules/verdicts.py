"""Verdicts of observations (spec/COLUMNS.md "Broken"), from one table.

An observation (http_code, error) is broken, good or undecided. The table below is the only
statement of the rule: `verdict` (Python, used by the checker) and `broken_sql`/`good_sql`
(SQL, used by every build engine) are both generated from it, and tests/test_verdicts.py holds
them equal on every status 0–999 × every error kind.

    broken     error "dns" (NXDOMAIN from a working resolver) or "redirects" (a redirect
               chain that loops or exceeds 10 hops), whatever the code;
               or no error and 400–599 except 429
    good       no error and 200–399
    undecided  everything else: 1xx, 429, 600–999 (LinkedIn's 999 to bots), 0 without an
               error, and every other error (timeout, refused, reset, tls, address, resolver,
               robots, other)

Undecided observations never change a target's status. For a target, a 3xx is only a hop:
the build judges it at the end of its redirect chain (index/stages.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BROKEN", "BROKEN_ERRORS", "ERRORS", "GOOD", "MAX_REDIRECTS", "RULES", "UNDECIDED",
           "Verdict", "broken_sql", "good_sql", "is_broken", "verdict"]

Verdict = Literal["broken", "good", "undecided"]
BROKEN: Verdict = "broken"
GOOD: Verdict = "good"
UNDECIDED: Verdict = "undecided"

# Every `error` an observation can carry (the check log's field; "" = an HTTP answer came).
ERRORS = ("", "dns", "redirects", "timeout", "refused", "reset", "tls", "address", "resolver",
          "robots", "other")
BROKEN_ERRORS = ("dns", "redirects")
# A target's redirect chain is followed this many hops; one more redirect (or a loop) is
# broken with error "redirects".
MAX_REDIRECTS = 10


@dataclass(frozen=True)
class Rule:
    """Observations with one of `errors` and a code in one of `codes` (inclusive ranges;
    None = any code) get `verdict`."""

    verdict: Verdict
    errors: tuple[str, ...]
    codes: tuple[tuple[int, int], ...] | None


# The first matching rule decides; no match is undecided.
RULES: tuple[Rule, ...] = (
    Rule(BROKEN, BROKEN_ERRORS, None),
    Rule(BROKEN, ("",), ((400, 428), (430, 599))),
    Rule(GOOD, ("",), ((200, 399),)),
)


def verdict(http_code: int, error: str = "") -> Verdict:
    """The verdict of one observation."""
    for rule in RULES:
        if error in rule.errors and (rule.codes is None
                                     or any(low <= http_code <= high for low, high in rule.codes)):
            return rule.verdict
    return UNDECIDED


def is_broken(http_code: int, error: str = "") -> bool | None:
    """True when broken, False when good, None when the observation decides nothing."""
    kind = verdict(http_code, error)
    return None if kind == UNDECIDED else kind == BROKEN


def _rule_sql(rule: Rule, code: str, error: str) -> str:
    errors = ", ".join(f"'{name}'" for name in rule.errors)
    test = f"{error} IN ({errors})"
    if rule.codes is not None:
        ranges = " OR ".join(f"{code} BETWEEN {low} AND {high}" for low, high in rule.codes)
        test += f" AND ({ranges})"
    return f"({test})"


def _sql(wanted: Verdict, code: str, error: str) -> str:
    """SQL true exactly when the first matching rule gives `wanted` (DuckDB and Spark alike).

    A rule can only match where no earlier rule does; the rules of one verdict are ORed, each
    guarded by the negation of the earlier rules of other verdicts."""
    terms = []
    earlier: list[str] = []
    for rule in RULES:
        test = _rule_sql(rule, code, error)
        if rule.verdict == wanted:
            guard = "".join(f" AND NOT {other}" for other in earlier)
            terms.append(f"({test}{guard})")
        else:
            earlier.append(test)
    return "(" + " OR ".join(terms) + ")" if terms else "FALSE"


def broken_sql(code: str = "http_code", error: str = "error") -> str:
    """SQL for "this observation is broken" over the given columns (never NULL for non-NULL
    inputs)."""
    return _sql(BROKEN, code, error)


def good_sql(code: str = "http_code", error: str = "error") -> str:
    """SQL for "this observation is good" over the given columns."""
    return _sql(GOOD, code, error)

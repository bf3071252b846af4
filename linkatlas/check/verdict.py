"""Verdicts of observations (spec/COLUMNS.md, "Broken"), and Retry-After parsing.

One function decides what an observation means, so the checker (which re-confirms changed
verdicts and counts them) and build (which reports broken targets) cannot disagree:

    error "dns"                      → "dns"        broken: the host does not resolve
    error "address"                  → "address"    refused by the address policy: no verdict
    any other error                  → "transient"  timeout, refused, reset, tls, other
    http_code 429                    → "transient"  rate limited (COLUMNS.md: retried)
    http_code 400–599                → "broken"
    http_code 300–399                → "redirect"   not broken itself
    other codes (1xx, 2xx)           → "ok"

An observation with a non-empty error is judged by the error alone, whatever its http_code.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

__all__ = ["BROKEN", "GOOD", "VERDICTS", "is_broken", "retry_after", "verdict"]

VERDICTS = ("ok", "redirect", "broken", "dns", "transient", "address")
BROKEN = frozenset({"broken", "dns"})
GOOD = frozenset({"ok", "redirect"})


def verdict(http_code: int, error: str = "") -> str:
    """The verdict of one observation, one of VERDICTS."""
    if error:
        if error in ("dns", "address"):
            return error
        return "transient"
    if http_code == 429 or http_code == 0:
        return "transient"
    if 400 <= http_code <= 599:
        return "broken"
    if 300 <= http_code <= 399:
        return "redirect"
    return "ok"


def is_broken(http_code: int, error: str = "") -> bool | None:
    """True when broken, False when good, None when the observation decides nothing."""
    kind = verdict(http_code, error)
    if kind in BROKEN:
        return True
    if kind in GOOD:
        return False
    return None


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 §10.2.3: delay-seconds or an
    HTTP-date, taken relative to `now`); None when absent or unreadable, never negative."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        moment = moment.replace(tzinfo=now.tzinfo)
    return max(0.0, (moment - now).total_seconds())

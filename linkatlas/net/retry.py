"""Retry-After (RFC 9110 §10.2.3) and "busy" answers, as the checker and the crawler read them."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

__all__ = ["RETRY_AFTER_CAP", "busy", "retry_after", "server_now"]

# The longest Retry-After waited for, seconds: a longer one says the server is away for long.
RETRY_AFTER_CAP = 30.0


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP-date, taken
    relative to `now`); None when absent or unreadable, never negative."""
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


def server_now(date: str | None, fallback: datetime) -> datetime:
    """The server's Date header, against which an HTTP-date Retry-After is meant; else
    `fallback` (our clock)."""
    if date:
        try:
            moment = parsedate_to_datetime(date)
            if moment.tzinfo is not None:
                return moment
        except (TypeError, ValueError, IndexError):
            pass
    return fallback


def busy(code: int, pause: float | None) -> bool:
    """The server asks us to come back later: 429, or 503 with a Retry-After."""
    return code == 429 or (code == 503 and pause is not None)

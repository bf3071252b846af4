"""The one clock: `LINKATLAS_NOW` (ISO 8601, UTC) when set, else the system time."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from .errors import UsageError


def now() -> datetime:
    """The current time, timezone-aware UTC; tests pin it with LINKATLAS_NOW."""
    pinned = os.environ.get("LINKATLAS_NOW")
    if not pinned:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"LINKATLAS_NOW: not an ISO 8601 time: {pinned!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime | None) -> str:
    """A time as the API writes it, `YYYY-MM-DDTHH:MM:SSZ`; `""` when unknown."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

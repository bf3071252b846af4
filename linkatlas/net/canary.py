"""Is the resolver telling the truth? NXDOMAIN is believed only while it answers real names.

A machine whose resolver says NXDOMAIN to everything (offline, a captive portal, split-horizon
DNS) would otherwise mark every target broken (`error=dns`). Before believing an NXDOMAIN, the
resolver must answer at least one canary name (spec/COLUMNS.md "Broken"); the answer is
remembered for `ttl` seconds, and concurrent askers share one round of lookups.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["DEFAULT_CANARIES", "Canaries"]

# Names reserved by IANA for documentation (RFC 2606 §3): they always resolve on the real DNS.
DEFAULT_CANARIES = ("example.com", "example.net", "example.org")


class Canaries:
    """Whether `lookup` (a resolver's own DNS lookup) answers any of `names`."""

    def __init__(self, lookup: Callable[[str], Awaitable[list[str]]],
                 names: tuple[str, ...] = DEFAULT_CANARIES, ttl: float = 10.0) -> None:
        self.names = names
        self._lookup = lookup
        self._ttl = ttl
        self._answer: tuple[float, bool] | None = None
        self._asking: asyncio.Future[bool] | None = None

    async def resolver_works(self) -> bool:
        """True when a canary resolved within the last `ttl` seconds (asking again when the
        last answer is older); True at once when there are no canaries to ask."""
        if not self.names:
            return True
        if self._answer is not None and time.monotonic() - self._answer[0] < self._ttl:
            return self._answer[1]
        if self._asking is None:
            self._asking = asyncio.ensure_future(self._ask())
        asking = self._asking
        try:
            return await asyncio.shield(asking)
        finally:
            if asking.done() and self._asking is asking:
                self._asking = None

    async def _ask(self) -> bool:
        results = await asyncio.gather(*(self._lookup(name) for name in self.names),
                                       return_exceptions=True)
        works = any(isinstance(result, list) and result for result in results)
        self._answer = (time.monotonic(), works)
        return works

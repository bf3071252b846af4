"""`POST /recheck` (spec/API.md "Ext tables"): re-check up to MAX_URLS link targets of the
current snapshot now, for 1 row per URL, at most RATE re-checks a minute per token.

Parameters (query string or form body): `token`, `url` (repeatable). The answer is JSON:
`{"snapshot": id, "rechecked": [{"url", "http_code", "error", "broken", "broken_at",
"changed"}]}`; errors are v2-shaped (`{"error": "…"}`, header `X-Status: error`). The address
policy of `serve` (`--hosts`, `--hosts-only`, `--allow-private`) applies to the requests made.
The rate limit is kept per server process (ours): N processes allow N × RATE a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api.app import PRIVATE
from ..api.formats import error_body
from ..api.params import MAX_QUERY, parse_params
from ..clock import iso
from ..errors import LinkatlasError

__all__ = ["MAX_URLS", "RATE", "recheck_route", "recheck_routes"]

log = logging.getLogger("linkatlas.recheck")
MAX_URLS = 10
RATE = 6           # re-checks per token per WINDOW seconds
WINDOW = 60.0
WAIT = 30.0        # seconds a request waits for a running build or re-check


class _Limiter:
    """Sliding-window count of re-checks per token (in this process)."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._guard = threading.Lock()

    def admit(self, token: str) -> float:
        """0 when the token may re-check now, else the seconds until it may."""
        now = time.monotonic()
        with self._guard:
            seen = self._seen[token]
            while seen and now - seen[0] >= WINDOW:
                seen.popleft()
            if len(seen) >= RATE:
                return WINDOW - (now - seen[0])
            seen.append(now)
            return 0.0


def _error(message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body("json", message), media_type="application/json; charset=utf-8",
                    headers={**PRIVATE, "X-Status": "error", **(headers or {})})


def recheck_routes(api: Any) -> list[Route]:
    """POST /recheck, for linkatlas/server.py to add to the app."""
    return [Route("/recheck", recheck_route(api), methods=["POST"])]


def recheck_route(api: Any) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint over an `api.app.Api` (its settings and ledger)."""
    limiter = _Limiter()

    async def endpoint(request: Request) -> Response:
        body = (await request.body())[:MAX_QUERY].decode("utf-8", "replace")
        params = parse_params(request.url.query, body)
        token = (params.get("token") or [""])[-1]
        wanted = [u for u in params.get("url", []) if u.strip()]
        info = await run_in_threadpool(api.ledger.info, token)
        if info is None:
            return _error("invalid token")
        if not wanted:
            return _error("url: missing")
        if len(wanted) > MAX_URLS:
            return _error(f"url: at most {MAX_URLS} URLs per re-check, got {len(wanted)}")
        if info.rows_left < len(wanted):  # 1 row per URL, known before any request is made
            return _error(f"rows limit exceeded: {info.rows_left} rows left")
        wait = limiter.admit(token)
        if wait:
            return _error(f"rate limit: at most {RATE} re-checks a minute per token; retry in "
                          f"{wait:.0f} s", {"Retry-After": str(int(wait) + 1)})
        try:
            done = await run_in_threadpool(_run, api.settings, wanted)
        except LinkatlasError as exc:
            return _error(str(exc))
        except Exception:  # a bug still answers in the v2 shape, never a 5xx
            log.exception("unexpected error in a re-check")
            return _error("internal error")
        charge = await run_in_threadpool(api.ledger.charge, token, len(wanted))
        if not charge.ok:
            return _error(f"rows limit exceeded: {charge.rows_left} rows left")
        rows = [{"url": t["url"], "http_code": int(t["http_code"] or 0),
                 "error": t["error"] or "", "broken": bool(t["broken"]),
                 "broken_at": iso(t["broken_at"]) if t["broken"] else "",
                 "changed": t["changed"]} for t in done.targets]
        return Response(orjson.dumps({"snapshot": done.snapshot or done.before,
                                      "rechecked": rows}),
                        media_type="application/json; charset=utf-8",
                        headers={**PRIVATE, "X-Results-Count": str(len(rows))})

    return endpoint


def _run(settings: Any, wanted: list[str]) -> Any:
    from ..check.checker import CheckOptions
    from ..index.recheck import recheck

    options = CheckOptions(hosts=settings.hosts, hosts_only=settings.hosts_only,
                           allow_private=settings.allow_private, confirm_delay=0.5)
    return recheck(settings.data, wanted, options, wait=WAIT, max_urls=MAX_URLS)

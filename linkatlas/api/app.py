"""The HTTP API (spec/API.md) as an ASGI app: v2 requests, billing, metrics, docs.

Each request resolves the current snapshot once, so `build` can switch snapshots while
requests run: a request finishes on the snapshot it started with (old ones are kept a while).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .. import snapshot
from ..errors import LedgerError, QueryError, SnapshotError
from . import metrics
from .billing import cost_of
from .delivery import SpooledResponse, materialise
from .formats import CONTENT_TYPES, error_body, info_body
from .ledger import Ledger, open_ledger
from .limits import Gate, read_body
from .params import QUERY_TIMEOUT, TABLE_NAMES, parse_params
from .planner import Plan, parse_request, plan
from .planner import Request as Query
from .query import open_reader
from .tables import TABLES

__all__ = ["Api", "Extension", "Pages", "Settings", "create_app"]

log = logging.getLogger("linkatlas.access")
_HEX_TOKEN = re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])")
_TABLES = frozenset(TABLE_NAMES)
LEDGER_WAIT = 1.5  # seconds a request waits for a busy or unreachable ledger
# Answers carry a token's data and are bought with it: never cached, never content-sniffed.
PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class Settings:
    data: Path
    ledger: str | None = None
    query_timeout: float = QUERY_TIMEOUT
    # the address policy of POST /recheck (spec/CLI.md "Names, addresses and the clock")
    hosts: Path | None = None
    hosts_only: bool = False
    allow_private: bool = False


def redact(text: str) -> str:
    """A path or query string with every token value hidden (for logs).

    Names are compared decoded (`t%6Fken=` is `token=` to the parser), and any run of 40 hex
    digits elsewhere — a token pasted into another parameter — is hidden too."""
    path, mark, query = text.partition("?")
    if not mark:
        path, query = "", text
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        if equals and "token" in unquote_plus(name, errors="replace").strip().lower():
            part = f"{name}=[redacted]"
        parts.append(_HEX_TOKEN.sub("[redacted]", part))
    return path + mark + "&".join(parts)


@dataclass(frozen=True)
class Pages:
    """What a person reads: the query form at `/` (a request without parameters) and `/docs`."""
    home: Callable[[], str]
    docs: Callable[[], str]


class Api:
    def __init__(self, settings: Settings, pages: Pages) -> None:
        self.settings = settings
        self.pages = pages
        # A request waits for the ledger a second or two, then says so (docs/security.md).
        self.ledger: Ledger = open_ledger(settings.ledger, settings.data, wait=LEDGER_WAIT)
        self.gate = Gate()
        # Opened on a query thread: DuckDB's own worker threads inherit its lower priority.
        self.db = self.gate.executor.submit(open_reader).result()

    def _error(self, output: str, message: str, table: str) -> Response:
        metrics.ERRORS.labels(table=table).inc()
        body = error_body(output, message)
        media = CONTENT_TYPES["xml" if output == "xml" else "json"]
        return Response(body, media_type=media,
                        headers={"X-Status": "error", "X-Results-Count": "0"})

    async def handle(self, request: Request) -> Response:
        if request.method == "HEAD":  # Starlette routes HEAD to GET: never a billed query
            return Response(media_type="text/html; charset=utf-8", headers=PRIVATE)
        response = await self._handle(request)
        response.headers.update(PRIVATE)
        return response

    async def _handle(self, request: Request) -> Response:
        started = time.perf_counter()
        raw = [request.url.query]
        if request.method == "POST":
            try:
                raw.append((await read_body(request)).decode("utf-8", "replace"))
            except QueryError as error:
                return self._error("json", str(error), "other")
        params = parse_params(*raw)
        table = (params.get("from") or [""])[-1]
        output = (params.get("output") or ["json"])[-1].strip().lower()
        output = output if output in CONTENT_TYPES else "json"
        if not params:
            return HTMLResponse(await run_in_threadpool(self.pages.home))
        label = table if table in _TABLES else "other"  # bounded metric labels
        try:
            response = await self._answer(params, table, output)
        except QueryError as error:
            response = self._error(output, str(error), label)
        except SnapshotError as error:  # its text names the data directory: logged only
            log.warning("%s", error)
            response = self._error(output, "no index to answer from yet; try again later",
                                   label)
        except LedgerError as error:
            log.warning("%s", error)
            response = self._error(output, "billing is unavailable right now; try again in a "
                                   "few seconds", label)
        except Exception:  # a bug must still answer as v2 clients expect, never a 5xx
            log.exception("unexpected error answering %s", redact(request.url.query))
            response = self._error(output, "internal error", label)
        metrics.LATENCY.labels(table=label).observe(time.perf_counter() - started)
        metrics.REQUESTS.labels(table=label,
                                status=response.headers.get("X-Status", "ok")).inc()
        return response

    async def _answer(self, params: dict[str, list[str]], table: str, output: str
                      ) -> Response:
        token = (params.get("token") or [""])[-1]
        self.gate.check_refusals(token)
        info = await run_in_threadpool(self.ledger.info, token)
        if info is None:
            raise QueryError("", "invalid token")
        if not table:
            raise QueryError("from", "missing")
        if table == "subscription_info":
            body = {"info": {"rows_left": info.rows_left, "rows_limit": info.rows_limit,
                             "subscription": info.name}}
            return Response(info_body(output, body), media_type=CONTENT_TYPES[output],
                            headers={"X-Results-Count": "1"})
        if table not in TABLES:
            raise QueryError("from", f"table {table!r} not found")
        query, compiled = await run_in_threadpool(self._prepare, params, table)
        if info.rows_left < cost_of(query, 0):  # refused before any query runs
            raise self._refuse(token, info.rows_left)
        async with self.gate.slot(token):
            answer = await asyncio.get_running_loop().run_in_executor(
                self.gate.executor, materialise, self.db, query, compiled,
                self.settings.query_timeout)
        try:
            charge = await run_in_threadpool(self.ledger.charge, token,
                                             cost_of(query, answer.rows))
        except BaseException:
            answer.close()
            raise
        if not charge.ok:
            answer.close()
            raise self._refuse(token, charge.rows_left)
        metrics.ROWS.inc(answer.rows)
        return SpooledResponse(answer, CONTENT_TYPES[query.output],
                               {"X-Results-Count": str(answer.rows)},
                               partial(self.ledger.refund, token, charge))

    def _prepare(self, params: dict[str, list[str]], table: str) -> tuple[Query, Plan]:
        query = parse_request(params, table)
        return query, plan(query, snapshot.current(self.settings.data))

    def _refuse(self, token: str, rows_left: int) -> QueryError:
        self.gate.refused(token)
        # The cost is not told: it would let an empty token read counts (spec/API.md).
        return QueryError("", f"rows limit exceeded: {rows_left} rows left")



# Routes another package adds over the same Api (its ledger, gate and settings): the report
# and the re-check endpoint; linkatlas/server.py composes them, so the API imports neither.
Extension = Callable[[Api], list[Route]]


def create_app(settings: Settings, pages: Pages, extensions: Sequence[Extension] = ()
               ) -> Starlette:
    api = Api(settings, pages)

    async def docs(request: Request) -> Response:
        return HTMLResponse(await run_in_threadpool(pages.docs))

    async def metrics_page(request: Request) -> Response:
        try:
            current = snapshot.current(settings.data)
            metrics.observe_snapshot(current)
        except SnapshotError:
            pass
        body, media = metrics.exposition()
        return Response(body, media_type=media)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        api.ledger.close()
        api.gate.close()

    routes = [Route(path, api.handle, methods=["GET", "POST"]) for path in ("/", "//", "/v2")]
    routes += [Route("/docs", docs), Route("/metrics", metrics_page)]
    for extension in extensions:
        routes += extension(api)
    app = Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=1024),
                                               Middleware(AccessLog)],
                    lifespan=lifespan)
    app.state.api = api
    return app


class AccessLog:
    """One log line per request, token redacted (uvicorn's own access log is turned off)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + ("?" + query if query else "")
            client = (scope.get("client") or ("-", 0))[0]
            log.info("%s %s %s %s %.1fms", client, scope["method"], redact(target),
                     status[0] if status else "-", (time.perf_counter() - started) * 1000)

"""The HTTP API (spec/API.md) as an ASGI app: v2 requests, billing, metrics, docs.

Each request resolves the current snapshot once, so `build` can switch snapshots while
requests run: a request finishes on the snapshot it started with (old ones are kept a while).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import snapshot
from ..errors import QueryError, SnapshotError
from ..web.report import routes as report_routes
from . import metrics
from .formats import CONTENT_TYPES, error_body, info_body, render
from .ledger import Ledger, open_ledger
from .params import MAX_QUERY, parse_params
from .planner import Plan, parse_request, plan
from .planner import Request as Query
from .query import open_reader
from .tables import TABLES

__all__ = ["Settings", "create_app"]

log = logging.getLogger("linkatlas.access")
_TOKEN = re.compile(r"(token=)[^&\s]*")
_FETCH = 4096
_TABLES = frozenset(("broken_backlinks", "broken_targets", "subscription_info"))
_SMALL = 10_000  # rows held in memory to know the cost; beyond, the rows are counted first


@dataclass(frozen=True)
class Settings:
    data: Path
    ledger: str | None = None
    query_timeout: float = 30.0


def redact(text: str) -> str:
    """A path or query string with every token value hidden (for logs)."""
    return _TOKEN.sub(r"\1[redacted]", text)


def cost_of(query: Query, rows: int) -> int:
    """spec/API.md Billing: 1 + 5 × rows (broken_targets: 1 × rows), + 5 with where, + 5 with
    having (offset is free)."""
    return 1 + query.columns.row_cost * rows + 5 * bool(query.where) + 5 * bool(query.having)


class _Timer:
    """Interrupts a DuckDB connection when a query runs past its time."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire, args=(con,))
        self._timer.daemon = True

    def _fire(self, con: duckdb.DuckDBPyConnection) -> None:
        self.fired = True
        con.interrupt()

    def __enter__(self) -> _Timer:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class Api:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ledger: Ledger = open_ledger(settings.ledger, settings.data)
        self.db = open_reader()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self.db.cursor()

    def _error(self, output: str, message: str, table: str) -> Response:
        metrics.ERRORS.labels(table=table).inc()
        body = error_body(output, message)
        media = CONTENT_TYPES["xml" if output == "xml" else "json"]
        return Response(body, media_type=media,
                        headers={"X-Status": "error", "X-Results-Count": "0"})

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        raw = [request.url.query]
        if request.method == "POST":
            body = await request.body()
            raw.append(body[:MAX_QUERY].decode("utf-8", "replace"))
        params = parse_params(*raw)
        table = (params.get("from") or [""])[-1]
        output = (params.get("output") or ["json"])[-1].strip().lower()
        output = output if output in CONTENT_TYPES else "json"
        if not params:
            return HTMLResponse(await run_in_threadpool(self.web_page))
        label = table if table in _TABLES else "other"  # bounded metric labels
        try:
            response = await self._answer(params, table, output)
        except (QueryError, SnapshotError) as error:
            response = self._error(output, str(error), label)
        except Exception:  # a bug must still answer as v2 clients expect, never a 5xx
            log.exception("unexpected error answering %s", redact(request.url.query))
            response = self._error(output, "internal error", label)
        metrics.LATENCY.labels(table=label).observe(time.perf_counter() - started)
        metrics.REQUESTS.labels(table=label,
                                status=response.headers.get("X-Status", "ok")).inc()
        return response

    async def _answer(self, params: dict[str, list[str]], table: str, output: str
                      ) -> Response:
        # One thread hop for the ledger, the query and the rendering (each hop ~0.2-0.4 ms).
        return await run_in_threadpool(self._answer_sync, params, table, output)

    def _answer_sync(self, params: dict[str, list[str]], table: str, output: str
                     ) -> Response:
        token = (params.get("token") or [""])[-1]
        info = self.ledger.info(token)
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
        query = parse_request(params, table)
        current = snapshot.current(self.settings.data)
        return self._run(token, query, current)

    def _run(self, token: str, query: Query, current: snapshot.Snapshot) -> Response:
        compiled = plan(query, current)
        cursor = self._cursor()
        try:
            with _Timer(cursor, self.settings.query_timeout) as timer:
                try:
                    rows, complete = self._first_rows(cursor, compiled)
                    count = len(rows) if complete else self._count(cursor, compiled)
                except duckdb.InterruptException:
                    raise QueryError("", f"query timeout: the request ran past "
                                         f"{self.settings.query_timeout:g} s") from None
                except duckdb.Error as exc:
                    if timer.fired:
                        raise QueryError("", "query timeout") from None
                    raise QueryError("", f"query failed: {str(exc).splitlines()[0]}") from None
        except BaseException:
            cursor.close()
            raise
        cost = cost_of(query, count)
        charge = self.ledger.charge(token, cost)
        if not charge.ok:
            cursor.close()
            # The cost is not told: it would let an empty token read counts (spec/API.md).
            raise QueryError("", f"rows limit exceeded: {charge.rows_left} rows left")
        metrics.ROWS.inc(count)
        if complete:  # all rows are in memory: render here, in this thread, in one body
            cursor.close()
            body = render(query.output, compiled.columns, [rows], count, query.columns)
            return Response(b"".join(body), media_type=CONTENT_TYPES[query.output],
                            headers={"X-Results-Count": str(count)})
        batches = self._batches(cursor, rows, complete)
        chunks = render(query.output, compiled.columns, batches, count, query.columns)
        return StreamingResponse(iterate_in_threadpool(chunks),
                                 media_type=CONTENT_TYPES[query.output],
                                 headers={"X-Results-Count": str(count)})

    def _first_rows(self, cursor: duckdb.DuckDBPyConnection, compiled: Plan
                    ) -> tuple[list[tuple[Any, ...]], bool]:
        cursor.execute(compiled.sql, compiled.params)
        rows: list[tuple[Any, ...]] = []
        while len(rows) < _SMALL:
            batch = cursor.fetchmany(_FETCH)
            if not batch:
                return rows, True
            rows.extend(batch)
        return rows, False

    def _count(self, cursor: duckdb.DuckDBPyConnection, compiled: Plan) -> int:
        counter = self.db.cursor()
        try:
            row = counter.execute(compiled.count_sql, compiled.count_params).fetchone()
        finally:
            counter.close()
        return int(row[0]) if row else 0

    @staticmethod
    def _batches(cursor: duckdb.DuckDBPyConnection, first: list[tuple[Any, ...]],
                 complete: bool) -> Iterator[list[tuple[Any, ...]]]:
        try:
            yield first
            while not complete and (batch := cursor.fetchmany(_FETCH)):
                yield batch
        finally:
            cursor.close()

    def web_page(self) -> str:
        from ..web.pages import home

        return home(self.settings.data)

    def docs_page(self) -> str:
        from ..web.pages import docs

        return docs()


def create_app(settings: Settings) -> Starlette:
    api = Api(settings)

    async def docs(request: Request) -> Response:
        return HTMLResponse(await run_in_threadpool(api.docs_page))

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

    routes = [Route(path, api.handle, methods=["GET", "POST"]) for path in ("/", "//", "/v2")]
    routes += [Route("/docs", docs), Route("/metrics", metrics_page)]
    routes += report_routes(api)
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

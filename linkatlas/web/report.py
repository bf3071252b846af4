"""`/report` (docs/report.md): a static page, its script and style served from the package, and
its two charts as SVG. The page holds no data and no token: its script reads the token from the
URL fragment and asks the API, like any client, with every request billed.

Every response here carries a strict Content-Security-Policy: scripts and styles only from this
server's files (no inline code), nothing from elsewhere, no frames, no plugins.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING, Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import snapshot
from ..api.execute import Deadline, translated
from ..columns import NAMES
from ..errors import QueryError, SnapshotError
from ..urls import MODES, host_of
from . import charts
from .redirects import FORMATS, render
from .suggest import load_facts, suggest_all

if TYPE_CHECKING:
    from ..api.app import Api

__all__ = ["CSP", "routes"]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
           "Cache-Control": "no-store"}
_STATIC = {"report.js": "text/javascript; charset=utf-8", "report.css": "text/css; charset=utf-8",
           "icon.svg": "image/svg+xml"}


def _static(name: str) -> bytes:
    return files("linkatlas.web").joinpath("static", name).read_bytes()


def page() -> str:
    """The report's markup: every stranger's text is added later by the script, as text."""
    modes = "".join(f'<option value="{m}"{" selected" if m == "domain" else ""}>{m}</option>'
                    for m in MODES)
    return (_static("report.html").decode().replace("{modes}", modes)
            .replace("{columns}", ",".join(NAMES)))


async def _page(request: Request) -> Response:
    return Response(page(), media_type="text/html; charset=utf-8", headers=HEADERS)


async def _file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _STATIC:
        return Response("not found", status_code=404, headers=HEADERS)
    return Response(_static(name), media_type=_STATIC[name],
                    headers={**HEADERS, "Cache-Control": "no-cache"})


def _chart(api: Api, params: dict[str, list[str]]) -> tuple[str, str]:
    """(SVG, status) of one chart request: billed 1 + 1 per bar, like broken_targets."""
    from ..api.planner import parse_request

    token = (params.get("token") or [""])[-1]
    chart = (params.get("chart") or [""])[-1]
    try:
        info = api.ledger.info(token)
        if info is None:
            raise QueryError("", "invalid token")
        if info.rows_left < 1:  # refused before any query runs (spec/API.md Billing)
            raise QueryError("", f"rows limit exceeded: {info.rows_left} rows left")
        if chart not in charts.CHARTS:
            raise QueryError("chart", f"expected one of {', '.join(charts.CHARTS)}")
        request = parse_request(params, "broken_targets")
        sql, values = charts.chart_sql(chart, request, snapshot.current(api.settings.data))
        with Deadline(api.settings.query_timeout) as deadline, translated(deadline):
            data = charts.bars(chart, deadline.cursor(api.db).execute(sql, values).fetchall())
        charge = api.ledger.charge(token, 1 + len(data))
        if not charge.ok:
            raise QueryError("", f"rows limit exceeded: {charge.rows_left} rows left")
    except (QueryError, SnapshotError) as error:
        return charts.error_svg(str(error)), "error"
    return charts.svg(charts.CHARTS[chart][0], data), "ok"


_MAX_URLS = 1000  # dead URLs one suggestions request may ask about
_MAX_BODY = 4 * 1024 * 1024


def _suggestions(api: Api, body: bytes) -> dict[str, Any]:
    """Suggested redirects of the given dead URLs, billed 1 + 1 per URL (docs/report.md)."""
    try:
        request = orjson.loads(body)
        token, wanted = str(request["token"]), request["urls"]
        if not isinstance(wanted, list) or not all(isinstance(u, str) for u in wanted):
            raise TypeError
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return {"error": "body: expected {\"token\": \"…\", \"urls\": [\"…\"]}"}
    info = api.ledger.info(token)
    if info is None:
        return {"error": "invalid token"}
    if len(wanted) > _MAX_URLS:
        return {"error": f"urls: at most {_MAX_URLS}"}
    if info.rows_left < 1 + len(wanted):  # the cost is known: refused before any work
        return {"error": f"rows limit exceeded: {info.rows_left} rows left"}
    try:
        current = snapshot.current(api.settings.data)
    except SnapshotError as error:
        return {"error": str(error)}
    facts = load_facts(current.path, (host_of(u) for u in wanted if "://" in u), api.db)
    found = suggest_all([u for u in wanted if "://" in u], facts)
    charge = api.ledger.charge(token, 1 + len(wanted))
    if not charge.ok:
        return {"error": f"rows limit exceeded: {charge.rows_left} rows left"}
    return {"suggestions": found}


def _redirect_map(params: dict[str, list[str]], body: bytes) -> tuple[int, str, str]:
    """(status, media type, text) of a redirect map export: a pure rendering of the pairs
    the page sends (the user's edits included); it reads nothing from the index."""
    format_ = (params.get("format") or [""])[-1]
    if format_ not in FORMATS:
        return 400, "text/plain; charset=utf-8", f"format: expected {', '.join(FORMATS)}"
    try:
        pairs = orjson.loads(body)["pairs"]
        clean = [(str(a), str(b)) for a, b in pairs]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return 400, "text/plain; charset=utf-8", 'body: expected {"pairs": [["from", "to"]]}'
    return 200, FORMATS[format_][0], render(format_, clean)


def routes(api: Api) -> list[Route]:
    """The report's routes, for `create_app`."""
    from ..api.params import parse_params

    async def chart(request: Request) -> Response:
        body, status = await run_in_threadpool(_chart, api, parse_params(request.url.query))
        return Response(body, media_type="image/svg+xml",
                        headers={**HEADERS, "X-Status": status})

    async def suggestions(request: Request) -> Response:
        body = await request.body()
        found = await run_in_threadpool(_suggestions, api, body[:_MAX_BODY])
        return Response(orjson.dumps(found), media_type="application/json",
                        headers={**HEADERS, "X-Status": "error" if "error" in found else "ok"})

    async def redirect_map(request: Request) -> Response:
        body = await request.body()
        status, media, text = _redirect_map(parse_params(request.url.query), body[:_MAX_BODY])
        return Response(text, status_code=status, media_type=media, headers=HEADERS)

    return [Route("/report", _page), Route("/report/static/{name}", _file),
            Route("/report/chart.svg", chart),
            Route("/report/suggestions", suggestions, methods=["POST"]),
            Route("/report/redirects", redirect_map, methods=["POST"])]

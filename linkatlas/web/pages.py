"""HTML pages over the same API: a query form (`/` without parameters) and `/docs`, both
generated from the column table, so they cannot drift from what the API accepts."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from .. import target_columns
from ..api.params import PARAMS
from ..columns import COLUMNS, Column
from ..urls import MODES

__all__ = ["docs", "home"]

_STYLE = """<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}code,pre{background:#f4f4f4;padding:0 .2rem}
pre{padding:.6rem;overflow:auto}input,select{font:inherit;padding:.2rem}label{margin-right:1rem}
</style>"""

_EXAMPLES = (
    ("Every broken backlink of a domain", {"mode": "domain"}),
    ("404s only, best pages first", {"mode": "subdomains", "where": "http_code=404",
                                     "order_by": "ahrefs_rank:desc"}),
    ("Dofollow links from strong domains, as CSV",
     {"mode": "subdomains", "where": "nofollow=false", "having": "domain_rating>=10",
      "select": "url_from,url_to,anchor,http_code", "output": "csv"}),
    ("Unresolvable hosts", {"mode": "subdomains", "where": 'error="dns"'}),
    ("Anchors that mention a word",
     {"mode": "subdomains", "where": 'or(word(anchor,"docs"),substring(url_from,"blog"))'}),
)


def _code(text: str) -> str:
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}"
            f"</title>{_STYLE}</head><body>{body}</body></html>")


def _column_rows(columns: tuple[Column, ...]) -> str:
    return "".join(
        f"<tr><td><code>{c.name}</code></td><td>{c.kind.value}</td>"
        f"<td>{'+' if c.where else '−'}</td><td>{'+' if c.having else '−'}</td>"
        f"<td>{'(ext, served only when named in <code>select</code>) ' if c.ext else ''}"
        f"{_code(c.description)}</td></tr>" for c in columns)


def _targets_section() -> str:
    """The ext table `broken_targets` (docs/report.md)."""
    return f"""<h2 id=broken_targets>broken_targets (ext)</h2>
<p><code>from=broken_targets</code> takes the same parameters and answers one row per broken
target URL: the backlinks of <code>broken_backlinks</code> over the same target and mode,
grouped by <code>url_to</code>. Default order <code>refdomains:desc,domain_rating_max:desc</code>,
ties broken by <code>url_to</code>. <code>where</code> and <code>having</code> both hold on the
grouped rows and accept every column. JSON and PHP answer <code>{{"targets": [...]}}</code>, XML
<code>&lt;targets&gt;&lt;target&gt;…</code>. A request costs <code>1 + 1 × rows</code>,
<code>+ 5</code> with <code>where</code>, <code>+ 5</code> with <code>having</code>. The
<a href="/report">report page</a> reads this table.</p>
<table><tr><th>column</th><th>type</th><th>W</th><th>H</th><th>meaning</th></tr>
{_column_rows(target_columns.COLUMNS)}</table>"""


def _report_section() -> str:
    """The report page (docs/report.md)."""
    return """<h2 id=report>Report (<a href="/report">/report</a>)</h2>
<p>A page for site owners: open <code>/report#token=…&amp;target=…&amp;mode=…</code> (the token
rides in the URL fragment, which browsers never send to a server; the page sends it only as the
<code>token</code> of its API requests). Every figure comes from ordinary, billed requests:
<code>broken_targets</code> for the <b>dead URLs</b> view (sorted by referring domains, then best
DR; a row expands to its backlinks), <code>broken_backlinks</code> for the <b>backlinks</b> view
(27 columns, sortable, with filters compiled to <code>where</code>/<code>having</code> and the
equivalent request shown), and <code>one_per_domain=1</code> behind its toggle. Charts (broken
backlinks by month of <code>broken_at</code>, referring domains by DR bucket) are SVG drawn by the
server: <code>/report/chart.svg?chart=months|dr&amp;token&amp;target&amp;mode</code>, billed
<code>1 + 1</code> per bar.</p>
<p><b>Reclaim</b>: each dead URL gets a suggested live URL on its host — where the index saw it
redirect before it died, else the closest live page by path tokens (0.6 × Jaccard) and title
(0.4 × share of the URL's tokens in the title), else the home page
(<code>POST /report/suggestions</code>, billed <code>1 + 1</code> per URL). Suggestions are
editable; the redirect map exports as CSV, an nginx <code>map</code> and Apache mod_rewrite rules
with exact-URL semantics (host, path and query string; never Apache's prefix-matching
<code>Redirect</code>); URLs holding quotes, spaces, braces, semicolons, <code>$</code> or
controls are left out. CSV exports of a view are UTF-8 with a byte order mark, with formula-like
cells neutralised. The page runs no inline script (strict Content-Security-Policy) and shows
other people's text only as text.</p>"""


def docs(target: str = "example.com", token: str = "YOUR_TOKEN") -> str:
    """The API reference: parameters, columns with where/having, conditions, examples."""
    params = "".join(
        f"<tr><td><code>{p.name}</code></td><td>{'yes' if p.required else 'no'}</td>"
        f"<td>{'–' if p.default is None else f'<code>{escape(p.default)}</code>'}</td>"
        f"<td>{_code(p.help)}{' (repeatable)' if p.repeat else ''}</td></tr>" for p in PARAMS)
    columns = _column_rows(COLUMNS)
    examples = "".join(
        f'<li>{escape(label)}: <a href="/?{escape(query)}"><code>/?{escape(query)}</code></a></li>'
        for label, extra in _EXAMPLES
        for query in [urlencode({"token": token, "from": "broken_backlinks", "target": target,
                                 **extra})])
    body = f"""<h1>linkatlas API</h1>
<p>The v2 <code>broken_backlinks</code> API: <code>GET /?token=…&amp;from=broken_backlinks&amp;
target=…&amp;mode=…</code> (also <code>POST</code>, <code>//</code> and <code>/v2</code>).
Errors answer HTTP 200 with <code>{{"error": "…"}}</code> and <code>X-Status: error</code>.</p>
<h2>Parameters</h2><table><tr><th>param</th><th>required</th><th>default</th><th>meaning</th>
</tr>{params}</table>
<h2>Columns</h2><p>W/H: usable in <code>where</code> / <code>having</code>.</p>
<table><tr><th>column</th><th>type</th><th>W</th><th>H</th><th>meaning</th></tr>{columns}</table>
{_targets_section()}
{_report_section()}
<h2>Conditions</h2><pre>expr    := column OP literal
         | subdomain(column,"host") | substring(column,"text") | word(column,"text")
         | or(expr,expr,...) | and(expr,...) | not(expr)
OP      := =  &lt;&gt;  &lt;  &lt;=  &gt;  &gt;=
literal := integer | true | false | "double-quoted string"   (\\" and \\\\ escape)</pre>
<p>A condition is a comma-separated list; a row passes when all hold. Dates are
<code>"YYYY-MM-DD"</code> or <code>"YYYY-MM-DDTHH:MM:SSZ"</code>; an unknown date satisfies no
comparison. <code>substring</code> and <code>word</code> ignore case.</p>
<h2>Modes</h2><p>{", ".join(f"<code>{m}</code>" for m in MODES)}: the scheme never matters;
<code>subdomains</code> matches the host and every <code>*.host</code>; <code>prefix</code>
matches URLs that start with the target.</p>
<h2>Billing</h2><p>A request costs <code>1 + 5 × rows</code>, <code>+ 5</code> when
<code>where</code> is given and <code>+ 5</code> when <code>having</code> is given;
<code>offset</code> costs nothing. A request the rows left cannot pay is refused and costs
nothing. <code>from=subscription_info</code> is free.</p>
<h2>Examples</h2><ul>{examples}</ul>"""
    return _page("linkatlas API", body)


def home() -> str:
    """A small query form that sends an ordinary API request (it names no server path)."""
    modes = "".join(f"<option>{m}</option>" for m in MODES)
    body = f"""<h1>linkatlas</h1><p>Broken backlinks from this server's index.
Reference: <a href="/docs">/docs</a>.</p>
<form method=get action="/"><input type=hidden name=from value=broken_backlinks>
<label>token <input name=token size=42 required></label>
<label>target <input name=target value="" required></label>
<label>mode <select name=mode>{modes}</select></label>
<label>where <input name=where size=30></label>
<label>output <select name=output><option>json</option><option>csv</option>
<option>xml</option></select></label>
<button>query</button></form>"""
    return _page("linkatlas", body)

"""The report's two charts as SVG drawn here (nothing fetched at run time): broken backlinks by
month of `broken_at`, and referring domains by Domain Rating bucket.

The counts come from one query over the same key range as the API's tables and are billed like
a `broken_targets` request: 1 + 1 per bar (docs/report.md). Labels are ours (months, buckets)
and every text is XML-escaped anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from .. import urls
from ..api.planner import Request
from ..api.targets import best_per_domain
from ..snapshot import Snapshot

__all__ = ["CHARTS", "chart_sql", "error_svg", "svg"]

# chart name → (title, SQL of (label, count) over the CTE `backlink_rows`)
CHARTS: dict[str, tuple[str, str]] = {
    "months": ("Broken backlinks by month broken",
               "SELECT strftime(broken_at, '%Y-%m') AS label, count(*) AS n FROM backlink_rows "
               "WHERE broken_at IS NOT NULL GROUP BY label ORDER BY label"),
    # DR 100 joins the top bucket: 90–100
    "dr": ("Referring domains by Domain Rating",
           "SELECT least(domain_rating // 10, 9) AS bucket, count(DISTINCT url_from_domain) AS n "
           "FROM backlink_rows GROUP BY bucket ORDER BY bucket"),
}
_WIDTH, _HEIGHT, _LEFT, _BOTTOM, _TOP = 640, 240, 44, 36, 28


def chart_sql(chart: str, request: Request, snapshot: Snapshot) -> tuple[str, list[object]]:
    """The query of one chart for a validated request (its target, mode, one_per_domain)."""
    low, high = urls.mode_range(request.target, request.mode)
    keep = best_per_domain("url_from_domain") if request.one_per_domain else ""
    rows = f"SELECT * FROM read_parquet(?) WHERE url_to_key >= ? AND url_to_key < ? {keep}"
    return (f"WITH backlink_rows AS ({rows}) {CHARTS[chart][1]}",
            [snapshot.files_for(low, high), low, high])


def bars(chart: str, rows: Sequence[tuple[object, int]]) -> list[tuple[str, int]]:
    """Labelled bars: DR buckets are all drawn (empty ones too), months as found."""
    if chart == "dr":
        counts = {int(str(bucket)): n for bucket, n in rows}
        return [(f"{b * 10}–{b * 10 + 9 if b < 9 else 100}", counts.get(b, 0)) for b in range(10)]
    return [(str(label), n) for label, n in rows]


def svg(title: str, data: Sequence[tuple[str, int]]) -> str:
    """A bar chart: one bar per (label, count), labelled, with its title for screen readers."""
    top = max((n for _, n in data), default=0) or 1
    plot_w, plot_h = _WIDTH - _LEFT - 8, _HEIGHT - _BOTTOM - _TOP
    step = min(plot_w / max(len(data), 1), 56)  # a lone month is a bar, not a wall
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
             f'role="img" aria-label="{escape(title)}" font-family="sans-serif" '
             f'font-size="11"><title>{escape(title)}</title>'
             f'<text x="{_LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - 8}" y2="{_TOP + plot_h}" '
             f'stroke="#555"/>',
             f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{top}</text>',
             f'<text x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end">0</text>']
    label_every = max(1, round(len(data) / 12))
    for i, (label, n) in enumerate(data):
        height = plot_h * n / top
        x = _LEFT + i * step + step * 0.1
        parts.append(f'<rect x="{x:.1f}" y="{_TOP + plot_h - height:.1f}" '
                     f'width="{step * 0.8:.1f}" height="{height:.1f}" fill="#2a6f97">'
                     f"<title>{escape(label)}: {n}</title></rect>")
        if i % label_every == 0:
            parts.append(f'<text x="{x + step * 0.4:.1f}" y="{_HEIGHT - _BOTTOM + 16}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    if not data:
        parts.append(f'<text x="{_WIDTH / 2}" y="{_HEIGHT / 2}" text-anchor="middle">'
                     "no broken backlinks</text>")
    return "".join(parts) + "</svg>"


def error_svg(message: str) -> str:
    """A chart's place when it cannot be drawn: the reason, as text."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} 60" role="img" '
            f'aria-label="{escape(message)}" font-family="sans-serif" font-size="13">'
            f'<title>{escape(message)}</title><text x="8" y="30">{escape(message)}</text></svg>')

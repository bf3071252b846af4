"""A small web for the report's tests: shop.test lost pages that other sites (some hostile)
still link to; it has live pages a dead URL can be redirected to (tests/test_targets.py,
tests/test_report*.py)."""

from __future__ import annotations

from pathlib import Path

from .archives import Response, page, redirect, status, write_warc

# Text from strangers' pages that must never run in a browser.
HOSTILE_TITLE = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
HOSTILE_ANCHOR = '"><img src=x onerror=window.__pwned=3>\u202egnp.exe\u200b'
# A cell a spreadsheet would run as a formula.
FORMULA_ANCHOR = '=HYPERLINK("http://evil.test/","item five")'
EARLY, LATE = "2024-01-02T00:00:00Z", "2024-01-10T00:00:00Z"

# (referring page, title, [(target, anchor, rel)])
_REFERRERS: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("http://refa.test/p1", "Widget reviews", [
        ("http://shop.test/products/blue-widget-old", "blue widget", ""),
        ("http://shop.test/blog/clean-widgets-2019", "cleaning guide", "")]),
    ("http://refa.test/p2", "More widget reviews", [
        ("http://shop.test/products/blue-widget-old", "blue widget", "nofollow")]),
    ("http://a.blogs.test/post", "A blog", [
        ("http://shop.test/products/blue-widget-old", "widgets", ""),
        ("http://shop.test/old/red", "red", "")]),
    ("http://b.blogs.test/post", "B blog", [
        ("http://shop.test/products/blue-widget-old", "blue widget", "")]),
    ("http://refc.test/", "Refc home", [
        ("http://shop.test/item?id=5", FORMULA_ANCHOR, ""),
        ("http://shop.test/products/blue-widget-old", "shop", "")]),
    ("http://hostile.test/x", HOSTILE_TITLE, [
        ("http://shop.test/old/red", HOSTILE_ANCHOR, ""),
        ("javascript:window.__pwned=4", "click me", "")]),
]
# Links between the referrers give them different ratings.
_GRAPH = [("http://refc.test/", "http://refa.test/p1"), ("http://hostile.test/x", "http://refa.test/p1"),
          ("http://a.blogs.test/post", "http://refa.test/p1"),
          ("http://b.blogs.test/post", "http://refc.test/")]
LIVE_PAGES = {
    "http://shop.test/": "Shop home",
    "http://shop.test/products/blue-widget": "Blue Widget",
    "http://shop.test/products/red-widget": "Red Widget",
    "http://shop.test/blog/how-to-clean-widgets": "How to clean widgets",
    "http://shop.test/about": "About us",
}
DEAD = {"http://shop.test/products/blue-widget-old": 404,
        "http://shop.test/blog/clean-widgets-2019": 404,
        "http://shop.test/old/red": 410, "http://shop.test/item?id=5": 404}


def _html(title: str, links: list[tuple[str, str, str]]) -> str:
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    anchors = " ".join(
        f'<p>before {i}</p><a href="{href.replace(chr(34), "&quot;")}"'
        f'{f" rel={rel}" if rel else ""}>{text.replace("&", "&amp;").replace("<", "&lt;")}</a>'
        f"<p>after {i}</p>" for i, (href, text, rel) in enumerate(links))
    return f"<html><head><title>{escaped}</title></head><body>{anchors}</body></html>"


def responses() -> list[Response]:
    found: list[Response] = []
    extra = {source: [(target, "friend", "")] for source, target in _GRAPH}
    for url, title, links in _REFERRERS:
        found.append(page(url, EARLY, _html(title, links + extra.get(url, []))))
    shop_links = [(url, title, "") for url, title in LIVE_PAGES.items()]
    for url, title in LIVE_PAGES.items():
        found.append(page(url, EARLY, _html(title, shop_links)))
    # The index saw this one redirect before it died.
    found.append(redirect("http://shop.test/products/blue-widget-old", EARLY,
                          "http://shop.test/products/blue-widget"))
    found += [status(url, LATE, code) for url, code in DEAD.items()]
    return found


def report_index(root: Path) -> Path:
    """Ingest and build the web above; returns the data directory."""
    from linkatlas.extract.ingest import ingest
    from linkatlas.index import build

    folder = root / "data"
    ingest(folder, [write_warc(root / "report.warc.gz", responses())])
    build(folder, workers=1)
    return folder

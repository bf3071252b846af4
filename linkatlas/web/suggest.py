"""Where a dead URL should redirect (docs/report.md "Reclaim"): a live page of the same host.

1. The index saw the dead URL redirect before its current broken streak began: that location,
   when it is on the same host and not itself a dead URL.
2. Else the closest live page of the host: score = 0.6 × Jaccard similarity of the path tokens
   + 0.4 × the share of the dead URL's tokens found in the page's title (+ 0.1 when the first
   path segment is the same); the best score wins, ties to the shorter URL, then code point
   order. Tokens are the lower-case runs of letters and digits of the path and query, without
   file endings and `index`/`www`.
3. Nothing scores: the host's home page when it is live, else the best (shortest) live page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .. import urls
from ..index.reclaim import FILE

__all__ = ["Facts", "load_facts", "suggest", "suggest_all", "tokens"]

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_NOISE = frozenset({"html", "htm", "php", "asp", "aspx", "jsp", "index", "www", "http", "https"})


@dataclass(frozen=True)
class Facts:
    redirects: Mapping[str, str]                    # dead URL → its earlier redirect location
    live: Mapping[str, list[tuple[str, str]]]       # host → [(url, title)]


def tokens(text: str) -> frozenset[str]:
    return frozenset(t for t in _TOKEN.findall(text.lower()) if t not in _NOISE)


def _path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest[rest.find("/"):] if "/" in rest else "/"


def _first_segment(url: str) -> str:
    return _path(url).split("?", 1)[0].strip("/").split("/", 1)[0]


@dataclass(frozen=True)
class _Page:
    url: str
    path: frozenset[str]
    title: frozenset[str]
    first: str


def _page(url: str, title: str) -> _Page:
    return _Page(url, tokens(_path(url)), tokens(title), _first_segment(url))


def _score(dead: frozenset[str], first: str, page: _Page) -> float:
    union = dead | page.path
    score = 0.6 * (len(dead & page.path) / len(union) if union else 0.0)
    score += 0.4 * (len(dead & page.title) / len(dead) if dead else 0.0)
    return score + (0.1 if first and first == page.first else 0.0)


def _closest(dead_url: str, pages: list[_Page]) -> str:
    wanted, first = tokens(_path(dead_url)), _first_segment(dead_url)
    scored = [(round(_score(wanted, first, page), 9), page.url) for page in pages]
    best = min(scored, key=lambda item: (-item[0], len(item[1]), item[1]))
    if best[0] > 0:
        return best[1]
    home = [url for url in (page.url for page in pages) if _path(url) == "/"]
    return min(home, key=lambda url: (len(url), url)) if home else best[1]


def suggest(dead_url: str, facts: Facts, dead: frozenset[str] = frozenset(),
            pages: Mapping[str, list[_Page]] | None = None) -> str:
    """The suggested live URL for dead_url ("" when the host has no live page); `pages`:
    the hosts' live pages already tokenised (suggest_all does it once per host)."""
    host = urls.host_of(dead_url).lower()
    location = facts.redirects.get(dead_url, "")
    if (location and urls.host_of(location).lower() == host and location != dead_url
            and location not in dead):
        return location
    if pages is None:
        pages = {host: [_page(url, title) for url, title in facts.live.get(host, [])]}
    live = [page for page in pages.get(host, []) if page.url not in dead]
    return _closest(dead_url, live) if live else ""


def load_facts(snapshot_path: Path, hosts: Iterable[str], con: duckdb.DuckDBPyConnection
               ) -> Facts:
    """The reclaim rows of the given hosts (none when the snapshot predates the file)."""
    path = snapshot_path / FILE
    wanted = sorted({host.lower() for host in hosts})
    if not path.exists() or not wanted:
        return Facts({}, {})
    cursor = con.cursor()
    try:
        rows = cursor.execute("SELECT kind, host, url, title, location FROM read_parquet(?) "
                              "WHERE list_contains(?, host)", [str(path), wanted]).fetchall()
    finally:
        cursor.close()
    redirects = {url: location for kind, _, url, _, location in rows if kind == "redirect"}
    live: dict[str, list[tuple[str, str]]] = {}
    for kind, host, url, title, _ in rows:
        if kind == "live":
            live.setdefault(host, []).append((url, title))
    return Facts(redirects, live)


def suggest_all(dead_urls: list[str], facts: Facts) -> dict[str, str]:
    dead = frozenset(dead_urls) | frozenset(facts.redirects)
    pages = {host: [_page(url, title) for url, title in live]
             for host, live in facts.live.items()}
    return {url: suggest(url, facts, dead, pages) for url in dead_urls}

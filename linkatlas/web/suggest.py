"""Where a dead URL should redirect (docs/report.md "Reclaim"): a live page of the same host.

1. The index saw the dead URL redirect before its current broken streak began: that location,
   when it is on the same host and not itself a dead URL.
2. Else the closest live page of the host: score = 0.6 × Jaccard similarity of the path tokens
   + 0.4 × the share of the dead URL's tokens found in the page's title (+ 0.1 when the first
   path segment is the same); the best score wins, ties to the shorter URL, then code point
   order. Tokens are the lower-case runs of letters and digits of the path and query, without
   file endings and `index`/`www`.
3. Nothing scores: the host's home page when it is live, else the best (shortest) live page.

The scores of many dead URLs against a host's pages are sparse matrix products (scipy), so a
whole site's redirect map is suggested in one request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from scipy import sparse

from .. import urls
from ..snapshot import RECLAIM as FILE

__all__ = ["Facts", "load_facts", "suggest", "suggest_all", "tokens"]

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_NOISE = frozenset({"html", "htm", "php", "asp", "aspx", "jsp", "index", "www", "http", "https"})
_CHUNK = 512  # dead URLs scored at once (a CHUNK × pages matrix)


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


def _incidence(sets: list[frozenset[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    """Rows × vocabulary 0/1 matrix (tokens outside the vocabulary are dropped)."""
    rows, cols = [], []
    for row, items in enumerate(sets):
        for item in items:
            if item in vocabulary:
                rows.append(row)
                cols.append(vocabulary[item])
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(sets), len(vocabulary)))


class _Host:
    """A host's live pages, tokenised once, in tie-break order (shorter URL, code points)."""

    def __init__(self, pages: Iterable[tuple[str, str]]) -> None:
        ordered = sorted(set(pages), key=lambda page: (len(page[0]), page[0]))
        self.urls = [url for url, _ in ordered]
        paths = [tokens(_path(url)) for url in self.urls]
        titles = [tokens(title) for _, title in ordered]
        firsts = [_first_segment(url) for url in self.urls]
        words = sorted(set().union(*paths, *titles, firsts)) if self.urls else []
        self.vocabulary = {word: i for i, word in enumerate(words)}
        self.path = _incidence(paths, self.vocabulary).T.tocsc()
        self.title = _incidence(titles, self.vocabulary).T.tocsc()
        self.first = _incidence([frozenset([f]) if f else frozenset() for f in firsts],
                                self.vocabulary).T.tocsc()
        self.path_sizes = np.array([len(p) for p in paths], dtype=np.float64)
        homes = [i for i, url in enumerate(self.urls) if _path(url) == "/"]
        self.home = homes[0] if homes else None

    def closest(self, dead_urls: list[str]) -> list[str]:
        wanted = [tokens(_path(url)) for url in dead_urls]
        known = _incidence(wanted, self.vocabulary)
        firsts = _incidence([frozenset([_first_segment(u)]) - {""} for u in dead_urls],
                            self.vocabulary)
        sizes = np.array([len(w) for w in wanted], dtype=np.float64)[:, None]
        shared = (known @ self.path).toarray()
        union = sizes + self.path_sizes[None, :] - shared
        score = 0.6 * np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
        in_title = (known @ self.title).toarray()
        score += 0.4 * np.divide(in_title, sizes, out=np.zeros_like(in_title), where=sizes > 0)
        score += 0.1 * (firsts @ self.first).toarray()
        score = np.round(score, 9)
        best = score.argmax(axis=1)  # the first maximum: the shortest URL among equals
        found = []
        for row, column in enumerate(best):
            if score[row, column] <= 0 and self.home is not None:
                column = self.home
            found.append(self.urls[column])
        return found


def suggest_all(dead_urls: list[str], facts: Facts) -> dict[str, str]:
    """The suggested live URL of each dead URL ("" when its host has no live page)."""
    dead = frozenset(dead_urls) | frozenset(facts.redirects)
    found: dict[str, str] = {}
    by_host: dict[str, list[str]] = {}
    for url in dead_urls:
        host = urls.host_of(url).lower()
        location = facts.redirects.get(url, "")
        if (location and urls.host_of(location).lower() == host and location != url
                and location not in dead):
            found[url] = location
        else:
            by_host.setdefault(host, []).append(url)
    for host, waiting in by_host.items():
        live = [(u, title) for u, title in facts.live.get(host, []) if u not in dead]
        if not live:
            found.update(dict.fromkeys(waiting, ""))
            continue
        pages = _Host(live)
        for start in range(0, len(waiting), _CHUNK):
            chunk = waiting[start:start + _CHUNK]
            found.update(zip(chunk, pages.closest(chunk), strict=True))
    return {url: found[url] for url in dead_urls}


def suggest(dead_url: str, facts: Facts, dead: frozenset[str] = frozenset()) -> str:
    """The suggestion for one dead URL (`dead`: other URLs known dead, never suggested)."""
    live = {host: [(u, t) for u, t in pages if u not in dead]
            for host, pages in facts.live.items()}
    redirects = {k: v for k, v in facts.redirects.items() if v not in dead}
    return suggest_all([dead_url], Facts(redirects, live))[dead_url]


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

"""What each URL of the sample web is: request (host, path, method, round) → Resource.

Paths every content host serves (k is any positive number):

| path | answer |
|---|---|
| `/`, articles (`Site.pattern`), `/archive/{a}.html` | 200 HTML |
| `/private/{k}.html`, `/private/press.html` | 200; robots.txt disallows all but press |
| `/removed/{k}` · `/error/{k}` · `/maintenance/{k}` | 410 · 500 · 503 (Retry-After: 3600) |
| `/busy/{k}` | 429 (Retry-After: 1) on every odd request, 200 on every even one |
| `/app/{k}` · `/dyn/{k}` | GET 200, but HEAD 405 · HEAD 404 (HEAD lies) |
| `/old/{k}` `/go/{k}` `/see-other/{k}` `/tmp/{k}` `/moved/{k}` | 301 302 303 307 308 → article |
| `/chain/{k}` | 302 → `/chain/{k}/2` 301 → `/chain/{k}/3` 308 → article |
| `/loop/a` ↔ `/loop/b` | 302 forever |
| `/dead-redirect/{k}` · `/away/{k}` | 301 → `/removed/{k}` · 302 → `http://vanished.test` |
| `/embed/{k}.html`, `/img/{k}.png` | 200 iframe content, 200 PNG |
| anything else | 404 |

`www.alpha.test` answers 301 to the same path on `alpha.test`. Round 1 changes, on top of
links.py's: about 4% of articles are lost (404 for even numbers, 410 for odd), about 4% die
(500), `/maintenance/{k}` with odd k recovers (200), `/new/{n}.html` pages appear, and
`news.gamma.test` leaves the hosts file (its names no longer resolve).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from hashlib import blake2b
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .web import Web

__all__ = ["REDIRECTS", "SHOWCASE", "Resource", "fate", "mix", "resolve"]

# path prefix → status of the single-hop redirects to article k.
REDIRECTS: dict[str, int] = {"old": 301, "go": 302, "see-other": 303, "tmp": 307, "moved": 308}

# Fixed pages by site feature: path → kind.
SHOWCASE: dict[str, dict[str, str]] = {
    "showcase": {"/map.html": "map", "/broken.html": "broken", "/redirects.html": "redirects",
                 "/misc.html": "misc", "/nofollow-meta.html": "nofollow-meta",
                 "/nofollow-header.html": "nofollow-header"},
    "shop": {"/kontakt.html": "contact", "/senden": "small", "/suche": "small"},
    "frames": {"/frames.html": "frames"},
    "feed": {"/feed.rss": "rss", "/feed.atom": "atom"},
}

_NUMBERED = re.compile(r"/([a-z-]+)/([1-9][0-9]{0,8})(?:\.html|\.png|/([23]))?")
_TRANSLATION = re.compile(r"/(de|fr)/guide/([1-9][0-9]*)\.html")


def mix(seed: int, *parts: object) -> int:
    """A stable 64-bit hash of the seed and parts (deterministic across runs, unlike hash();
    well mixed in its low bits, unlike crc32)."""
    data = "|".join(map(str, (seed, *parts))).encode("utf-8")
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big")


def fate(seed: int, host: str, n: int) -> int:
    """Round-1 status of article n of host: 0 (unchanged), 404/410 (lost) or 500 (dying)."""
    if n <= 1:
        return 0
    draw = mix(seed, host, n, "fate") % 25
    if draw == 0:
        return 404 if n % 2 == 0 else 410
    return 500 if draw == 1 else 0


@dataclass(frozen=True)
class Resource:
    """The answer to one request before rendering: kind, status and kind-specific values."""

    host: str
    path: str
    kind: str
    status: int
    n: int = 0
    lang: str = ""
    location: str = ""
    headers: tuple[tuple[str, str], ...] = ()


def resolve(web: Web, host: str, target: str, port: int, method: str = "GET",
            busy: bool = False) -> Resource:
    """The resource `target` (path and query) names on live host `host`."""
    site = web.site(host)
    path = target.split("?", 1)[0] or "/"
    if site is None:
        return Resource(host, path, "missing", 404)
    if "alias" in site.features:
        return Resource(host, path, "redirect", 301, location=f"http://alpha.test:{port}{target}")
    n = site.article_number(path)
    if n is not None:
        status = fate(web.seed, host, n) if web.round == 1 else 0
        return Resource(host, path, "article" if not status else "missing", status or 200, n)
    if path == "/":
        return Resource(host, path, "home", 200)
    if path == "/robots.txt":
        return Resource(host, path, "robots", 200 if web.robots(host) is not None else 404)
    for feature in site.features:
        kind = SHOWCASE.get(feature, {}).get(path)
        if kind is not None:
            return Resource(host, path, kind, 200)
    return _numbered(web, host, path, port, method, busy)


def _numbered(web: Web, host: str, path: str, port: int, method: str, busy: bool) -> Resource:
    site = web.site(host)
    assert site is not None
    if path in ("/loop/a", "/loop/b"):
        return Resource(host, path, "redirect", 302, location="/loop/" + "ab"[path == "/loop/a"])
    if path == "/private/press.html":
        return Resource(host, path, "small", 200)
    match = _TRANSLATION.fullmatch(path)
    if match and "hreflang" in site.features:
        n, lang = int(match.group(2)), match.group(1)
        exists = n <= site.articles and n % (2 if lang == "de" else 3) == 0
        return Resource(host, path, "translation" if exists else "missing", 200 if exists else 404,
                        n, lang=lang)
    match = _NUMBERED.fullmatch(path)
    if match is None:
        return Resource(host, path, "missing", 404)
    prefix, k = match.group(1), int(match.group(2))
    article_path = site.article_path((k - 1) % max(site.articles, 1) + 1)
    article = f"http://{host}:{port}{article_path}"
    suffix = path[len(prefix) + len(str(k)) + 2:]
    simple = {
        ("removed", ""): Resource(host, path, "gone", 410, k),
        ("error", ""): Resource(host, path, "error", 500, k),
        ("busy", ""): Resource(host, path, "small", 200, k) if not busy else
        Resource(host, path, "busy", 429, k, headers=(("Retry-After", "1"),)),
        ("private", ".html"): Resource(host, path, "small", 200, k),
        ("embed", ".html"): Resource(host, path, "embed", 200, k),
        ("img", ".png"): Resource(host, path, "image", 200, k),
        ("dead-redirect", ""): Resource(host, path, "redirect", 301, k,
                                        location=f"http://{host}:{port}/removed/{k}"),
        ("away", ""): Resource(host, path, "redirect", 302, k,
                               location=f"http://vanished.test:{port}/{k}"),
    }
    found = simple.get((prefix, suffix))
    if found is not None:
        return found
    if (prefix, suffix) == ("maintenance", ""):
        if web.round == 1 and k % 2 == 1:
            return Resource(host, path, "small", 200, k)
        return Resource(host, path, "unavailable", 503, k, headers=(("Retry-After", "3600"),))
    if prefix in ("app", "dyn") and not suffix:
        if method == "HEAD":
            status = 405 if prefix == "app" else 404
            headers = (("Allow", "GET, POST"),) if prefix == "app" else ()
            return Resource(host, path, "head-lie", status, k, headers=headers)
        return Resource(host, path, "small", 200, k)
    if prefix in REDIRECTS and not suffix:
        code = REDIRECTS[prefix]
        # 303 carries a relative Location (RFC 9110 §10.2.2 allows it).
        location = article_path if code == 303 else article
        return Resource(host, path, "redirect", code, k, location=location)
    if prefix == "chain":
        hops = {"": (302, f"/chain/{k}/2"), "/2": (301, f"/chain/{k}/3"), "/3": (308, article)}
        if suffix in hops:
            code, location = hops[suffix]
            if location.startswith("/"):
                location = f"http://{host}:{port}{location}"
            return Resource(host, path, "redirect", code, k, location=location)
    if prefix == "new" and suffix == ".html" and web.round == 1 and k <= site.articles:
        return Resource(host, path, "new", 200, k)
    if prefix == "entwurf" and suffix == ".html" and "agent-group" in site.features:
        return Resource(host, path, "small", 200, k)
    if prefix == "archive" and suffix == ".html" and k <= (site.articles + 49) // 50:
        return Resource(host, path, "archive", 200, k)
    return Resource(host, path, "missing", 404)

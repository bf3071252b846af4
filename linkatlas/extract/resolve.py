"""Link targets resolved against a page's base URL and normalized, remembered across pages.

`resolve(raw, base_parts(url))` equals `urls.normalize(raw, url)` (tests/test_resolve.py holds
it to that on every kind of reference), at a dictionary lookup for a reference seen before in
the same context: sites repeat their navigation links, sites built alike (one CMS) share their
relative links. HTML pages and WAT records both resolve through here.
"""

from __future__ import annotations

from typing import NamedTuple

from ..urls import SCHEME, normalize
from .memo import remember

__all__ = ["MEMO_TEXT_MAX", "Base", "base_parts", "resolve"]

_RESOLVED: dict[tuple[str, str], str | None] = {}  # (context, raw) → suffix: see resolve
_RESOLVED_MAX = 200_000
# References longer than this are resolved, never remembered: seldom repeated, and a hostile
# archive of long distinct ones would fill a worker's memory through the memos.
MEMO_TEXT_MAX = 1_000


class Base(NamedTuple):
    """A normalized base URL cut into the parts that link resolution depends on. (A named
    tuple: one is made per page, and a frozen dataclass costs five times as much to make.)"""

    url: str
    scheme: str  # http or https
    origin: str  # scheme://authority
    path_query: str  # from the path's "/" on
    path: str  # path_query without the query
    directory: str  # path up to its last "/"


def base_parts(url: str) -> Base:
    """A normalized absolute URL cut into the parts resolve() needs."""
    path = url.find("/", url.find("//") + 2)
    query = url.find("?", path)
    end = query if query >= 0 else len(url)
    return Base(url, url[:url.find(":")], url[:path], url[path:], url[path:end],
                 url[path:url.rfind("/", path, end) + 1])


# What the suffix of a reference depends on (see _shape): which part of the base; _SELF is
# the base itself, _OTHER_SCHEME no URL at all
_URL, _SCHEME, _ROOT, _PATH, _DIRECTORY, _PATH_QUERY, _SELF, _OTHER_SCHEME = range(8)
_SHAPES: dict[str, int] = {}  # reference → _shape(reference), across pages


def _context(shape: int, base: Base) -> tuple[str, str]:
    """(origin, context): normalize(raw, base) is origin + a suffix that depends only on
    (context, raw) (RFC 3986 §5.2.2), so the suffix can be remembered across pages and sites.

    An absolute-path reference (`/path`) takes the base's scheme and authority as they are, and
    its suffix depends on nothing else; a relative path (`a/b`, `../c`) depends on the base's
    directory, a query (`?q`) on the base's path, a bare `?` on the base's path and query; an
    empty reference or a fragment is the base itself (normalized, it has no fragment); a
    network-path reference (`//host/…`) and an absolute http(s) URL depend only on
    the base's scheme, and keep no origin; an absolute URL of another scheme (`javascript:`,
    `mailto:`) is no http(s) URL whatever the base. Anything else (`http:x`, odd forms, and
    tabs, newlines, backslashes or outer spaces, which normalize removes or changes first and
    so could change the kind) depends on the whole base.
    """
    if shape == _SCHEME:
        return "", base.scheme
    if shape == _ROOT:
        return base.origin, "/"
    if shape == _DIRECTORY:
        return base.origin, base.directory
    if shape == _URL:
        return "", base.url
    if shape == _PATH:
        return base.origin, base.path
    return base.origin, base.path_query


def _shape(raw: str) -> int:
    """What the suffix of normalize(raw, base) depends on: a property of the reference alone
    (see _context)."""
    if "\t" in raw or "\n" in raw or "\r" in raw or "\\" in raw or (
            raw and (raw[0] <= " " or raw[-1] <= " ")):
        return _URL
    if raw.startswith("/"):
        if raw[1:2] != "/":
            return _ROOT
        if raw[2:3] not in ("", "/", "?", "#"):
            return _SCHEME
        return _URL
    if raw.startswith(("http://", "https://")):
        host_at = raw.find("//") + 2
        if raw[host_at:host_at + 1] not in ("", "/", "?", "#"):
            return _SCHEME
        return _URL
    colon = raw.find(":")
    if colon >= 0 and not any(ch in raw[:colon] for ch in "/?#"):
        scheme = raw[:colon]
        if SCHEME.fullmatch(scheme) and scheme.lower() not in ("http", "https"):
            return _OTHER_SCHEME  # javascript:, mailto:, tel:…: absolute, and not http(s)
        return _URL  # HTTP:, http:x (relative to an http base), odd forms: not a relative path
    if raw[:1] == "?" and raw[1:2] not in ("", "#"):  # (an empty query keeps the base's)
        return _PATH
    if raw and raw[0] not in "?#":
        return _DIRECTORY
    if raw[:1] != "?":  # empty, or a fragment: the base, whose fragment normalize dropped
        return _SELF
    return _PATH_QUERY


def resolve(raw: str, base: Base) -> str | None:
    """normalize(raw, base), remembered across pages and sites: sites repeat their navigation
    links, and sites built alike (one CMS) share their relative links."""
    if len(raw) > MEMO_TEXT_MAX:
        return normalize(raw, base.url)
    shape = _SHAPES.get(raw)
    if shape is None:
        shape = remember(_SHAPES, raw, _shape(raw), _RESOLVED_MAX)
    if shape == _SELF:
        return base.url  # (each page's own: remembering it would only fill the memo)
    if shape == _OTHER_SCHEME:
        return None  # (normalize gives only http(s) URLs; each was a urljoin on a new base)
    origin, context = _context(shape, base)
    key = (context, raw)
    suffix = _RESOLVED.get(key, "")
    if suffix == "":
        target = normalize(raw, base.url)
        if target is not None and not target.startswith(origin):
            return target  # cannot happen for the kinds above; never remembered wrongly
        suffix = remember(_RESOLVED, key, None if target is None else target[len(origin):],
                          _RESOLVED_MAX)
    return None if suffix is None else origin + suffix

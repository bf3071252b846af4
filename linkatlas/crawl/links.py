"""What the crawler reads in a response: the decoded body (bounded) and the links to follow.

This is deliberately not `extract/`: the crawler only needs the URLs to enqueue, fast, while
`build` extracts full link facts from the archives later. Followed: `a`/`area` href,
`iframe`/`frame` src, `link` href with rel canonical or alternate, resolved against `base`.
Forms are not followed. `<meta name="robots" content="nofollow">` and `X-Robots-Tag: nofollow`
stop link discovery on a page (the page itself is still recorded).
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from urllib.parse import urljoin

import brotli
from resiliparse.parse.encoding import detect_encoding
from resiliparse.parse.html import HTMLTree

from ..urls import normalize

__all__ = ["charset_of", "decode_body", "is_html", "list_links", "page_links"]

_SELECTOR = "a[href], area[href], iframe[src], frame[src], link[href], base[href], meta[name]"
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHUNK = 64 * 1024


def is_html(content_type: str, body: bytes) -> bool:
    """HTML by Content-Type, or by a sniff of the first bytes when the type is missing."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind:
        return kind in _HTML_TYPES
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<a " in head


def charset_of(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """Decompress at most `limit` bytes of output, however large the input claims to be."""
    decoder = zlib.decompressobj(wbits)
    out = bytearray()
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        out += decoder.decompress(view[start:start + _CHUNK], limit - len(out))
        if len(out) >= limit or decoder.eof:
            break
    return bytes(out)


def _unbrotli(data: bytes, limit: int) -> bytes:
    decoder = brotli.Decompressor()
    out = bytearray()
    view = memoryview(data)
    for start in range(0, len(data), _CHUNK):
        out += decoder.process(view[start:start + _CHUNK].tobytes(),
                               output_buffer_limit=limit - len(out))
        if len(out) >= limit or decoder.is_finished():
            break
        while not decoder.can_accept_more_data() and len(out) < limit:
            out += decoder.process(b"", output_buffer_limit=limit - len(out))
        if len(out) >= limit:
            break
    return bytes(out[:limit])


def decode_body(body: bytes, content_encoding: str, limit: int) -> bytes | None:
    """The body with its Content-Encoding undone, cut at `limit` bytes (gzip bombs stay
    small); None for an unknown or corrupt encoding."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    data = body
    try:
        for coding in reversed(codings):  # RFC 9110 §8.4: listed in the order applied
            if coding in ("gzip", "x-gzip"):
                data = _inflate(data, 16 + zlib.MAX_WBITS, limit)
            elif coding == "deflate":  # zlib-wrapped by the RFC, raw by some servers
                try:
                    data = _inflate(data, zlib.MAX_WBITS, limit)
                except zlib.error:
                    data = _inflate(data, -zlib.MAX_WBITS, limit)
            elif coding == "br":
                data = _unbrotli(data, limit)
            elif coding != "identity":
                return None
    except (zlib.error, brotli.error):
        return None
    return data[:limit]


@lru_cache(maxsize=1 << 16)
def _normalized(absolute: str) -> str | None:
    return normalize(absolute)


def _origin(url: str) -> str:
    """`scheme://netloc` of an absolute URL."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0].split('#', 1)[0]}"


def _nofollow(content: str | None) -> bool:
    return content is not None and any(
        word.strip().lower() in ("nofollow", "none") for word in content.split(","))


def page_links(body: bytes, content_encoding: str, content_type: str, url: str,
               max_decoded: int, max_links: int, robots_header: str) -> list[str]:
    """The links of a fetched HTML page: its body decoded (at most `max_decoded` bytes) and
    listed (a pure function of its arguments, so it can run in another process)."""
    decoded = decode_body(body, content_encoding, max_decoded)
    if not decoded:
        return []
    return list_links(decoded, url, charset=charset_of(content_type), max_links=max_links,
                      robots_header=robots_header)


def list_links(html: bytes, url: str, *, charset: str | None = None,
               max_links: int = 10_000, robots_header: str = "") -> list[str]:
    """Normalized, de-duplicated URLs the page links to, in document order, at most
    `max_links` of them."""
    if _nofollow(robots_header):
        return []
    encoding = charset or detect_encoding(html[:65536])
    try:
        tree = HTMLTree.parse_from_bytes(html, encoding or "utf-8")
    except (LookupError, UnicodeError, ValueError):
        tree = HTMLTree.parse_from_bytes(html, "utf-8")
    if tree.document is None:
        return []
    # resiliparse collections are live: take the values once.
    elements = tree.document.query_selector_all(_SELECTOR).values()
    base = url
    hrefs: list[str] = []
    for element in elements:
        tag = element.tag
        if tag in ("a", "area"):
            hrefs.append(element.getattr("href") or "")
        elif tag in ("iframe", "frame"):
            hrefs.append(element.getattr("src") or "")
        elif tag == "link":
            rel = (element.getattr("rel") or "").lower().split()
            if "canonical" in rel or "alternate" in rel:
                hrefs.append(element.getattr("href") or "")
        elif tag == "base" and base is url:
            base = urljoin(url, element.getattr("href") or "")  # the first base wins
        elif (tag == "meta" and (element.getattr("name") or "").lower() == "robots"
              and _nofollow(element.getattr("content"))):
            return []
        if len(hrefs) >= max_links * 2:
            break
    seen: dict[str, None] = {}
    origin = _origin(base)
    for href in hrefs:
        href = href.strip()
        if not href or href[0] == "#":
            continue
        # urljoin costs ~20 µs; the two common forms need none of it.
        if href[0] == "/" and href[:2] != "//" and "\\" not in href:
            absolute = origin + href
        elif href.startswith(("http://", "https://")):
            absolute = href
        else:
            try:
                absolute = urljoin(base, href)
            except ValueError:
                continue
        target = _normalized(absolute)
        if target is not None and target not in seen:
            seen[target] = None
            if len(seen) >= max_links:
                break
    return list(seen)

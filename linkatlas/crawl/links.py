"""What the crawler reads in a response: the decoded body (bounded) and the links to follow.

This is deliberately not `extract/`: the crawler only needs the URLs to enqueue, fast, while
`build` extracts full link facts from the archives later. Followed: every link type of
spec/COLUMNS.md but forms (`a`/`area` href, `iframe`/`frame` src, `link` href of type canonical,
rss or alternate), resolved against `base`, and first the `rel=canonical` targets of the HTTP
`Link` header, resolved against the page URL; the rules are rules/links.py's, as extraction's.
A page whose meta robots or X-Robots-Tag says nofollow to us has no links to follow (the page
itself is still recorded).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urljoin

from resiliparse.parse.encoding import detect_encoding
from resiliparse.parse.html import HTMLTree

from ..codings import decode_body
from ..rules.links import (
    TARGET_ATTRIBUTES,
    addresses_us,
    header_canonicals,
    is_html,
    link_types,
    rel_tokens,
    robots_nofollow,
)
from ..urls import normalize

__all__ = ["charset_of", "decode_body", "fetched_html", "is_html", "list_links", "page_links"]

SNIFF_BYTES = 512  # decoded bytes the HTML sniff reads (rules/links.py)

_SELECTOR = "a[href], area[href], iframe[src], frame[src], link[href], base[href], meta[name]"


def charset_of(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


@lru_cache(maxsize=1 << 16)
def _normalized(absolute: str) -> str | None:
    return normalize(absolute)


def _origin(url: str) -> str:
    """`scheme://netloc` of an absolute URL."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0].split('#', 1)[0]}"


def fetched_html(body: bytes, content_encoding: str, content_type: str | None) -> bool:
    """Whether a fetched page is HTML: the sniff reads decoded bytes, as extraction does (a
    gzip page without a Content-Type is HTML to both)."""
    return is_html(content_type, lambda: decode_body(body, content_encoding, SNIFF_BYTES))


def page_links(body: bytes, content_encoding: str, content_type: str, url: str,
               max_decoded: int, max_links: int, robots_header: str,
               link_header: str = "") -> list[str]:
    """The links of a fetched HTML page: its body decoded (at most `max_decoded` bytes) and
    listed (a pure function of its arguments, so it can run in another process)."""
    decoded = decode_body(body, content_encoding, max_decoded)
    return list_links(decoded, url, charset=charset_of(content_type), max_links=max_links,
                      robots_header=robots_header, link_header=link_header)


def list_links(html: bytes, url: str, *, charset: str | None = None, max_links: int = 10_000,
               robots_header: str = "", link_header: str = "") -> list[str]:
    """Normalized, de-duplicated URLs the page links to, in document order after its Link
    header's canonicals (as extraction lists them), at most `max_links` of them."""
    if robots_nofollow(robots_header):
        return []
    seen: dict[str, None] = {}
    for written in header_canonicals(link_header):
        target = normalize(written, url)
        if target is not None and len(seen) < max_links:
            seen[target] = None
    if not html:
        return list(seen)
    encoding = charset or detect_encoding(html[:65536])
    try:
        tree = HTMLTree.parse_from_bytes(html, encoding or "utf-8")
    except (LookupError, UnicodeError, ValueError):
        tree = HTMLTree.parse_from_bytes(html, "utf-8")
    if tree.document is None:
        return list(seen)
    # resiliparse collections are live: take the values once.
    elements = tree.document.query_selector_all(_SELECTOR).values()
    base, based = url, False
    hrefs: list[str] = []
    for element in elements:
        tag = element.tag
        if tag == "link":
            if link_types(rel_tokens(element.getattr("rel")), element.getattr("type")):
                hrefs.append(element.getattr("href") or "")
        elif tag in TARGET_ATTRIBUTES:
            hrefs.append(element.getattr(TARGET_ATTRIBUTES[tag]) or "")
        elif tag == "base" and not based:  # the first base counts; an unusable one is none
            base, based = normalize(element.getattr("href") or "", url) or url, True
        elif (tag == "meta" and addresses_us(element.getattr("name"))
              and robots_nofollow(element.getattr("content"))):
            return []
        if len(hrefs) >= max_links * 2:
            break
    origin = _origin(base)
    for href in hrefs:
        if len(seen) >= max_links:
            break
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
    return list(seen)

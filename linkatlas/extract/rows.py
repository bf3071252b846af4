"""One capture → one visit row and its link rows (pure; runs in worker processes).

A visit is every HTTP response of an archive: it is also an observation of its URL's status.
Only successful HTML pages and redirects have links (spec/COLUMNS.md, link types).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from .. import urls
from ..rules.links import addresses_us, is_html, robots_nofollow
from .capture import Capture
from .charset import utf8_html
from .html import canonical_targets, parse_html
from .language import detect_language
from .memo import remember
from .resolve import base_parts
from .wat import wat_links, wat_title

__all__ = ["LINK_FIELDS", "LINK_PAGE_FIELDS", "VISIT_FIELDS", "capture_rows",
           "link_page_values"]

VISIT_FIELDS = ("url", "key", "domain", "time", "status", "kind", "ip", "title", "language",
                "encoding", "page_size", "links_internal", "links_external", "offset",
                "refers_to")
_VISIT_TEXTS = ("url", "key", "domain", "kind", "ip", "title", "language", "encoding")  # (str)
# A link row is its own fields, in LINK_FIELDS order, and its page's (LINK_PAGE_FIELDS, the
# same for every link of a capture: run._Parts writes them once per page, see link_page_values).
LINK_FIELDS = ("url_to", "key_to", "domain_to", "link_type", "nofollow", "anchor", "alt",
               "text_pre", "text_post")
LINK_PAGE_FIELDS = ("url_from", "time", "redirect", "offset")

Row = dict[str, Any]
# (url_to, link_type, anchor, alt, nofollow, text_pre, text_post), as html.Link
_Found = tuple[str, str, str, str, bool, str, str]


def _kind(capture: Capture) -> str:
    if capture.status >= 400:
        return "error"
    if capture.revisit:  # the same payload as an earlier capture: build copies its links
        return "revisit"
    if 300 <= capture.status < 400:
        return "redirect" if capture.header("Location") else "other"
    if capture.status >= 200 and (capture.wat is not None
                                 or is_html(capture.header("Content-Type"), capture.body[:512])):
        return "page"
    return "other"


def capture_rows(capture: Capture) -> tuple[Row, list[tuple[Any, ...]]] | None:
    """The visit row and deduplicated link rows (tuples in LINK_FIELDS order) of a capture;
    None when its URL is invalid."""
    url = urls.normalize(capture.url)
    if url is None:
        return None
    domain = urls.registered_domain(urls.host_of(url))
    kind = _kind(capture)
    visit: Row = {
        "url": url, "key": urls.key_of(url), "domain": domain, "time": capture.time,
        "status": capture.status, "kind": kind, "ip": capture.ip, "title": "", "language": "",
        "encoding": "", "page_size": capture.body_size, "links_internal": 0,
        "links_external": 0, "offset": capture.offset, "refers_to": capture.refers_to,
    }
    found: Sequence[_Found] = ()
    if kind == "redirect":
        found = _redirect(capture, url, visit)
    elif kind == "page" and capture.wat is not None:
        found = _wat_page(capture, url, visit)
    elif kind == "page":
        found = _html_page(capture, url, visit)
    visit["ip"] = valid_ip(visit["ip"])
    for name in _VISIT_TEXTS:
        visit[name] = printable(visit[name])
    return visit, _link_rows(visit, found)


# Control characters (C0 but tab/newlines, DEL, C1) act on terminals and spreadsheets and are
# never text: every path (HTML, WAT, headers, reason phrases, WARC fields) drops them here.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BLANKS = re.compile("[\t\n\r]")


def printable(text: str) -> str:
    """`text` with control characters dropped and tabs/newlines made spaces."""
    if text.isprintable():
        return text
    return _BLANKS.sub(" ", _CONTROL.sub("", text))


@lru_cache(maxsize=4096)  # pages of one server share its address
def valid_ip(text: str) -> str:
    """`text` as a canonical IP address, or "" when it is not one (WARC-IP-Address is free
    text to whoever wrote the archive)."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return ""


def _redirect(capture: Capture, url: str, visit: Row) -> list[_Found]:
    visit["title"] = f"{capture.status} {capture.reason}".strip()
    visit["encoding"] = "raw"
    target = urls.normalize(capture.header("Location").split(",")[0], url)
    nofollow = robots_nofollow(capture.header("X-Robots-Tag"))
    return [] if target is None else [(target, "redirect", "", "", nofollow, "", "")]


def _html_page(capture: Capture, url: str, visit: Row) -> Sequence[_Found]:
    html, encoding = utf8_html(capture.body, capture.header("Content-Type") or None)
    facts = parse_html(html, url, link_header=capture.header("Link"),
                       robots_header=capture.header("X-Robots-Tag"))
    visit["title"] = facts.title
    visit["encoding"] = encoding
    visit["language"] = detect_language(facts.text, facts.declared_language)
    return facts.links


def _wat_page(capture: Capture, url: str, visit: Row) -> list[_Found]:
    html: dict[str, Any] = capture.wat or {}
    visit["title"] = wat_title(html)
    head = html.get("Head") or {}
    base = urls.normalize(str(head.get("Base", "")), url) if head.get("Base") else url
    page_nofollow = robots_nofollow(capture.header("X-Robots-Tag")) or any(
        robots_nofollow(str(meta.get("content", ""))) for meta in head.get("Metas") or []
        if isinstance(meta, dict) and addresses_us(str(meta.get("name", ""))))
    found = wat_links(html, base_parts(base or url), page_nofollow)
    link_header = capture.header("Link")
    if link_header:  # its canonicals come first, as on an HTML page (html.py)
        found[:0] = [(target, "canonical", "", "", page_nofollow, "", "")
                     for target in canonical_targets(link_header, url)]
    return found


_TARGETS: dict[str, tuple[str, str]] = {}  # url_to → (key, registered domain), across pages
_TARGETS_MAX = 200_000


def _target_facts(url_to: str) -> tuple[str, str]:
    facts = _TARGETS.get(url_to)
    if facts is None:
        facts = remember(_TARGETS, url_to, (
            urls.key_of(url_to), urls.registered_domain(urls.host_of(url_to))), _TARGETS_MAX)
    return facts


def link_page_values(visit: Row) -> tuple[Any, ...]:
    """The LINK_PAGE_FIELDS of every link row of a visit: the page, its time, the status of a
    redirect (0 for a page), the record's offset."""
    return (visit["url"], visit["time"], visit["status"] if visit["kind"] == "redirect" else 0,
            visit["offset"])


def _link_rows(visit: Row, found: Sequence[_Found]) -> list[tuple[Any, ...]]:
    """Count every occurrence; keep the first of each (url_to, type, anchor, alt, nofollow),
    its text made printable first.

    Rows are tuples in LINK_FIELDS order (a page has dozens: no dict per row).
    """
    internal = 0
    seen: set[tuple[str, str, str, str, bool]] = set()
    rows: list[tuple[Any, ...]] = []
    domain = visit["domain"]
    targets = _TARGETS
    for url_to, link_type, anchor, alt, nofollow, pre, post in found:
        if not (url_to + anchor + alt + pre + post).isprintable():  # one C call, nearly always
            url_to, anchor, alt = printable(url_to), printable(anchor), printable(alt)
            pre, post = printable(pre), printable(post)
        key_to, domain_to = targets.get(url_to) or _target_facts(url_to)
        internal += domain_to == domain
        identity = (url_to, link_type, anchor, alt, nofollow)
        if identity in seen:
            continue
        seen.add(identity)
        rows.append((url_to, key_to, domain_to, link_type, nofollow, anchor, alt, pre, post))
    visit["links_internal"] = internal
    visit["links_external"] = len(found) - internal
    return rows

"""What in a response is a link, of which type, and whether it is nofollow; whether it is HTML.

One home for rules the crawler (which links to follow) and extraction (which backlinks a page
has, from HTML or from a WAT) both apply, so that the two cannot disagree:

- link types (spec/COLUMNS.md "Link types"): the element and attribute a target comes from, and
  for `<link>` its `rel` tokens and `type` (`alternate stylesheet` is a style sheet, no link);
  an HTTP `Link` header's `rel=canonical` targets are canonical links too (RFC 8288 syntax);
- `rel` values are space-separated tokens, ASCII case-insensitive (HTML); `nofollow`, `ugc`
  and `sponsored` make a link nofollow (COLUMNS.md `nofollow`);
- robots directives (meta robots, X-Robots-Tag) as Google documents them: a comma-separated
  list (a space-separated one is read too), `none` is `noindex, nofollow`, and an optional
  `agent:` prefix that scopes the directives after it to that crawler — ours is `linkatlas`;
  `<meta name=…>` addresses every crawler as `robots`, one crawler by its token;
- "is this HTML": the Content-Type's essence, or when it says nothing (missing, `*/*`,
  `unknown/unknown`, `application/unknown`) a sniff of the first bytes for the HTML patterns of
  WHATWG MIME Sniffing §7.1 (`<!DOCTYPE HTML`, `<html`, `<a`, `<!--`, … each followed by a
  space, `>` or other ASCII whitespace).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "ELEMENT_TYPES",
    "ROBOTS_TOKEN",
    "TARGET_ATTRIBUTES",
    "addresses_us",
    "header_canonicals",
    "is_html",
    "link_types",
    "rel_nofollow",
    "rel_tokens",
    "robots_nofollow",
    "wat_link_types",
]

# RFC 9309 §2.2.1 and Google's robots meta rules: the product token our crawler answers to.
ROBOTS_TOKEN = "linkatlas"

# Element → the attribute its target is in; element → link_type of that target (`link`
# elements take theirs from rel, see link_types). Forms are backlinks but not followed.
TARGET_ATTRIBUTES = {"a": "href", "area": "href", "iframe": "src", "frame": "src",
                     "form": "action", "link": "href"}
ELEMENT_TYPES = {"a": "href", "area": "href", "iframe": "frame", "frame": "frame",
                 "form": "form"}

_NOFOLLOW_RELS = frozenset(("nofollow", "ugc", "sponsored"))
_FEED_TYPES = frozenset(("application/rss+xml", "application/atom+xml"))
_NOFOLLOW_DIRECTIVES = frozenset(("nofollow", "none"))
# Robots directives that carry a value after a colon, so the colon names no user agent.
_VALUED_DIRECTIVES = frozenset(("max-snippet", "max-image-preview", "max-video-preview",
                                "unavailable_after"))
_META_NAMES = frozenset(("robots", ROBOTS_TOKEN))

# RFC 8288 §3: `<target>` followed by `; param=value` pairs, values possibly quoted. A target
# holds no "<" (no URI does): else each "<" of `<<<…` is read to the end, in quadratic time.
_LINK_VALUE = re.compile(r'<([^<>]*)>((?:\s*;\s*[^;,=\s]+(?:\s*=\s*(?:"[^"]*"|[^;,\s]*))?)*)')
_LINK_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))', re.IGNORECASE)

_HTML_TYPES = frozenset(("text/html", "application/xhtml+xml"))
_UNKNOWN_TYPES = frozenset(("", "unknown/unknown", "application/unknown", "*/*"))
_HTML_PATTERNS = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1",
                  b"<div", b"<font", b"<table", b"<a", b"<style", b"<title", b"<b", b"<body",
                  b"<br", b"<p", b"<!--")
_WHITESPACE = b" \t\n\r\x0c"
_TAG_END = frozenset(bytes([byte]) for byte in b">" + _WHITESPACE)


def rel_tokens(rel: str | None) -> list[str]:
    """The tokens of a `rel` attribute (or a Link header's rel), lower-cased."""
    return rel.lower().split() if rel else []


def rel_nofollow(tokens: list[str]) -> bool:
    """Whether rel tokens make a link nofollow (`nofollow`, `ugc`, `sponsored`)."""
    return not _NOFOLLOW_RELS.isdisjoint(tokens)


def link_types(tokens: list[str], mime: str | None) -> list[str]:
    """Link types of a `<link>` element from its rel tokens and `type` attribute, in order:
    `canonical`, then `rss` (a feed type) or `alternate`; none for anything else."""
    types = []
    if "canonical" in tokens:
        types.append("canonical")
    if "alternate" in tokens and "stylesheet" not in tokens:
        essence = (mime or "").split(";", 1)[0].strip().lower()
        types.append("rss" if essence in _FEED_TYPES else "alternate")
    return types


def header_canonicals(link_header: str) -> list[str]:
    """Targets, as written, of the `rel=canonical` links in an HTTP Link header (all its values
    joined by ", "), in order; the caller resolves them against the page URL (a `<base>` does
    not apply to headers)."""
    found = []
    for match in _LINK_VALUE.finditer(link_header):
        for rel in _LINK_REL.finditer(match.group(2)):
            tokens = rel_tokens(rel.group(1) if rel.group(1) is not None else rel.group(2))
            if "canonical" in link_types(tokens, None):
                found.append(match.group(1))
                break
    return found


def wat_link_types(path: str, rel: str, mime: str) -> list[str]:
    """Link types of one link a WAT lists by its `path` (`A@/href`, `LINK@/href`, …)."""
    tag, _, attribute = path.partition("@/")
    tag = tag.lower()
    if TARGET_ATTRIBUTES.get(tag) != attribute:
        return []
    if tag == "link":
        return link_types(rel_tokens(rel), mime)
    return [ELEMENT_TYPES[tag]]


def addresses_us(meta_name: str | None) -> bool:
    """Whether `<meta name=…>` holds robots directives for us: `robots` (every crawler) or
    our token; `googlebot` and the like address other crawlers."""
    return (meta_name or "").strip().lower() in _META_NAMES


def robots_nofollow(value: str | None, agent: str = ROBOTS_TOKEN) -> bool:
    """Whether a robots directive list (meta robots content, X-Robots-Tag) tells `agent` not
    to follow the page's links (`nofollow` or `none`).

    `googlebot: noindex, nofollow` scopes both directives to googlebot (Google's reading of a
    comma list after an agent name); a scope lasts until the next agent name. Several header
    values joined with ", " read as one list, so an unscoped value after a scoped one is read
    in that scope: put unscoped values first (crawl sees only the first X-Robots-Tag).
    """
    scope = ""
    for directive in (value or "").split(","):
        name, colon, rest = directive.partition(":")
        name = name.strip().lower()
        if colon and name not in _VALUED_DIRECTIVES:
            scope, directive = name, rest
        if scope not in ("", agent):
            continue
        if not _NOFOLLOW_DIRECTIVES.isdisjoint(directive.lower().split()):
            return True
    return False


def is_html(content_type: str | None, head: bytes | Callable[[], bytes]) -> bool:
    """Whether a response is an HTML page, from its Content-Type (the first value when several
    are joined) or, when that says nothing, from its first bytes (`head`, or a function giving
    them, called only then: the crawler must decode them first)."""
    essence = (content_type or "").split(",", 1)[0].split(";", 1)[0].strip().lower()
    if essence not in _UNKNOWN_TYPES:
        return essence in _HTML_TYPES
    if callable(head):
        head = head()
    start = head.lstrip(_WHITESPACE)[:16].lower()
    for pattern in _HTML_PATTERNS:
        if start.startswith(pattern) and start[len(pattern):len(pattern) + 1] in _TAG_END:
            return True
    return False

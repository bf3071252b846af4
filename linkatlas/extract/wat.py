"""Common Crawl WAT records: links and head metadata without bodies.

A WAT metadata record describes one WARC record as JSON (Envelope → Payload-Metadata →
HTTP-Response-Metadata → HTML-Metadata). Only response records become captures; the columns a
WAT cannot give (language, encoding, snippets, alt) stay empty.
"""

from __future__ import annotations

from html import unescape
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from ..rules.links import rel_nofollow, rel_tokens, wat_link_types
from .capture import Capture, Skip, clean_uri, is_status, record_time
from .memo import remember
from .resolve import MEMO_TEXT_MAX, Base, resolve

__all__ = ["capture_from_wat", "wat_links", "wat_title"]


def capture_from_wat(body: bytes, offset: int, path: Path | None = None) -> Capture | Skip:
    # Most records of a WAT describe requests and metadata records (78 % in Common Crawl's):
    # a JSON without the string "response" cannot say `"WARC-Type": "response"` (writers
    # escape no ASCII letter), so it is not parsed: that was half of the parsing time. (Such a
    # record with broken JSON is counted as a non-response record, not as bad JSON.)
    if b'"response"' not in body:
        return Skip(offset, "WAT of a non-response record", False)
    try:
        envelope = orjson.loads(body)["Envelope"]
        warc = envelope["WARC-Header-Metadata"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return Skip(offset, "bad WAT JSON")
    if not isinstance(warc, dict):
        return Skip(offset, "bad WAT JSON")
    if warc.get("WARC-Type") != "response":
        return Skip(offset, "WAT of a non-response record", False)
    try:
        http = envelope.get("Payload-Metadata", {}).get("HTTP-Response-Metadata", {})
        message = http.get("Response-Message", {})
        headers = http.get("Headers", {})
    except AttributeError:  # a list or a string where the format has an object
        return Skip(offset, "bad WAT JSON")
    if not isinstance(headers, dict):
        headers = {}
    time, dated = record_time(str(warc.get("WARC-Date", "")), str(headers.get("Date", "")), path)
    uri = clean_uri(str(warc.get("WARC-Target-URI", "")))
    try:
        status = int(message.get("Status", 0))
        size = int(http.get("Entity-Length", 0))
    except (AttributeError, TypeError, ValueError):
        return Skip(offset, "bad WAT status")
    if time is None or not uri or not status:
        return Skip(offset, "WAT record without date, URL or status")
    if not (is_status(status) and size < 1 << 63):  # (orjson reads up to 2**64 - 1)
        return Skip(offset, "bad WAT status")  # (it failed the chunk's Parquet, and the build)
    return Capture(url=uri, time=time, status=status, reason=str(message.get("Reason", "")),
                   headers=[(str(k), str(v)) for k, v in headers.items()],
                   body=b"", body_size=size, ip=str(warc.get("WARC-IP-Address", "")),
                   offset=offset, wat=http.get("HTML-Metadata") or {}, dated=dated)


def wat_title(html: dict[str, Any]) -> str:
    head = html.get("Head") or {}
    return " ".join(str(head.get("Title", "")).split())


def _entry_kind(path: str, rel: str, mime: str) -> tuple[tuple[str, ...], bool]:
    """The link types of a WAT link entry and whether its rel makes it nofollow."""
    return tuple(wat_link_types(path, rel.lower(), mime)), rel_nofollow(rel_tokens(rel))


# Memos of a worker's whole life (memo.remember), of at most _MEMO_MAX entries
_MEMO_MAX = 50_000
_UNESCAPED: dict[str, str] = {}  # see _unescaped


def _unescaped(text: str) -> str:
    """html.unescape(text), remembered: its regular expression calls back into Python for
    each entity, and a site's pages repeat theirs (`&amp;` in the query strings of its
    navigation)."""
    if len(text) > MEMO_TEXT_MAX:
        return unescape(text)
    done = _UNESCAPED.get(text)
    if done is None:
        done = remember(_UNESCAPED, text, unescape(text), _MEMO_MAX)
    return done


_MISSING = object()
# (path, rel, type) → _entry_kind: a WAT's link entries repeat a handful (see wat_links)
_KINDS: dict[tuple[str, str, str], tuple[tuple[str, ...], bool]] = {}


def wat_links(html: dict[str, Any], base: Base, page_nofollow: bool = False
              ) -> list[tuple[str, str, str, str, bool, str, str]]:
    """Every link the WAT lists, in order, as html.Link tuples: (url_to resolved against base
    and normalized, link_type, anchor text, "", nofollow, "", ""); a WAT has no alt text and
    no text around links. Links whose URL does not normalize are left out.

    One loop per link, from the JSON entry to the tuple (this is a WAT's hot path).
    """
    found: list[tuple[str, str, str, str, bool, str, str]] = []
    head = html.get("Head") or {}
    kinds = _KINDS
    resolved: dict[str, str | None] = {}  # a page repeats its targets
    for entry in chain(head.get("Link") or (), html.get("Links") or ()):
        if not isinstance(entry, dict):
            continue
        url = entry.get("url", _MISSING)
        if url is _MISSING:
            continue
        path, rel, mime = entry.get("path", ""), entry.get("rel", ""), entry.get("type", "")
        try:
            link_types, nofollow = kinds[path, rel, mime]
        except (KeyError, TypeError):  # new, or not strings (JSON lists are unhashable)
            link_types, nofollow = _entry_kind(str(path), str(rel), str(mime))
            if type(path) is str and type(rel) is str and type(mime) is str:
                remember(kinds, (path, rel, mime), (link_types, nofollow), _MEMO_MAX)
        if not link_types:  # images, scripts: a third of the entries
            continue
        # WAT gives attribute values as written in the HTML, entities and all.
        url = url if type(url) is str else str(url)
        target = resolved.get(url, "")
        if target == "":
            target = resolved[url] = resolve(_unescaped(url) if "&" in url else url, base)
        if target is None:
            continue
        text = entry.get("text", "")
        if type(text) is not str:
            text = str(text)
        if text:
            text = " ".join((_unescaped(text) if "&" in text else text).split())
        nofollow = page_nofollow or nofollow
        for link_type in link_types:
            found.append((target, link_type, text, "", nofollow, "", ""))
    return found

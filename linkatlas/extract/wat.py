"""Common Crawl WAT records: links and head metadata without bodies.

A WAT metadata record describes one WARC record as JSON (Envelope → Payload-Metadata →
HTTP-Response-Metadata → HTML-Metadata). Only response records become captures; the columns a
WAT cannot give (language, encoding, snippets, alt) stay empty.
"""

from __future__ import annotations

from functools import lru_cache
from html import unescape
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from ..rules.links import rel_nofollow, rel_tokens, wat_link_types
from .capture import Capture, Skip, clean_uri, record_time

__all__ = ["capture_from_wat", "wat_links", "wat_title"]


def capture_from_wat(body: bytes, offset: int, path: Path | None = None) -> Capture | Skip:
    # Most records of a WAT describe requests and metadata records (78 % in Common Crawl's):
    # a JSON without the string "response" cannot say `"WARC-Type": "response"` (writers
    # escape no ASCII letter), so it is not parsed: that was half of the parsing time. (Such a
    # record with broken JSON is counted as a non-response record, not as bad JSON.)
    if b'"response"' not in body:
        return Skip(offset, "WAT of a non-response record", bad=False)
    try:
        envelope = orjson.loads(body)["Envelope"]
        warc = envelope["WARC-Header-Metadata"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return Skip(offset, "bad WAT JSON")
    if not isinstance(warc, dict):
        return Skip(offset, "bad WAT JSON")
    if warc.get("WARC-Type") != "response":
        return Skip(offset, "WAT of a non-response record", bad=False)
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
    return Capture(url=uri, time=time, status=status, reason=str(message.get("Reason", "")),
                   headers=[(str(k), str(v)) for k, v in headers.items()],
                   body=b"", body_size=size, ip=str(warc.get("WARC-IP-Address", "")),
                   offset=offset, wat=http.get("HTML-Metadata") or {}, dated=dated)


def wat_title(html: dict[str, Any]) -> str:
    head = html.get("Head") or {}
    return " ".join(str(head.get("Title", "")).split())


@lru_cache(maxsize=4096)  # a WAT's link entries repeat a handful of (path, rel, type)
def _entry_kind(path: str, rel: str, mime: str) -> tuple[tuple[str, ...], bool]:
    """The link types of a WAT link entry and whether its rel makes it nofollow."""
    return tuple(wat_link_types(path, rel.lower(), mime)), rel_nofollow(rel_tokens(rel))


def wat_links(html: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(url as written, link_type, anchor text, rel nofollow) of every link the WAT lists, in
    order."""
    found: list[tuple[str, str, str, bool]] = []
    head = html.get("Head") or {}
    for entry in chain(head.get("Link") or (), html.get("Links") or ()):
        if not isinstance(entry, dict) or "url" not in entry:
            continue
        link_types, nofollow = _entry_kind(str(entry.get("path", "")), str(entry.get("rel", "")),
                                           str(entry.get("type", "")))
        for link_type in link_types:
            # WAT gives attribute values as written in the HTML, entities and all.
            url, text = str(entry["url"]), str(entry.get("text", ""))
            found.append((unescape(url) if "&" in url else url, link_type,
                          unescape(text) if "&" in text else text, nofollow))
    return found

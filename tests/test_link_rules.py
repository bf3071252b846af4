"""One rule for links, nofollow and "is this HTML", as the crawler and extraction apply it.

Each table holds the cases where the crawler's and extraction's old copies of a rule disagreed
(marked `was:`), and the cases around them. Every case runs through the rule
(linkatlas/rules/links.py) and through each path that applies it: the crawler's link lister
(`crawl.links`), HTML extraction (`extract.html`, `extract.rows`) and WAT extraction.
test_crawl_parity.py crawls such pages and extracts the archive the crawler wrote.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from linkatlas.crawl.links import is_html as crawl_is_html
from linkatlas.crawl.links import list_links
from linkatlas.extract import wat
from linkatlas.extract.archive import Capture
from linkatlas.extract.html import parse_html
from linkatlas.extract.resolve import base_parts
from linkatlas.extract.rows import LINK_FIELDS, capture_rows
from linkatlas.extract.wat import wat_links
from linkatlas.rules.links import (
    addresses_us,
    header_canonicals,
    is_html,
    link_types,
    rel_nofollow,
    rel_tokens,
    robots_nofollow,
    wat_link_types,
)

URL = "http://site.test/dir/page"
BODY = '<a href="/a">a</a><iframe src="/f"></iframe>'


NOFOLLOW = LINK_FIELDS.index("nofollow")  # in a link row


def _capture(body: bytes = b"", headers: list[tuple[str, str]] | None = None,
             wat: dict[str, object] | None = None) -> Capture:
    return Capture(url=URL, time=datetime(2024, 1, 1, tzinfo=UTC), status=200, reason="OK",
                   headers=headers if headers is not None else [("Content-Type", "text/html")],
                   body=body, body_size=len(body), ip="", offset=0, wat=wat)


def _rows(capture: Capture) -> tuple[dict[str, object], list[tuple[object, ...]]]:
    result = capture_rows(capture)
    assert result is not None
    return result


def _wat(metas: list[dict[str, str]] | None = None, links: list[dict[str, str]] | None = None
         ) -> dict[str, object]:
    return {"Head": {"Metas": metas or [], "Link": links or []},
            "Links": [{"path": "A@/href", "url": "/a"}]}


# --- robots directives: meta robots content and X-Robots-Tag --------------------------------

DIRECTIVES = [
    ("noindex nofollow", True),  # was: crawl follows (it split on commas only)
    ("NOINDEX NONE", True),  # was: crawl follows
    ("googlebot: noindex, nofollow", False),  # was: crawl stops (it ignored the agent)
    ("googlebot: nofollow, noarchive, none", False),  # was: crawl stops
    ("linkatlas: nofollow", True),  # was: both followed (our token)
    ("LinkAtlas: noindex, none", True),  # was: both followed
    ("googlebot: noindex, linkatlas: nofollow", True),  # was: both followed
    ("linkatlas: noindex, googlebot: nofollow", False),
    ("nofollow, googlebot: noindex", True),
    ("otherbot: none", False),
    ("max-snippet: 20, nofollow", True),
    ("unavailable_after: 25 Jun 2030 15:00:00 PST, nofollow", True),
    ("max-image-preview:large, noindex", False),
    ("nofollow", True),
    (" NoFollow ", True),
    ("none", True),
    ("noindex, follow", False),
    ("nofollowed, nonexistent", False),
    ("", False),
]


@pytest.mark.parametrize(("value", "nofollow"), DIRECTIVES)
def test_robots_directives_rule(value: str, nofollow: bool) -> None:
    assert robots_nofollow(value) is nofollow


@pytest.mark.parametrize(("value", "nofollow"), DIRECTIVES)
def test_robots_directives_are_read_alike_by_crawl_html_and_wat(value: str, nofollow: bool
                                                                ) -> None:
    meta = f'<meta name="robots" content="{value}">'
    page = f"<html><head>{meta}</head><body>{BODY}</body></html>".encode()
    plain = f"<html><body>{BODY}</body></html>".encode()
    followed = ["http://site.test/a", "http://site.test/f"]
    # crawl: a nofollow page has nothing to follow
    assert list_links(page, URL) == ([] if nofollow else followed)
    assert list_links(plain, URL, robots_header=value) == ([] if nofollow else followed)
    # extraction from HTML: every link of the page is nofollow
    assert parse_html(page, URL).nofollow_page is nofollow
    assert parse_html(plain, URL, robots_header=value).nofollow_page is nofollow
    _, links = _rows(_capture(plain, [("Content-Type", "text/html"), ("X-Robots-Tag", value)]))
    assert [link[NOFOLLOW] for link in links] == [nofollow, nofollow]
    # extraction from a WAT
    _, links = _rows(_capture(wat=_wat(metas=[{"name": "robots", "content": value}])))
    assert [link[NOFOLLOW] for link in links] == [nofollow]


def test_robots_of_a_redirect() -> None:
    capture = _capture(headers=[("Location", "/next"), ("X-Robots-Tag", "noindex nofollow")])
    capture.status = 301
    assert [link[NOFOLLOW] for link in _rows(capture)[1]] == [True]


META_NAMES = [
    ("robots", True),
    ("ROBOTS", True),
    (" robots ", True),  # was: crawl ignored it (no strip)
    ("linkatlas", True),  # was: both ignored it (our token)
    ("LinkAtlas", True),
    ("googlebot", False),
    ("description", False),
    ("", False),
]


@pytest.mark.parametrize(("name", "applies"), META_NAMES)
def test_meta_names_that_address_us(name: str, applies: bool) -> None:
    assert addresses_us(name) is applies
    page = f'<meta name="{name}" content="nofollow">{BODY}'.encode()
    assert (list_links(page, URL) == []) is applies
    assert parse_html(page, URL).nofollow_page is applies
    _, links = _rows(_capture(wat=_wat(metas=[{"name": name, "content": "nofollow"}])))
    assert [link[NOFOLLOW] for link in links] == [applies]


def test_addresses_us_without_a_name() -> None:
    assert addresses_us(None) is False
    assert robots_nofollow(None) is False


# --- link types of <link> -------------------------------------------------------------------

LINK_ELEMENTS = [
    ("alternate stylesheet", "", []),  # was: crawl followed it (a style sheet)
    ("Stylesheet Alternate", "text/css", []),  # was: crawl followed it
    ("canonical alternate", "", ["canonical", "alternate"]),  # was: the WAT gave canonical only
    ("alternate canonical", "application/rss+xml", ["canonical", "rss"]),  # was: WAT canonical
    ("canonical", "", ["canonical"]),
    ("CANONICAL", "", ["canonical"]),
    ("alternate", "application/rss+xml", ["rss"]),
    ("alternate", "Application/Atom+XML; charset=utf-8", ["rss"]),  # was: WAT alternate
    ("alternate", "application/rss+xml; charset=utf-8; version=2", ["rss"]),
    ("alternate", "text/html", ["alternate"]),
    ("alternate", "", ["alternate"]),
    ("stylesheet", "text/css", []),
    ("icon", "", []),
    ("preload canonicalize", "", []),
    ("", "", []),
]


@pytest.mark.parametrize(("rel", "mime", "types"), LINK_ELEMENTS)
def test_link_types_rule(rel: str, mime: str, types: list[str]) -> None:
    assert link_types(rel_tokens(rel), mime) == types
    assert wat_link_types("LINK@/href", rel, mime) == types


@pytest.mark.parametrize(("rel", "mime", "types"), LINK_ELEMENTS)
def test_link_types_alike_in_crawl_html_and_wat(rel: str, mime: str, types: list[str]) -> None:
    page = f'<html><head><link rel="{rel}" type="{mime}" href="/l"></head></html>'.encode()
    assert list_links(page, URL) == (["http://site.test/l"] if types else [])
    assert [link.link_type for link in parse_html(page, URL).links] == types
    html = {"Head": {"Link": [{"path": "LINK@/href", "url": "/l", "rel": rel, "type": mime}]}}
    assert [link[1] for link in wat_links(html, base_parts(URL))] == types


def test_wat_entries_of_other_json_types_read_as_their_text() -> None:
    """A WAT's JSON is the writer's to choose: a number, true, null or a list where a string
    belongs is read as its text (as str() writes it), whichever entries came before; the
    remembered kinds of string entries never answer for them (True == 1 in Python)."""
    def links(entries: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return wat_links({"Links": entries}, base_parts(URL))

    odd: list[dict[str, object]] = [
        {"path": "A@/href", "url": 5, "text": 7}, {"path": "A@/href", "url": None},
        {"path": "A@/href", "url": "/r", "rel": ["nofollow"]},
        {"path": "A@/href", "url": "/t", "rel": True}, {"path": "A@/href", "url": "/1", "rel": 1},
        {"path": "A@/href", "url": "/n", "rel": "nofollow", "type": {"a": 1}},
        {"path": True, "url": "/p"}, {"url": "/nopath"}, {"path": "A@/href"}]
    as_text = [{key: value if isinstance(value, str) else str(value)
                for key, value in entry.items()} for entry in odd]
    assert links(as_text) == links(odd) == links(as_text)
    assert [(link[0], link[2], link[4]) for link in links(odd)] == [
        ("http://site.test/dir/5", "7", False), ("http://site.test/dir/None", "", False),
        ("http://site.test/r", "", False), ("http://site.test/t", "", False),
        ("http://site.test/1", "", False), ("http://site.test/n", "", True)]


def test_wat_link_kinds_are_remembered_within_bounds() -> None:
    """rel and type are free text: a WAT of ever new values must not grow a worker's memory
    without end (the worker lives for the whole build)."""
    entries = [{"path": "A@/href", "url": "/a", "rel": f"nofollow r{n}"}
               for n in range(wat._MEMO_MAX + 10)]
    found = wat_links({"Links": entries}, base_parts(URL))
    assert len(found) == len(entries) and all(link[4] for link in found)
    assert len(wat._KINDS) <= wat._MEMO_MAX


@pytest.mark.parametrize(("path", "types"), [
    ("A@/href", ["href"]), ("AREA@/href", ["href"]), ("IFRAME@/src", ["frame"]),
    ("FRAME@/src", ["frame"]), ("FORM@/action", ["form"]), ("LINK@/href", []),
    ("A@/src", []), ("IMG@/src", []), ("SCRIPT@/src", []), ("A", []), ("", []),
])
def test_wat_paths(path: str, types: list[str]) -> None:
    assert wat_link_types(path, "", "") == types


def test_elements_the_crawler_follows_are_the_link_types_but_forms() -> None:
    page = (b'<a href="/a">a</a><area href="/b"><iframe src="/c"></iframe>'
            b'<form action="/e"></form><link rel="canonical" href="/f"><img src="/g">'
            b'<script src="/h"></script>')
    extracted = [(link.url_to, link.link_type) for link in parse_html(page, URL).links]
    assert extracted == [("http://site.test/a", "href"), ("http://site.test/b", "href"),
                         ("http://site.test/c", "frame"),
                         ("http://site.test/e", "form"), ("http://site.test/f", "canonical")]
    assert sorted(list_links(page, URL)) == sorted(
        url for url, link_type in extracted if link_type != "form")


@pytest.mark.parametrize(("head", "targets"), [
    ('<base href="/other/">', ["http://site.test/other/x"]),
    ('<base href="javascript:0">', ["http://site.test/dir/x"]),  # was: crawl lost the link
    ('<base href="javascript:0"><base href="/other/">', ["http://site.test/dir/x"]),  # was: too
    ('<base href="//cdn.test/a/b">', ["http://cdn.test/a/x"]),
])
def test_base_href_alike_in_crawl_and_extraction(head: str, targets: list[str]) -> None:
    page = f'<html><head>{head}</head><body><a href="x">x</a></body></html>'.encode()
    assert list_links(page, URL) == targets
    assert [link.url_to for link in parse_html(page, URL).links] == targets


# --- HTTP Link header canonicals -----------------------------------------------------------

LINK_HEADERS = [
    ('<https://site.test/c>; rel="canonical"', ["https://site.test/c"]),  # was: crawl ignored
    ("</rel>; rel=canonical", ["/rel"]),  # was: crawl ignored it
    ('<https://cdn.test/x.js>; rel=preload; as=script, </c2>; rel="canonical"', ["/c2"]),
    ('<https://site.test/p>; REL="Alternate Canonical"', ["https://site.test/p"]),
    ('</a>; rel=next, </b>; title="x"; rel=canonical, </c>; rel=canonical', ["/b", "/c"]),
    ('</n>; rel="next"', []),
    ("</x>; anchor=canonical", []),
    ("<mailto:a@b.test>; rel=canonical", ["mailto:a@b.test"]),
    ("garbage <<;;", []),
    ("", []),
    ("<a<b>; rel=canonical", ["b"]),  # (no URI holds "<")
]


@pytest.mark.parametrize(("header", "written"), LINK_HEADERS)
def test_link_header_canonicals_rule(header: str, written: list[str]) -> None:
    assert header_canonicals(header) == written


def test_a_hostile_link_header_is_read_in_linear_time() -> None:
    """A WAT record's Link header is read without a page timer, and its length is the WAT's
    to choose: `<<<…` was read to its end from each "<" (20,000 of them took 1.3 s)."""
    started = time.process_time()
    assert header_canonicals("<" * 200_000) == []
    assert header_canonicals("<" * 200_000 + "<x>; rel=canonical") == ["x"]
    assert time.process_time() - started < 5


@pytest.mark.parametrize(("header", "written"), LINK_HEADERS)
def test_link_header_canonicals_alike_in_crawl_and_extraction(header: str, written: list[str]
                                                               ) -> None:
    """Resolved against the page URL (never its <base>), before the page's own links."""
    page = b'<html><head><base href="https://other.test/"></head><a href="/a">a</a></html>'
    extracted = [link.url_to for link in parse_html(page, URL, link_header=header).links]
    assert list_links(page, URL, link_header=header) == extracted
    assert extracted[-1] == "https://other.test/a"
    # a WAT record of the same response: its Headers hold the Link header
    wat = {"Head": {"Base": "https://other.test/"}, "Links": [{"path": "A@/href", "url": "/a"}]}
    rows = _rows(_capture(headers=[("Link", header)], wat=wat))[1]
    assert [row[LINK_FIELDS.index("url_to")] for row in rows] == extracted
    assert [row[LINK_FIELDS.index("link_type")] for row in rows] == (
        ["canonical"] * (len(extracted) - 1) + ["href"])
    resolved = [link.url_to for link in parse_html(b"", URL, link_header=header).links]
    assert list_links(b"", URL, link_header=header) == resolved
    assert len(resolved) == len([target for target in written if not target.startswith("mail")])
    # a nofollow page: extraction marks them nofollow, the crawler follows none
    assert list_links(page, URL, link_header=header, robots_header="nofollow") == []
    assert all(link.nofollow for link in parse_html(page, URL, link_header=header,
                                                    robots_header="nofollow").links)


# --- rel nofollow ---------------------------------------------------------------------------

@pytest.mark.parametrize(("rel", "nofollow"), [
    ("nofollow", True), ("UGC", True), ("noopener Sponsored", True), ("external\tnofollow", True),
    ("noopener", False), ("nofollowed", False), ("no-follow", False), ("", False),
])
def test_rel_nofollow(rel: str, nofollow: bool) -> None:
    assert rel_nofollow(rel_tokens(rel)) is nofollow
    assert parse_html(f'<a href="/a" rel="{rel}">a</a>'.encode(), URL).links[0].nofollow is (
        nofollow)
    html = {"Links": [{"path": "A@/href", "url": "/a", "rel": rel}]}
    assert [link[NOFOLLOW] for link in _rows(_capture(wat=html))[1]] == [nofollow]


def test_rel_tokens() -> None:
    assert rel_tokens(None) == []
    assert rel_tokens("") == []
    assert rel_tokens(" Alternate\n STYLESHEET ") == ["alternate", "stylesheet"]


# --- is this HTML ---------------------------------------------------------------------------

SNIFFS = [
    ("", b"<head><title>t</title></head>", True),  # was: crawl said no
    ("", b"<title>t</title>", True),  # was: crawl said no
    ("", b"<body><p>x", True),  # was: crawl said no
    ("", b"some text <a href=/x>x</a>", False),  # was: crawl said yes ("<a " anywhere)
    ("", b"<a href=/x>x</a>", True),
    ("", b"\n\t <!DOCTYPE HTML><p>", True),
    ("", b"<html\n lang=en>", True),
    ("", b"<HTML>", True),
    ("", b"<!-- c --><p>x", True),
    ("", b"<p>", True),
    ("", b"<div class=x>", True),
    ("", b"<htmlx>", False),
    ("", b"<html", False),  # (no tag end: was yes in both)
    ("", b"<abbr>", False),
    ("", b"<?xml version='1.0'?><html>", False),
    ("", b"\xef\xbb\xbf<html>", False),
    ("", b"\x0b<html>", False),  # (a vertical tab is no whitespace to WHATWG)
    ("", b"%PDF-1.4", False),
    ("", b"", False),
    ("*/*", b"<html>", True),  # was: both said no (no type given)
    ("unknown/unknown", b"<html>", True),
    ("application/unknown", b"<html>", True),
    ("text/html", b"%PDF", True),
    ("TEXT/HTML ; charset=utf-8", b"", True),
    ("text/html; charset=utf-8; q=1", b"", True),
    ("application/xhtml+xml", b"", True),
    ("text/html, text/html", b"", True),  # was: extraction said no (headers joined)
    ("text/html, text/plain, image/png", b"", True),
    ("text/plain", b"<html>", False),
    ("application/octet-stream", b"<html>", False),
    ("image/png", b"<!doctype html>", False),
    ("html", b"<html>", False),
]


# (ids as text: pytest keeps bytes parameters' ids as bytes when tools/mutate.py turns its
# id escaping off, and fails to collect)
@pytest.mark.parametrize(("content_type", "head", "html"), SNIFFS,
                         ids=[f"{ctype}-{head!r}" for ctype, head, _ in SNIFFS])
def test_is_html_in_the_rule_crawl_and_extraction(content_type: str, head: bytes, html: bool
                                                  ) -> None:
    assert is_html(content_type, head) is html
    assert crawl_is_html(content_type, head) is html
    headers = [("Content-Type", content_type)] if content_type else []
    visit, _ = _rows(_capture(head, headers))
    assert (visit["kind"] == "page") is html


def test_is_html_without_a_type() -> None:
    assert is_html(None, b"<html>") is True
    assert is_html(None, b"text") is False

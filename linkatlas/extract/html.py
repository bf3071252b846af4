"""Facts of one HTML page: title, language, robots nofollow, visible text and every link.

Links follow spec/COLUMNS.md ("Link types"), by the rules the crawler applies too
(rules/links.py: types, rel and robots nofollow): `href` (<a href>, <area href>), `frame`
(<iframe src>, <frame src>), `form` (<form action>), `canonical` (<link rel=canonical>, HTTP
`Link` header), `rss` and `alternate` (<link rel=alternate>). Every target goes through
`urls.normalize`, against the first `<base href>` when there is one; a target it rejects (other
schemes, bad hosts) is no link.

One parse (lexbor, through selectolax) and one CSS query that returns, in document order, every
element the page's facts come from: link elements, images inside links, meta, base, title, and
the elements whose contents are not text (script, style, noscript, template, iframe, noembed,
noframes). Snippets without a Python walk over the DOM (a Python-level visit costs ~1 µs per
node): a marker text node goes before every link element (STX number ETX) and after the last
child of every <a> (EOT number ETX); the non-text contents are then removed and one C-level
pass joins every text node of the body. The
text before a link's start marker is its `text_pre`, the text between its start and end markers
its anchor, the text after its end marker its `text_post`. Text nodes are joined with a space,
so words never run together across block elements (`<li>Home</li><li>About</li>`), at the price
of a space where an inline element splits a word. Markers are ASCII control characters, which
keep an ASCII page a one-byte-per-character string; these characters already in the page, and
character references to them, are dropped first, with every other C0 control (no text holds
them, and XML output cannot).

The parser reads UTF-8 bytes: a UTF-8 page goes to it as archived (no decoding and encoding
again), any other as its decoded text encoded to UTF-8.

Bounds: a page is cut after `MAX_HTML_BYTES` bytes and has at most `MAX_LINKS` links;
anchors and alts are capped at `MAX_ANCHOR` characters, text snippets at 100, `text` at
`MAX_TEXT`. `parse_html` never raises: a page the parser cannot take yields empty facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..rules.links import (
    ELEMENT_TYPES,
    TARGET_ATTRIBUTES,
    addresses_us,
    header_canonicals,
    link_types,
    rel_nofollow,
    rel_tokens,
    robots_nofollow,
)
from ..urls import normalize
from .resolve import Base, base_parts, resolve

__all__ = [
    "MAX_ANCHOR",
    "MAX_HTML_BYTES",
    "MAX_LINKS",
    "MAX_TEXT",
    "HtmlFacts",
    "Link",
    "canonical_targets",
    "parse_html",
]

MAX_HTML_BYTES = 8_000_000  # ~2 s at most; the rest of a bigger page is ignored
MAX_LINKS = 100_000
MAX_ANCHOR = 1_000
MAX_SNIPPET = 100  # spec/COLUMNS.md: text_pre / text_post
MAX_TEXT = 20_000
_MAX_WORD_CUT = 30  # a longer partial "word" is spaceless script (CJK, Thai): cut hard instead

_START = "\x02"  # STX <number> ETX before a link element
_STOP = "\x03"
_END = "\x04"  # EOT <number> ETX after the last child of an <a>
# C0 controls but tab, newlines and form feed, and DEL: no text holds them (and XML cannot),
# and STX, ETX and EOT would forge markers. Deleted from the UTF-8 bytes (no multi-byte
# sequence holds a byte below 0x80), and so are character references to them (`&#1;`,
# `&#x04`), which the parser would turn into the characters.
_CONTROLS = bytes([*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_CONTROL_REFERENCES = re.compile(
    rb"&#(?:0*(?:[1-8]|11|1[4-9]|2[0-9]|3[01]|127)(?![0-9])"
    rb"|[xX]0*(?:[1-8bBeEfF]|1[0-9a-fA-F]|7[fF])(?![0-9a-fA-F]));?")
_DIGITS = "0123456789"
# Every element the facts come from, in document order (one tree walk). The selectors must not
# overlap: an element that matches two is returned twice. (Every <iframe>: its content is no
# text, see _NOT_TEXT; one without src is no link.)
_SELECTOR = ("a[href], area[href], iframe, frame[src], form[action], link[href][rel], "
             "a[href] img[alt], meta[name][content], base[href], title, "
             "script, style, noscript, template, noembed, noframes")
# Elements whose content is not visible text: code, and fallback markup that a browser does
# not show (<iframe> content is unparsed text, shown only where frames are not supported).
_NOT_TEXT = frozenset(("script", "style", "noscript", "template", "noembed", "noframes"))
_FOREIGN = frozenset(("svg", "math"))  # a <title> inside these is no page title


class Link(NamedTuple):
    """One link occurrence on a page, as COLUMNS.md describes the backlink columns."""

    url_to: str
    link_type: str
    anchor: str
    alt: str
    nofollow: bool
    text_pre: str
    text_post: str


@dataclass(slots=True)
class HtmlFacts:
    """What one page says about itself and where it links, links in document order."""

    title: str = ""
    links: list[Link] = field(default_factory=list)
    nofollow_page: bool = False
    declared_language: str = ""
    text: str = ""


def _clean(text: str) -> str:
    """Whitespace collapsed (attribute values, titles)."""
    return " ".join(text.split())


def canonical_targets(link_header: str, url: str) -> list[str]:
    """Targets of `rel=canonical` in an HTTP Link header, resolved against the page URL (a
    `<base>` does not apply to headers) and normalized; HTML pages and WAT records alike."""
    resolved = (normalize(target, url) for target in header_canonicals(link_header))
    return [target for target in resolved if target is not None]


def _unmark(text: str, count: int) -> tuple[str, list[int], list[int]]:
    """The text, whitespace collapsed, without markers; and for marker number 0 … count - 1
    where its link starts in that text and where its anchor ends (-1: not in the text).

    Every marker ends with ETX, so splitting there leaves pieces that end with STX or EOT and
    a number (C-level string operations: a regex scan is 3× slower on non-ASCII text). Each
    marker is a text node of its own, so it goes with the joining space before it.
    """
    pieces = " ".join(text.split()).split(_STOP)
    starts = [-1] * count
    ends = [-1] * count
    chunks: list[str] = []
    pos = 0
    for piece in pieces[:-1]:
        head = piece.rstrip(_DIGITS)
        kind = head[-1:]
        if len(head) == len(piece) or kind not in (_START, _END):  # (cannot happen: dropped)
            chunks.append(piece)
            pos += len(piece)
            continue
        chunk = head[:-2] if head[-2:-1] == " " else head[:-1]
        chunks.append(chunk)
        pos += len(chunk)
        number = int(piece[len(head):])
        if number < count:
            (starts if kind == _START else ends)[number] = pos
    chunks.append(pieces[-1])
    return "".join(chunks), starts, ends


def _before(text: str, pos: int) -> str:
    """Up to MAX_SNIPPET characters of (collapsed) text before pos, not starting mid-word."""
    if text[pos - 1:pos] == " ":  # the space that joined text nodes is no character
        pos -= 1
    if pos <= MAX_SNIPPET:
        return text[:pos].strip()
    cut = text[pos - MAX_SNIPPET:pos]
    if cut[0] != " " and text[pos - MAX_SNIPPET - 1] != " ":
        space = cut.find(" ")
        if 0 <= space <= _MAX_WORD_CUT:
            cut = cut[space + 1:]
    return cut.strip()


def _after(text: str, pos: int) -> str:
    """Up to MAX_SNIPPET characters of (collapsed) text from pos on, not ending mid-word."""
    if text[pos:pos + 1] == " ":
        pos += 1
    end = pos + MAX_SNIPPET
    cut = text[pos:end]
    if end < len(text) and text[end] != " " and cut[-1] != " ":
        space = cut.rfind(" ")
        if space >= MAX_SNIPPET - _MAX_WORD_CUT:
            cut = cut[:space]
    return cut.strip()




def _enclosing_link(node: LexborNode) -> LexborNode | None:
    parent = node.parent
    while parent is not None and parent.tag != "a":
        parent = parent.parent
    return parent


def _is_page_title(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in _FOREIGN:
            return False
        parent = parent.parent
    return True


@dataclass(slots=True)
class _Page:
    """What the one query found, sorted by role; link elements keep their marker numbers."""

    links: list[tuple[int, str, dict[str, str | None]]] = field(default_factory=list)
    alts: dict[int, str] = field(default_factory=dict)  # marker number → first image alt
    title: str | None = None
    base: str | None = None
    robots: list[str] = field(default_factory=list)


def _survey(tree: LexborHTMLParser) -> _Page:
    """Read every element of the query once, mark the link elements, remove non-text ones.

    Hot loop (every element of every page): each node's attributes are read once.
    """
    page = _Page()
    links = page.links
    numbers: dict[int, int] = {}  # node identity of an <a> → its marker number
    removed: list[LexborNode] = []
    for node in tree.css(_SELECTOR):
        tag = node.tag
        if tag in TARGET_ATTRIBUTES:  # link elements first: most nodes are
            number = len(links)
            if number >= MAX_LINKS:
                continue
            links.append((number, tag, node.attributes))
            if tag != "link":
                node.insert_before(f"{_START}{number}{_STOP}")
                if tag == "a":
                    numbers[node.mem_id] = number
                    node.insert_child(f"{_END}{number}{_STOP}")
                elif tag == "iframe":  # its marker stands before it, outside
                    removed.append(node)
        elif tag in _NOT_TEXT:
            removed.append(node)
        elif tag == "img":
            link = _enclosing_link(node)
            number = numbers.get(link.mem_id, -1) if link is not None else -1
            if number >= 0 and number not in page.alts:
                alt = _clean(node.attributes.get("alt") or "")[:MAX_ANCHOR]
                if alt:
                    page.alts[number] = alt
        elif tag == "meta":
            attributes = node.attributes
            if addresses_us(attributes.get("name")):
                page.robots.append(attributes.get("content") or "")
        elif tag == "base":
            if page.base is None:
                page.base = node.attributes.get("href") or ""
        elif tag == "title" and page.title is None and _is_page_title(node):
            page.title = node.text()
    # Last first: a <script> inside a <noscript> goes before the <noscript> that holds it.
    for node in reversed(removed):
        node.decompose()
    return page


def _page_nofollow(page: _Page, robots_header: str) -> bool:
    """Meta robots (rules/links.py: name `robots` or ours) or X-Robots-Tag say nofollow."""
    return bool(robots_header and robots_nofollow(robots_header)) or any(
        robots_nofollow(content) for content in page.robots)


def _base_url(page: _Page, url: str) -> str:
    """The first <base href>, resolved against the page URL; the page URL if none is usable."""
    if page.base is None:
        return url
    resolved = normalize(page.base, url)
    return url if resolved is None else resolved


def _links(page: _Page, base: Base, text: str, starts: list[int], ends: list[int],
           page_nofollow: bool, links: list[Link]) -> None:
    """Append the links of the page's elements, in document order.

    Hot loop (every link of every page).
    """
    resolved: dict[str, str | None] = {}  # raw target → normalized; pages repeat targets
    for number, tag, attributes in page.links:
        raw = attributes.get(TARGET_ATTRIBUTES[tag])
        if raw is None:
            continue
        target = resolved.get(raw, "")
        if target == "":
            target = resolved[raw] = resolve(raw, base)
        if target is None:
            continue
        tokens = rel_tokens(attributes.get("rel"))
        nofollow = page_nofollow or rel_nofollow(tokens)
        if tag == "link":
            for link_type in link_types(tokens, attributes.get("type")):
                links.append(Link(target, link_type, "", "", nofollow, "", ""))
            continue
        start, end = starts[number], ends[number]
        anchor = alt = pre = post = ""
        if tag == "a":
            if end >= 0:
                anchor = text[start:end].strip()[:MAX_ANCHOR]
            alt = page.alts.get(number, "")
        elif tag == "area":
            alt = _clean(attributes.get("alt") or "")[:MAX_ANCHOR]
        if start >= 0:
            pre = _before(text, start)
            post = _after(text, end if end >= 0 else start)
        links.append(Link(target, ELEMENT_TYPES[tag], anchor, alt, nofollow, pre, post))


def _extract(html: bytes, url: str, link_header: str, robots_header: str) -> HtmlFacts:
    if len(html) > MAX_HTML_BYTES:
        html = html[:MAX_HTML_BYTES]
    html = html.translate(None, _CONTROLS)
    if b"&#" in html and _CONTROL_REFERENCES.search(html):
        html = _CONTROL_REFERENCES.sub(b"", html)
    tree = LexborHTMLParser(html)
    page = _survey(tree)
    body = tree.body or tree.root
    text, starts, ends = _unmark(body.text(separator=" ", skip_empty=True)
                                 if body is not None else "", len(page.links))
    root = tree.root
    facts = HtmlFacts(
        title=_clean(page.title or ""),
        nofollow_page=_page_nofollow(page, robots_header),
        declared_language=(root.attributes.get("lang") or "").strip() if root is not None else "",
        text=text.strip()[:MAX_TEXT],
    )
    if link_header:
        for target in canonical_targets(link_header, url):
            facts.links.append(Link(target, "canonical", "", "", facts.nofollow_page, "", ""))
    _links(page, base_parts(_base_url(page, url)), text, starts, ends, facts.nofollow_page,
           facts.links)
    return facts


def parse_html(html: str | bytes, url: str, *, link_header: str = "", robots_header: str = ""
               ) -> HtmlFacts:
    """Title, links, robots nofollow, declared language and visible text of one page.

    html is the page's text, or its UTF-8 bytes (invalid sequences read as U+FFFD). url is the
    normalized page URL. link_header holds the raw HTTP Link header value(s) joined
    by ", " (its rel=canonical targets become canonical links, first in the list), robots_header
    the X-Robots-Tag value(s) joined likewise. Never raises.
    """
    try:
        if isinstance(html, str):  # (lone surrogates, e.g. from a surrogateescape decode: "?")
            html = html.encode("utf-8", "replace")
        return _extract(html, url, link_header, robots_header)
    except Exception:  # noqa: BLE001 - contract: any page yields facts, never an error
        return HtmlFacts()

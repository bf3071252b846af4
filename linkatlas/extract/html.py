"""Facts of one HTML page: title, language, robots nofollow, visible text and every link.

Links follow spec/COLUMNS.md ("Link types"): `href` (<a href>, <area href>), `frame` (<iframe src>,
<frame src>), `form` (<form action>), `canonical` (<link rel=canonical>, HTTP `Link` header),
`rss` and `alternate` (<link rel=alternate>). Every target goes through `urls.normalize`, against
the first `<base href>` when there is one; a target it rejects (other schemes, bad hosts) is no
link.

Snippets without a Python walk over the DOM (a Python-level visit costs ~2 µs per node, a
2,400-node page 5 ms): before parsing, a private-use marker character is put in front of every
`<a`, `<area`, `<iframe`, `<frame` and `<form` tag, and the tag gets an attribute holding the
marker's number; one more marker goes before every `</a`. One C-level text extraction
(resiliparse `extract_plain_text`) then carries the markers, so the text before a link's start
marker is its `text_pre`, the text between its start and end markers its anchor, and the text
after its end marker its `text_post`. Markers are ASCII control characters (STX number ETX for
a start, EOT for an end), which the parser keeps as text and which keep an ASCII page a
one-byte-per-character string (a non-ASCII marker would double or quadruple the cost of every
later pass); these characters already in the page are dropped first.

Bounds: a page is cut after `MAX_HTML_CHARS` characters and before its (`MAX_LINKS` + 1)-th link
tag, so at most `MAX_LINKS` links; anchors and alts are capped at `MAX_ANCHOR` characters, text
snippets at 100, `text` at `MAX_TEXT`. `parse_html` never raises: a page the parser cannot take
yields empty facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from ..urls import normalize

__all__ = [
    "MAX_ANCHOR",
    "MAX_HTML_CHARS",
    "MAX_LINKS",
    "MAX_TEXT",
    "HtmlFacts",
    "Link",
    "parse_html",
    "robots_nofollow",
]

MAX_HTML_CHARS = 8_000_000  # ~2 s at most; the rest of a bigger page is ignored
MAX_LINKS = 100_000
MAX_ANCHOR = 1_000
MAX_SNIPPET = 100  # spec/COLUMNS.md: text_pre / text_post
MAX_TEXT = 20_000
_MAX_WORD_CUT = 30  # a longer partial "word" is spaceless script (CJK, Thai): cut hard instead

_START = "\x02"  # STX <number> ETX before a link tag
_STOP = "\x03"
_END = "\x04"  # EOT before </a
_CONTROLS = re.compile("[\x02-\x04]")
_MARKS = re.compile("\x02([0-9]+)\x03|\x04")
_ATTR = "data-linkatlas-mark"
# A marked tag where the page holds markup as text (<title>, <xmp>, attribute values): undone.
_MARKED_TAG = re.compile("\x02[0-9]+\x03<([A-Za-z]+) " + _ATTR + "=[0-9]+(?: (?=/))?")
# Tag names followed by what ends a tag name in the HTML tokenizer (WHATWG 13.2.5.8).
_TAGS = re.compile(r"<(/?)(a|area|iframe|frame|form|link)(?=[\s/>])", re.IGNORECASE)
_SELECTOR = "a[href], area[href], iframe[src], frame[src], form[action], link[href][rel]"
_NO_SPAN = (-1, -1)
_RESOLVED: dict[tuple[str, str], str | None] = {}  # see _resolve
_RESOLVED_MAX = 200_000
_NOFOLLOW_RELS = frozenset(("nofollow", "ugc", "sponsored"))
_FEED_TYPES = frozenset(("application/rss+xml", "application/atom+xml"))
_SRC_TYPES = {"a": "href", "area": "href", "iframe": "frame", "frame": "frame", "form": "form"}
_TARGET_ATTR = {"a": "href", "area": "href", "iframe": "src", "frame": "src", "form": "action",
                "link": "href"}
# Robots directives that carry a value after a colon, so the colon names no user agent.
_VALUED_DIRECTIVES = frozenset(("max-snippet", "max-image-preview", "max-video-preview",
                                "unavailable_after"))
# RFC 8288 §3: `<target>` followed by `; param=value` pairs, values possibly quoted.
_LINK_VALUE = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,=\s]+(?:\s*=\s*(?:"[^"]*"|[^;,\s]*))?)*)')
_LINK_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))', re.IGNORECASE)


@dataclass(slots=True)
class Link:
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


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _clean(text: str) -> str:
    """Whitespace collapsed, markers removed (attribute values and titles may hold some)."""
    if _START in text or _END in text:
        text = _MARKS.sub("", _unmark_tags(text))
    return " ".join(text.split())


def _unmark_tags(text: str) -> str:
    """Text with the marked tags it shows as text (`<title>a <a> b</title>`) as they were."""
    return _MARKED_TAG.sub(r"<\1", text) if _ATTR in text else text


def robots_nofollow(value: str) -> bool:
    """Whether a robots directive list (meta robots content, X-Robots-Tag) says nofollow/none.

    Directives scoped to a user agent (`googlebot: nofollow`) address other crawlers and are
    ignored; a scope lasts until the next one, so in `googlebot: noindex, nofollow` both belong
    to googlebot (Google's reading of a comma list after an agent name).
    """
    scoped = False
    for token in value.split(","):
        name, colon, rest = token.partition(":")
        if colon and name.strip().lower() not in _VALUED_DIRECTIVES:
            scoped = True
            token = rest
        if scoped:
            continue
        for word in token.lower().split():
            if word in ("nofollow", "none"):
                return True
    return False


def _header_canonicals(link_header: str, url: str) -> list[str]:
    """Targets of `rel=canonical` in an HTTP Link header, resolved against the page URL."""
    found = []
    for match in _LINK_VALUE.finditer(link_header):
        for rel in _LINK_REL.finditer(match.group(2)):
            tokens = (rel.group(1) if rel.group(1) is not None else rel.group(2)).lower().split()
            if "canonical" in tokens:
                target = normalize(match.group(1), url)
                if target is not None:
                    found.append(target)
                break
    return found


def _mark(html: str) -> str:
    """The page with numbered markers before link tags and an end marker before each `</a`.

    The page is cut before its (MAX_LINKS + 1)-th link tag: that bounds the elements the DOM
    query returns (a page of a million `<a>` tags would otherwise take minutes).
    """
    parts = _TAGS.split(html, maxsplit=3 * MAX_LINKS)  # chunk, "/" or "", tag name, chunk, …
    out = [parts[0]]
    number = 0
    for i in range(1, len(parts), 3):
        name = parts[i + 1]
        if parts[i]:
            out.append(_END + "</a" if len(name) == 1 else "</" + name)
        elif number >= MAX_LINKS:
            break
        elif len(name) == 4 and name.lower() == "link":
            out.append("<" + name)
            number += 1
        else:
            # An unquoted value ends at whitespace or ">"; "/" would join it, so a space then.
            space = " " if parts[i + 2].startswith("/") else ""
            out.append(f"{_START}{number}{_STOP}<{name} {_ATTR}={number}{space}")
            number += 1
        out.append(parts[i + 2])
    return "".join(out)


def _unmark(text: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """The text, whitespace collapsed, without markers; and marker number → (where its link
    starts in that text, where its `</a` is or -1)."""
    parts = _MARKS.split(" ".join(_unmark_tags(text).split()))  # chunk, number or None, chunk, …
    chunks = [parts[0]]
    pos = len(parts[0])
    space = parts[0].endswith(" ")
    spans: dict[str, tuple[int, int]] = {}
    last = ""
    for i in range(1, len(parts), 2):
        number = parts[i]
        if number is None:
            if last:
                spans[last] = (spans[last][0], pos)
                last = ""
        else:
            last = number
            spans[last] = (pos, -1)
        chunk = parts[i + 1]
        if space and chunk.startswith(" "):  # the marker stood between two spaces
            chunk = chunk[1:]
        if chunk:
            chunks.append(chunk)
            pos += len(chunk)
            space = chunk[-1] == " "
    return "".join(chunks), spans


def _before(text: str, pos: int) -> str:
    """Up to MAX_SNIPPET characters of (collapsed) text before pos, not starting mid-word."""
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
    end = pos + MAX_SNIPPET
    cut = text[pos:end]
    if end < len(text) and text[end] != " " and cut[-1] != " ":
        space = cut.rfind(" ")
        if space >= MAX_SNIPPET - _MAX_WORD_CUT:
            cut = cut[:space]
    return cut.strip()


def _link_types(rel_tokens: list[str], link_type: str | None) -> list[str]:
    """Link types of a <link> element from its rel tokens and type attribute.

    `alternate stylesheet` is an alternative style sheet, not an alternate version of the page,
    so it is no link.
    """
    types = []
    if "canonical" in rel_tokens:
        types.append("canonical")
    if "alternate" in rel_tokens and "stylesheet" not in rel_tokens:
        mime = (link_type or "").split(";", 1)[0].strip().lower()
        types.append("rss" if mime in _FEED_TYPES else "alternate")
    return types


def _page_nofollow(tree: HTMLTree, robots_header: str) -> bool:
    """Meta robots (name="robots" only: googlebot etc. address other crawlers) or X-Robots-Tag."""
    if robots_header and robots_nofollow(robots_header):
        return True
    for meta in tree.document.query_selector_all("meta[name][content]").values():
        if meta.getattr("name", "").strip().lower() == "robots" and robots_nofollow(
            meta.getattr("content", "")
        ):
            return True
    return False


def _base_url(tree: HTMLTree, url: str) -> str:
    """The first <base href>, resolved against the page URL; the page URL if none is usable."""
    base = tree.document.query_selector("base[href]")
    if base is None:
        return url
    resolved = normalize(base.getattr("href", ""), url)
    return url if resolved is None else resolved


def _resolution_context(raw: str, base: str) -> str:
    """The part of base that `normalize(raw, base)` depends on (RFC 3986 §5.2.2).

    An absolute http(s) URL with a host depends only on whether the base has its scheme, a
    network-path reference (`//host/…`) on the base's scheme, an absolute-path reference
    (`/path`) on its scheme and authority; anything else on the whole base. Tabs, newlines and
    backslashes, which normalize removes or turns into slashes first, could change the kind, so
    such targets get the whole base.
    """
    if "\t" in raw or "\n" in raw or "\r" in raw or "\\" in raw:
        return base
    if raw.startswith("/"):
        if raw[1:2] != "/":
            return base[:base.find("/", base.find("//") + 2)]
        return base[:base.find(":")] if raw[2:3] not in ("", "/", "?", "#") else base
    if raw.startswith(("http://", "https://")):
        host_at = raw.find("//") + 2
        if raw[host_at:host_at + 1] not in ("", "/", "?", "#"):
            return base[:base.find(":")]
    return base


def _resolve(raw: str, base: str) -> str | None:
    """normalize(raw, base), remembered across pages: sites repeat their navigation links."""
    key = (_resolution_context(raw, base), raw)
    target = _RESOLVED.get(key, "")
    if target == "":
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        target = _RESOLVED[key] = normalize(raw, base)
    return target


def _image_alts(tree: HTMLTree) -> dict[str, str]:
    """Marker number of a link → alt text of the first image with a non-empty alt inside it."""
    alts: dict[str, str] = {}
    for img in tree.document.query_selector_all("a[href] img[alt]").values():
        link = img.closest("a[href]")
        mark = link.getattr(_ATTR) if link is not None else None
        if mark is None or mark in alts:
            continue
        alt = _clean(img.getattr("alt", ""))[:MAX_ANCHOR]
        if alt:
            alts[mark] = alt
    return alts


def _parse(html: str) -> HTMLTree:
    try:
        return HTMLTree.parse(html)
    except UnicodeEncodeError:  # lone surrogates, e.g. from a surrogateescape decode
        return HTMLTree.parse(html.encode("utf-8", "replace").decode("utf-8"))


def _links(tree: HTMLTree, base: str, text: str, spans: dict[str, tuple[int, int]],
           page_nofollow: bool, links: list[Link]) -> None:
    """Append the links of the document's elements, in document order, up to MAX_LINKS.

    Hot loop (every link of every page): attribute reads are the cost, so each is read once.
    """
    elements = tree.document.query_selector_all(_SELECTOR).values()
    alts = _image_alts(tree)  # after the query: closest() then finds the <a> objects made
    resolved: dict[str, str | None] = {}  # raw target → normalized; pages repeat targets
    seen: set[str] = set()
    for element in elements:
        if len(links) >= MAX_LINKS:
            return
        tag = element.tag
        raw = element.getattr(_TARGET_ATTR[tag])
        if raw is None:
            continue
        target = resolved.get(raw, "")
        if target == "":
            target = resolved[raw] = _resolve(raw, base)
        if target is None:
            continue
        rel = element.getattr("rel")
        if rel:
            rel_tokens = rel.lower().split()
            nofollow = page_nofollow or not _NOFOLLOW_RELS.isdisjoint(rel_tokens)
        else:
            rel_tokens = []
            nofollow = page_nofollow
        if tag == "link":
            for link_type in _link_types(rel_tokens, element.getattr("type")):
                links.append(Link(target, link_type, "", "", nofollow, "", ""))
            continue
        mark = element.getattr(_ATTR)
        if mark is None or mark in seen:  # the parser's copy of an unclosed <a> (adoption)
            start, end = _NO_SPAN
        else:
            seen.add(mark)
            start, end = spans.get(mark, _NO_SPAN)
        anchor = alt = pre = post = ""
        if tag == "a":
            if end >= 0:
                anchor = text[start:end].strip()[:MAX_ANCHOR]
            else:  # no end marker seen (`</a>` left out, or hidden from the text)
                anchor = _clean((element.text or "")[:4 * MAX_ANCHOR])[:MAX_ANCHOR]
            if start >= 0:
                alt = alts.get(mark, "")
        elif tag == "area":
            alt = _clean(element.getattr("alt") or "")[:MAX_ANCHOR]
        if start >= 0:
            pre = _before(text, start)
            post = _after(text, end if end >= 0 else start)
        links.append(Link(target, _SRC_TYPES[tag], anchor, alt, nofollow, pre, post))


def _extract(html: str, url: str, link_header: str, robots_header: str) -> HtmlFacts:
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
    if "\x02" in html or "\x03" in html or "\x04" in html:
        html = _CONTROLS.sub("", html)
    tree = _parse(_mark(html))
    text, spans = _unmark(extract_plain_text(tree, preserve_formatting=False, list_bullets=False,
                                             alt_texts=False))
    root = tree.document.document_element
    facts = HtmlFacts(
        title=_clean(tree.title or ""),
        nofollow_page=_page_nofollow(tree, robots_header),
        declared_language=(root.getattr("lang") or "").strip() if root is not None else "",
        text=text[:MAX_TEXT],
    )
    if link_header:
        for target in _header_canonicals(link_header, url):
            facts.links.append(Link(target, "canonical", "", "", facts.nofollow_page, "", ""))
    _links(tree, _base_url(tree, url), text, spans, facts.nofollow_page, facts.links)
    return facts


def parse_html(html: str, url: str, *, link_header: str = "", robots_header: str = "") -> HtmlFacts:
    """Title, links, robots nofollow, declared language and visible text of one page.

    url is the normalized page URL. link_header holds the raw HTTP Link header value(s) joined
    by ", " (its rel=canonical targets become canonical links, first in the list), robots_header
    the X-Robots-Tag value(s) joined likewise. Never raises.
    """
    try:
        return _extract(html, url, link_header, robots_header)
    except Exception:  # noqa: BLE001 - contract: any page yields facts, never an error
        return HtmlFacts()

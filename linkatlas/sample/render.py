"""Resource → response headers and body bytes: HTML in the site's charset, feeds, robots.txt, PNG.

The charset is announced where the site says (Content-Type header, `<meta charset>`,
`<meta http-equiv>`, or nowhere, leaving detection to the reader). Text comes from phrases.py,
drawn by the page's generator (seeded by seed, host and path), so equal requests give equal
bytes.
"""

from __future__ import annotations

import random
from functools import lru_cache
from html import escape as _escape
from typing import TYPE_CHECKING

from .builder import Link, Plan
from .links import plan as plan_page
from .phrases import LANGUAGES, Language
from .routes import Resource

if TYPE_CHECKING:
    from .sites import Site
    from .web import Web

__all__ = ["PNG", "render"]

# A valid 1×1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")

Headers = list[tuple[str, str]]
# Phrases, anchors and URLs repeat across pages; caching their escaped form halves render time.
escape = lru_cache(maxsize=65536)(_escape)


def render(web: Web, res: Resource, port: int) -> tuple[Headers, bytes]:
    """Headers (without framing ones) and body of a resolved resource."""
    headers: Headers = list(res.headers)
    site = web.site(res.host)
    if res.kind == "redirect":
        return [("Location", res.location), *headers], b""
    if res.kind == "head-lie" or site is None:
        return headers, b""
    if res.kind == "robots":
        text = web.robots(res.host)
        if text is not None:
            return [("Content-Type", "text/plain; charset=utf-8")], text.encode("utf-8")
    if res.kind == "image":
        return [("Content-Type", "image/png"), *headers], PNG
    if res.kind in ("rss", "atom"):
        return _feed(site, res.kind, port)
    return _page(web, site, res, port, headers)


def _page(web: Web, site: Site, res: Resource, port: int, headers: Headers,
          ) -> tuple[Headers, bytes]:
    page = plan_page(web, res, port)
    encoding = "utf-8" if res.kind == "translation" else site.encoding
    declare = "meta" if res.kind == "translation" else site.declare
    content_type = "text/html"
    if declare == "header":
        content_type += f"; charset={encoding}"
    headers.append(("Content-Type", content_type))
    if page.robots == "header":
        headers.append(("X-Robots-Tag", "nofollow"))
    for link in page.links:
        if link.element == "canonical-header":
            headers.append(("Link", f'<{link.written}>; rel="canonical"'))
    html = _html(page, encoding, declare, LANGUAGES[page.lang], page.rng)
    return headers, html.encode(encoding, "xmlcharrefreplace")


def _head(page: Plan, encoding: str, declare: str) -> list[str]:
    lines = ["<head>"]
    if declare == "meta":
        lines.append(f'<meta charset="{encoding}">')
    elif declare == "http-equiv":
        lines.append(f'<meta http-equiv="Content-Type" content="text/html; charset={encoding}">')
    lines.append(f"<title>{escape(page.title)}</title>")
    if page.robots == "meta":
        lines.append('<meta name="robots" content="nofollow">')
    if page.base:
        lines.append(f'<base href="{escape(page.base)}">')
    for link in page.links:
        if link.place != "head":
            continue
        href = escape(link.written)
        if link.element == "canonical":
            lines.append(f'<link rel="canonical" href="{href}">')
        elif link.element in ("rss", "atom"):
            lines.append(f'<link rel="alternate" type="{link.extra}" title="{link.element}" '
                         f'href="{href}">')
        elif link.element == "hreflang":
            lines.append(f'<link rel="alternate" hreflang="{link.extra}" href="{href}">')
        else:
            lines.append(f'<link rel="alternate" media="{escape(link.extra)}" href="{href}">')
    lines.append("</head>")
    return lines


def _anchor(link: Link) -> str:
    rel = f' rel="{escape(link.rel)}"' if link.rel else ""
    href = escape(link.written)
    if link.element == "img":
        return (f'<a href="{href}"{rel}><img src="{escape(link.extra)}" '
                f'alt="{escape(link.alt)}" width="120" height="80"></a>')
    if link.element == "iframe":
        return f'<iframe src="{href}" width="480" height="270"></iframe>'
    return f'<a href="{href}"{rel}>{escape(link.anchor)}</a>'


def _html(page: Plan, encoding: str, declare: str, lang: Language, rng: random.Random) -> str:
    say = lang.sentences
    direction = f' dir="{lang.direction}"' if lang.direction != "ltr" else ""
    out = ["<!DOCTYPE html>", f'<html lang="{page.lang}"{direction}>',
           *_head(page, encoding, declare)]
    by_place: dict[str, list[Link]] = {}
    for link in page.links:
        by_place.setdefault(link.place, []).append(link)
    if page.layout == "frameset":
        frames = "".join(f'<frame src="{escape(f.written)}">' for f in by_place["end"])
        out += ['<frameset cols="25%,50%,25%">', frames,
                f"<noframes><p>{escape(rng.choice(say))}</p></noframes>", "</frameset>",
                "</html>"]
        return "\n".join(out) + "\n"
    out.append("<body>")
    if "nav" in by_place:
        out.append("<nav>" + " | ".join(_anchor(x) for x in by_place["nav"]) + "</nav>")
    out += [f"<h1>{escape(page.title)}</h1>",
            "<p>" + " ".join(escape(x) for x in rng.sample(say, 2)) + "</p>"]
    body = by_place.get("body", [])
    for i in range(0, len(body), 2):
        # Distinct sentences around the anchors, so text_pre/text_post differ (COLUMNS.md).
        sentences = iter(rng.sample(say, 3))
        parts = [escape(next(sentences))]
        for link in body[i:i + 2]:
            parts += [_anchor(link), escape(next(sentences))]
        out.append("<p>" + " ".join(parts) + "</p>")
    if "map" in by_place:
        out.append('<p><img src="/img/1.png" usemap="#city" alt="" width="300" height="200">'
                   '</p>\n<map name="city">')
        for i, area in enumerate(by_place["map"]):
            out.append(f'<area shape="rect" coords="{i * 100},0,{i * 100 + 99},199" '
                       f'href="{escape(area.written)}" alt="{escape(area.alt)}">')
        out.append("</map>")
    if "network" in by_place:
        out.append("<ul>" + "".join(f"<li>{_anchor(x)}</li>" for x in by_place["network"])
                   + "</ul>")
    if "comments" in by_place:
        out.append("<section>" + "".join(
            f"<p>{escape(rng.choice(say))} {_anchor(x)}</p>" for x in by_place["comments"])
            + "</section>")
    for form in by_place.get("end", []):
        out.append(f'<form action="{escape(form.written)}" method="{form.extra}">'
                   f'<input type="text" name="q"><input type="submit" value="{lang.ui[2]}">'
                   "</form>")
    out += [f"<footer><p>{escape(rng.choice(say))}</p></footer>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _feed(site: Site, kind: str, port: int) -> tuple[Headers, bytes]:
    lang = LANGUAGES[site.lang]
    home = f"http://{site.name}:{port}/"
    items = [(f"{lang.titles[n % len(lang.titles)]} {n}",
              f"http://{site.name}:{port}{site.article_path(n)}")
             for n in range(1, min(10, site.articles) + 1)]
    if kind == "rss":
        body = "".join(f"<item><title>{escape(t)}</title><link>{u}</link></item>"
                       for t, u in items)
        xml = (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
               f"<title>{site.name}</title><link>{home}</link>"
               f"<description>{escape(lang.titles[0])}</description>{body}</channel></rss>\n")
        return [("Content-Type", "application/rss+xml; charset=utf-8")], xml.encode("utf-8")
    body = "".join(f'<entry><title>{escape(t)}</title><link href="{u}"/><id>{u}</id></entry>'
                   for t, u in items)
    xml = (f'<?xml version="1.0" encoding="utf-8"?>\n'
           f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{site.name}</title>'
           f'<link href="{home}"/><id>{home}</id>{body}</feed>\n')
    return [("Content-Type", "application/atom+xml; charset=utf-8")], xml.encode("utf-8")

"""Link and Plan, and the builder that writes a link in some style and records what it means.

Each Link keeps the attribute text as written in the page and the target it resolves to
(`url_to`, normalized by linkatlas.urls against the page URL or its `<base href>`), so the HTML
and the ground truth come from one list.
"""

from __future__ import annotations

import posixpath
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from ..rules.links import rel_nofollow, rel_tokens
from ..urls import normalize
from .phrases import LANGUAGES, Language
from .routes import Resource
from .sites import Site

if TYPE_CHECKING:
    from .web import Web

__all__ = ["LINK_TYPES", "Builder", "Link", "Plan"]

# element → COLUMNS.md link_type
LINK_TYPES: dict[str, str] = {
    "a": "href", "img": "href", "area": "href", "iframe": "frame", "frame": "frame",
    "form": "form", "canonical": "canonical", "canonical-header": "canonical", "rss": "rss",
    "atom": "rss", "hreflang": "alternate", "alternate": "alternate", "redirect": "redirect",
}
_RELS = ("nofollow", "ugc", "sponsored", "nofollow noopener", "noopener", "external nofollow")


class Link(NamedTuple):
    """One link occurrence: how it is written and what it means (COLUMNS.md).

    `element` is the HTML form (a, img = `<a>` around an `<img>`, area, iframe, frame, form,
    canonical, canonical-header = HTTP Link header, rss, atom, hreflang, alternate) or
    `redirect`; `base` is the page URL or its `<base href>`; `extra` holds the image src, form
    method, feed type, hreflang code, media or redirect code; `place` says where the renderer
    puts it. `anchor` and `alt` are meaningful for `a`/`img` links only; `nofollow` includes
    page-level nofollow (meta robots, X-Robots-Tag). A NamedTuple: pages make many of them.
    """

    element: str
    written: str
    base: str
    anchor: str = ""
    alt: str = ""
    rel: str = ""
    extra: str = ""
    nofollow: bool = False
    place: str = "body"

    @property
    def url_to(self) -> str:
        """The target: written resolved against base, normalized; "" for non-http schemes."""
        return normalize(self.written, self.base) or ""

    @property
    def link_type(self) -> str:
        """The COLUMNS.md link_type of this occurrence."""
        return LINK_TYPES[self.element]


@dataclass
class Plan:
    """Everything rendering needs besides the site: title, language, base, links.

    `robots` is `meta` or `header` when the page says nofollow (meta robots / X-Robots-Tag);
    `layout` is `page` or `frameset`; `rng` continues into the page text after the links.
    """

    title: str
    lang: str
    rng: random.Random
    base: str = ""
    robots: str = ""
    layout: str = "page"
    links: list[Link] = field(default_factory=list)


class Builder:
    """Collects the links of one page, resolving each written form against the page's base."""

    def __init__(self, web: Web, res: Resource, port: int, plan: Plan) -> None:
        site = web.site(res.host)
        assert site is not None
        self.web, self.res, self.port, self.plan = web, res, port, plan
        self.site: Site = site
        self.lang: Language = LANGUAGES[plan.lang]
        self.rng = plan.rng
        self.page_url = self.url(res.host, res.path)

    def url(self, host: str, path: str) -> str:
        """Absolute URL of path on host, with the port."""
        return f"http://{host}:{self.port}{path}"

    def write(self, host: str, path: str, style: str) -> str:
        """The target written as `abs`, `proto` (//host:port/…), `root` (/…) or `rel`;
        targets on other hosts are always written absolute."""
        if host != self.res.host or style == "abs":
            return self.url(host, path)
        if style == "proto":
            return f"//{host}:{self.port}{path}"
        if style == "rel" and path != "/":
            base_path = urlsplit(self.plan.base or self.page_url).path
            base_dir = base_path[:base_path.rfind("/") + 1]
            if path.startswith(base_dir) and "/" not in path[len(base_dir):]:
                return path[len(base_dir):]  # the common case, without relpath's cost
            return posixpath.relpath(path, base_dir.rstrip("/") or "/")
        return path

    def add(self, element: str, written: str, anchor: str = "", alt: str = "", rel: str = "",
            extra: str = "", place: str = "body") -> None:
        """Record one link occurrence."""
        nofollow = bool(self.plan.robots) or rel_nofollow(rel_tokens(rel))
        self.plan.links.append(Link(element, written, self.plan.base or self.page_url, anchor,
                                    alt, rel, extra, nofollow, place))

    def anchor(self) -> str:
        """A random anchor phrase in the page's language."""
        return self.rng.choice(self.lang.anchors)

    def rel(self) -> str:
        """A random rel value: mostly none, sometimes nofollow/ugc/sponsored or a harmless one."""
        if "ugc" in self.site.features and self.rng.random() < 0.3:
            return "ugc"
        return self.rng.choice(_RELS) if self.rng.random() < 0.12 else ""

    def targets(self) -> list[Site]:
        """Other sites with articles, including those gone in this round."""
        return [s for s in self.web.linkable if s is not self.site]

    def other(self) -> Site:
        """A random other site with articles."""
        while True:
            site = self.rng.choice(self.web.linkable)
            if site is not self.site:
                return site

"""The links of every generated page: Resource → Plan (title, language, base, robots, links).

Article links are drawn from a generator seeded by (seed, host, path, article, language) only,
so round 1 repeats round 0 except for its documented changes: on about a quarter of the articles
the first external link is removed; on another quarter a link to `/new/{n}.html` is added, and
on half of those also a link to a missing page. Fixed pages live in showcase.py.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from .builder import Builder, Plan
from .phrases import LANGUAGES, Language
from .routes import REDIRECTS, SHOWCASE, Resource, mix
from .showcase import SHOWCASE_PLANS
from .sites import UNKNOWN_HOSTS, Site

if TYPE_CHECKING:
    from collections.abc import Callable

    from .web import Web

__all__ = ["plan"]

_STYLES = ("root", "root", "rel", "abs", "proto")
_SPECIALS = ("404", "404", "410", "500", "503", "dns", "dns", "chain", "429", "head405",
             "head404", "mailto", "javascript", "tel", "private", "img-broken", *REDIRECTS)
_SLUGS = ("summer-sale", "press-kit", "team", "jobs", "old-offer", "download")


def plan(web: Web, res: Resource, port: int) -> Plan:
    """The plan of an HTML resource; error pages get a title and a link home only."""
    site = web.site(res.host)
    assert site is not None
    lang = LANGUAGES[res.lang or site.lang]
    rng = random.Random(mix(web.seed, res.host, res.path, res.n, lang.code))
    result = Plan(_title(res, site, lang), lang.code, rng)
    if res.kind == "translation" or (res.kind == "article" and "base" in site.features):
        result.base = f"http://{res.host}:{port}/{res.lang or 'en'}/"
    if res.kind == "article":
        if "meta-nofollow" in site.features and res.n % 5 == 0:
            result.robots = "meta"
        if "header-nofollow" in site.features and res.n % 4 == 0:
            result.robots = "header"
    result.robots = {"nofollow-meta": "meta", "nofollow-header": "header"}.get(res.kind,
                                                                             result.robots)
    builder = Builder(web, res, port, result)
    build = _KINDS.get(res.kind)
    if build is None or res.status != 200:
        builder.add("a", "/", lang.ui[0], place="nav")
    else:
        build(builder)
    return result


def _title(res: Resource, site: Site, lang: Language) -> str:
    if res.status != 200:
        return f"{res.status} {lang.ui[4]}"
    if res.kind in ("article", "translation", "new"):
        return f"{lang.titles[res.n % len(lang.titles)]} {res.n}"
    if res.kind == "home":
        return f"{lang.titles[0]} · {site.name}"
    if res.kind == "archive":
        return f"{lang.ui[1]} {res.n}"
    return f"{lang.titles[-1]} · {res.kind}"


def _article(b: Builder) -> None:
    site, rng, n, ui = b.site, b.rng, b.res.n, b.lang.ui
    b.add("a", "/", ui[0], place="nav")
    b.add("a", f"/archive/{(n - 1) // 50 + 1}.html", ui[1], place="nav")
    if n > 1:
        b.add("a", b.write(site.name, site.article_path(n - 1), "rel"), ui[3], place="nav")
    if n < site.articles:
        b.add("a", b.write(site.name, site.article_path(n + 1), "rel"), ui[2], place="nav")
    _head(b, n)
    for _ in range(rng.randint(2, 4)):
        written = b.write(site.name, site.article_path(rng.randint(1, site.articles)),
                          rng.choice(_STYLES))
        if rng.random() < 0.2:
            written += "#" + rng.choice(("top", "details", "comments"))
        b.add("a", written, b.anchor(), rel=b.rel())
    siblings = [s for s in b.web.domains[site.domain] if s.articles and s is not site]
    if siblings and rng.random() < 0.5:
        other = rng.choice(siblings)
        b.add("a", b.url(other.name, other.article_path(rng.randint(1, other.articles))),
              b.anchor())
    drop = b.web.round == 1 and mix(b.web.seed, site.name, n, "drop") % 4 == 0
    for i in range(rng.randint(1, 2)):
        other = b.other()
        written = b.url(other.name, other.article_path(rng.randint(1, other.articles)))
        anchor, rel = b.anchor(), b.rel()
        if not (drop and i == 0):
            b.add("a", written, anchor, rel=rel)
    if rng.random() < 0.3:
        target = b.write(site.name, site.article_path(rng.randint(1, site.articles)), "root")
        b.add("img", target, alt=b.anchor(), extra=f"/img/{rng.randint(1, 40)}.png")
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        _special(b, rng.choice(_SPECIALS))
    if rng.random() < 0.15:
        k = rng.randint(1, 40)
        b.add("iframe", f"/embed/{k}.html" if k % 8 else f"/missing/widget-{k}.html")
    if "ugc" in site.features:
        for _ in range(rng.randint(0, 2)):
            host = rng.choice([*[s.name for s in b.targets()], *UNKNOWN_HOSTS])
            b.add("a", b.url(host, "/"), b.anchor(), rel="ugc", place="comments")
    if "shop" in site.features:
        b.add("form", "/senden", extra="post", place="end")
    if b.web.round == 1 and b.res.kind == "article":
        draw = mix(b.web.seed, site.name, n, "add") % 8
        if draw in (1, 5):
            b.add("a", f"/new/{n}.html", b.lang.anchors[0])
        if draw == 1:
            b.add("a", f"/missing/new-{n}.html", b.lang.anchors[1])


def _head(b: Builder, n: int) -> None:
    site = b.site
    draw = mix(b.web.seed, site.name, n, "canonical") % 20
    own = b.url(site.name, b.res.path)
    canonical = {0: b.url(site.name, f"/removed/{n % 40 + 1}"),
                 1: b.url(site.name, site.article_path(1))}.get(draw, own)
    if "link-header" in site.features and n % 3 == 0:
        b.add("canonical-header", canonical, place="header")
    else:
        b.add("canonical", canonical, place="head")
    if "feed" in site.features:
        b.add("rss", "/feed.rss", extra="application/rss+xml", place="head")
        b.add("atom", "/feed.atom", extra="application/atom+xml", place="head")
    if "hreflang" in site.features:
        for code in ("en", "de", "fr"):
            path = site.article_path(n) if code == "en" else f"/{code}/guide/{n}.html"
            b.add("hreflang", b.url(site.name, path), extra=code, place="head")
        b.add("hreflang", b.url(site.name, "/"), extra="x-default", place="head")


def _special(b: Builder, kind: str) -> None:
    rng = b.rng
    k = rng.randint(1, 40)
    host = b.site.name if rng.random() < 0.5 else b.other().name
    paths = {"404": f"/missing/{rng.choice(_SLUGS)}-{k}.html", "410": f"/removed/{k}",
             "500": f"/error/{k}", "503": f"/maintenance/{k}", "chain": f"/chain/{k}",
             "429": f"/busy/{k}", "head405": f"/app/{k}", "head404": f"/dyn/{k}",
             **{prefix: f"/{prefix}/{k}" for prefix in REDIRECTS}}
    if kind in paths:
        b.add("a", b.write(host, paths[kind], rng.choice(_STYLES)), b.anchor(), rel=b.rel())
    elif kind == "dns":
        b.add("a", b.url(rng.choice(UNKNOWN_HOSTS), f"/p/{k}.html"), b.anchor())
    elif kind == "private":
        b.add("a", f"/private/{k}.html", b.anchor())
    elif kind == "img-broken":
        b.add("img", f"/missing/photo-{k}.jpg", alt=b.anchor(), extra=f"/img/{k}.png")
    else:
        written = {"mailto": f"mailto:info@{b.site.name}", "javascript": "javascript:void(0)",
                   "tel": "tel:+493012345678"}[kind]
        b.add("a", written, b.anchor())


def _home(b: Builder) -> None:
    site, web, ui = b.site, b.web, b.lang.ui
    b.add("canonical", b.url(site.name, "/"), place="head")
    if "feed" in site.features:
        b.add("rss", "/feed.rss", extra="application/rss+xml", place="head")
        b.add("atom", "/feed.atom", extra="application/atom+xml", place="head")
    if "broken-feed" in site.features:
        b.add("rss", "/rss.xml", extra="application/rss+xml", place="head")
    for m in range(1, min(8, site.articles) + 1):
        b.add("a", site.article_path(m), f"{b.lang.titles[m % len(b.lang.titles)]} {m}")
    for a in range(1, (site.articles + 49) // 50 + 1):
        b.add("a", f"/archive/{a}.html", f"{ui[1]} {a}", place="nav")
    if "network" in site.features:
        for other in web.sites:
            if other.name != site.name:
                b.add("a", b.url(other.name, "/"), other.name, place="network")
        b.add("a", b.url(UNKNOWN_HOSTS[1], "/"), UNKNOWN_HOSTS[1], place="network")
        for path in SHOWCASE["showcase"]:
            b.add("a", path, path.strip("/").split(".")[0], place="nav")
    else:
        homes = [web.sites[0], *web.domains[site.domain]]
        homes += b.rng.sample([s for s in b.targets() if s not in homes], 2)
        for other in dict.fromkeys(homes):
            if other.name != site.name:
                b.add("a", b.url(other.name, "/"), other.name, place="network")
    extra = {"shop": ("/kontakt.html", "/produkt/1?ref=startseite", "/suche?q=fahrrad"),
             "frames": ("/frames.html",), "agent-group": ("/entwurf/1.html",)}
    for feature in sorted(site.features & extra.keys()):
        for path in extra[feature]:
            b.add("a", path, b.anchor(), place="nav")
    b.add("a", "/private/press.html", b.anchor(), place="nav")
    b.add("a", "/private/1.html", b.anchor(), place="nav")


def _archive(b: Builder) -> None:
    site, a, ui = b.site, b.res.n, b.lang.ui
    b.add("a", "/", ui[0], place="nav")
    if a > 1:
        b.add("a", f"{a - 1}.html", ui[3], place="nav")
    if a * 50 < site.articles:
        b.add("a", f"{a + 1}.html", ui[2], place="nav")
    for m in range(a * 50 - 49, min(a * 50, site.articles) + 1):
        b.add("a", site.article_path(m), f"{b.lang.titles[m % len(b.lang.titles)]} {m}")


def _small(b: Builder) -> None:
    b.add("a", "/", b.lang.ui[0], place="nav")
    if b.res.kind == "new":
        b.add("a", b.site.article_path(b.res.n), b.anchor())


_KINDS: dict[str, Callable[[Builder], None]] = {
    "article": _article, "translation": _article, "home": _home, "archive": _archive,
    "small": _small, "new": _small, "embed": _small, **SHOWCASE_PLANS,
}

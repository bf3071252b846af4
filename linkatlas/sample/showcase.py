"""The fixed pages that show every link type, broken kind and nofollow form, whatever the size.

On alpha.test: `/map.html` (area links), `/broken.html` (one target of each broken kind plus
transient and HEAD-lying ones), `/redirects.html` (301, 302, 303, 307, 308, a chain, a loop, a
redirect to a dead page and one to an unknown host, the www alias), `/misc.html` (non-http
schemes, fragments, odd spellings, rel variants, iframes, a media alternate on an unknown host),
`/nofollow-meta.html` and `/nofollow-header.html`. On shop.beta.test `/kontakt.html` (forms);
on zeta.test `/frames.html` (a frameset).
"""

from __future__ import annotations

from collections.abc import Callable

from .builder import Builder

__all__ = ["SHOWCASE_PLANS"]


def _map(b: Builder) -> None:
    b.add("a", "/", b.lang.ui[0], place="nav")
    b.add("area", "/p/1.html", alt="Harbour", place="map")
    b.add("area", "/missing/area.html", alt="Old town", place="map")
    b.add("area", b.url("beta.test", "/"), alt="Beta", place="map")


def _broken(b: Builder) -> None:
    b.add("a", "/", b.lang.ui[0], place="nav")
    for written, anchor in (
        ("/missing/summer-sale.html", "the summer sale (404)"),
        ("/removed/1", "a removed page (410)"),
        ("/error/1", "a failing page (500)"),
        ("/maintenance/2", "a page under maintenance (503)"),
        ("/maintenance/1", "a page back from maintenance in round 1"),
        (b.url("vanished.test", "/"), "a vanished site (unknown host)"),
        (b.url("shop.beta.test", "/removed/7"), "a removed product (410)"),
        ("/busy/1", "a busy page (429, then 200)"),
        ("/app/1", "an app page (HEAD 405, GET 200)"),
        ("/dyn/1", "a dynamic page (HEAD 404, GET 200)"),
    ):
        b.add("a", written, anchor)
    b.add("img", "/missing/photo-1.jpg", alt="a lost photo", extra="/img/1.png")
    b.add("a", "/removed/2", "a removed page, nofollow", rel="nofollow")


def _redirects(b: Builder) -> None:
    b.add("a", "/", b.lang.ui[0], place="nav")
    for written, anchor in (
        ("/old/1", "301 moved permanently"), ("/go/1", "302 found"),
        ("/see-other/1", "303 see other"), ("/tmp/1", "307 temporary redirect"),
        ("/moved/1", "308 permanent redirect"), ("/chain/1", "a chain of three redirects"),
        ("/loop/a", "a redirect loop"), ("/dead-redirect/1", "a redirect to a removed page"),
        ("/away/1", "a redirect to a vanished site"),
        (b.url("www.alpha.test", "/p/1.html"), "the www alias"),
    ):
        b.add("a", written, anchor)


def _misc(b: Builder) -> None:
    port = b.port
    b.add("a", "/", b.lang.ui[0], place="nav")
    b.add("alternate", b.url("m.alpha.test", "/"), extra="only screen and (max-width: 640px)",
          place="head")
    for written, anchor, rel in (
        ("mailto:info@alpha.test", "write to us", ""),
        ("javascript:void(0)", "open the menu", ""),
        ("tel:+493012345678", "call us", ""),
        ("data:text/plain,hello", "a data link", ""),
        ("#top", "back to top", ""),
        (f"HTTP://ALPHA.TEST:{port}/p/2.html", "an upper-case link", ""),
        ("/p/./3.html", "a dotted path", ""),
        ("../p/4.html", "a link above the root", ""),
        ("/p/%32.html", "a percent-encoded path", ""),
        (f"//beta.test:{port}/", "a scheme-relative link", ""),
        ("  /p/1.html#section-2  ", "a padded link with a fragment", ""),
        (b.url("gamma.test", "/"), "a nofollow link", "nofollow"),
        (b.url("delta.test", "/"), "a user link", "ugc"),
        (b.url("epsilon.test", "/"), "a paid link", "sponsored"),
        (b.url("zeta.test", "/"), "an upper-case rel", "NoFollow"),
        (b.url("eta.test", "/"), "a noopener link", "noopener noreferrer"),
    ):
        b.add("a", written, anchor, rel=rel)
    b.add("iframe", "/embed/1.html")
    b.add("iframe", "/missing/widget.html")


def _nofollow_page(b: Builder) -> None:
    b.add("a", "/", b.lang.ui[0], place="nav")
    b.add("a", "/p/3.html", b.anchor())
    b.add("a", "/removed/3" if b.plan.robots == "meta" else "/error/3", b.anchor())


def _contact(b: Builder) -> None:
    b.add("a", "/", b.lang.ui[0], place="nav")
    b.add("form", "/senden", extra="post", place="end")
    b.add("form", "/alter-warenkorb", extra="post", place="end")
    b.add("form", b.url("pay.gone.test", "/checkout"), extra="post", place="end")
    b.add("form", "/suche", extra="get", place="end")


def _frames(b: Builder) -> None:
    b.plan.layout = "frameset"
    b.add("frame", b.site.article_path(1), place="end")
    b.add("frame", "/missing/menu.html", place="end")
    b.add("frame", b.url("epsilon.test", "/"), place="end")


SHOWCASE_PLANS: dict[str, Callable[[Builder], None]] = {
    "map": _map, "broken": _broken, "redirects": _redirects, "misc": _misc,
    "nofollow-meta": _nofollow_page, "nofollow-header": _nofollow_page, "contact": _contact,
    "frames": _frames,
}

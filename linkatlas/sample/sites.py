"""The hosts of the sample web: names, addresses, languages, encodings, sizes and robots.txt.

The twelve base hosts span eight registered domains (`alpha.test` … `theta.test`); webs larger than
3,000 pages add one more domain (apex plus `blog.` subdomain) per 2,500 pages, up to 250, or as
many as `min_hosts` asks for (benchmarks that need many hosts on a small web). Names in
UNKNOWN_HOSTS appear in links but never in the hosts file, so a `--hosts-only` resolver answers
NXDOMAIN for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

__all__ = ["UNKNOWN_HOSTS", "Site", "build_sites", "robots_txt"]

# Linked from the web, absent from the hosts file (COLUMNS.md: error="dns", http_code=0).
UNKNOWN_HOSTS: tuple[str, ...] = (
    "vanished.test", "old.alpha.test", "m.alpha.test", "pay.gone.test", "cdn.theta.test",
)


@dataclass(frozen=True)
class Site:
    """One host: what it serves and how its pages are written.

    `encoding` is a Python codec name; `declare` says where the charset is announced: `header`
    (Content-Type), `meta` (`<meta charset>`), `http-equiv` or `none` (left to detection).
    `articles` is the number of article pages, numbered 1…articles at `pattern`.
    """

    name: str
    address: str
    lang: str
    encoding: str
    declare: str
    articles: int
    pattern: str
    features: frozenset[str]

    def article_path(self, n: int) -> str:
        """Path of article n."""
        return self.pattern.replace("{n}", str(n))

    def article_number(self, path: str) -> int | None:
        """The article number a path names, or None when it names no article of this site."""
        match = _pattern_regex(self.pattern).fullmatch(path)
        if match is None:
            return None
        n = int(match.group(1))
        return n if 1 <= n <= self.articles and match.group(1) == str(n) else None

    @cached_property
    def domain(self) -> str:
        """Registered domain (all sample names are `label.test` or `sub.label.test`)."""
        return ".".join(self.name.split(".")[-2:])


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    regex = _REGEX_CACHE.get(pattern)
    if regex is None:
        head, _, tail = pattern.partition("{n}")
        regex = re.compile(re.escape(head) + r"([0-9]+)" + re.escape(tail))
        _REGEX_CACHE[pattern] = regex
    return regex


# name, address, lang, encoding, declare, weight, pattern, features
_BASE: tuple[tuple[str, str, str, str, str, int, str, str], ...] = (
    ("alpha.test", "127.0.0.11", "en", "utf-8", "header", 3, "/p/{n}.html", "showcase network"),
    ("www.alpha.test", "127.0.0.11", "en", "utf-8", "header", 0, "/p/{n}.html", "alias"),
    ("blog.alpha.test", "127.0.0.12", "en", "utf-8", "meta", 2, "/2024/{n}.html",
     "feed ugc meta-nofollow"),
    ("docs.alpha.test", "127.0.0.12", "en", "utf-8", "meta", 1, "/en/guide/{n}.html",
     "hreflang base"),
    ("beta.test", "127.0.0.21", "de", "iso-8859-1", "header", 2, "/artikel/{n}.html",
     "agent-group"),
    ("shop.beta.test", "127.0.0.22", "de", "utf-8", "http-equiv", 2, "/produkt/{n}",
     "shop header-nofollow link-header"),
    ("gamma.test", "127.0.0.31", "ru", "windows-1251", "http-equiv", 2, "/statya/{n}.html",
     "broken-feed"),
    ("news.gamma.test", "127.0.0.31", "ru", "utf-8", "none", 1, "/novosti/{n}.html", "dies"),
    ("delta.test", "127.0.0.41", "ja", "shift_jis", "meta", 1, "/kiji/{n}.html", "crawl-delay"),
    ("epsilon.test", "127.0.0.51", "zh", "gbk", "header", 1, "/wenzhang/{n}.html", ""),
    ("zeta.test", "127.0.0.61", "fr", "iso-8859-1", "none", 1, "/article-{n}.html", "frames"),
    ("eta.test", "127.0.0.71", "ar", "utf-8", "none", 1, "/maqal/{n}.html", "no-robots"),
    ("theta.test", "127.0.0.81", "es", "utf-8", "header", 1, "/articulo/{n}", ""),
)

_EXTRA_NAMES = ("iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma",
                "tau", "upsilon", "phi", "chi", "psi", "omega")
_EXTRA_LANGS = (("en", "utf-8", "header"), ("de", "iso-8859-1", "meta"),
                ("fr", "utf-8", "none"), ("ru", "windows-1251", "header"),
                ("ja", "utf-8", "meta"), ("zh", "gbk", "http-equiv"), ("es", "utf-8", "header"),
                ("ar", "utf-8", "meta"))
# Fixed pages (homes, archives aside) that do not count as articles.
FIXED_PAGES = 20


def _extra_sites(count: int) -> list[tuple[str, str, str, str, str, int, str, str]]:
    rows = []
    for k in range(count):
        label = _EXTRA_NAMES[k % len(_EXTRA_NAMES)] + (str(k // len(_EXTRA_NAMES) + 1)
                                                        if k >= len(_EXTRA_NAMES) else "")
        lang, encoding, declare = _EXTRA_LANGS[k % len(_EXTRA_LANGS)]
        address = f"127.0.{1 + k // 125}.{2 * (k % 125) + 2}"
        blog_address = f"127.0.{1 + k // 125}.{2 * (k % 125) + 3}"
        rows.append((f"{label}.test", address, lang, encoding, declare, 2, "/page/{n}.html", ""))
        rows.append((f"blog.{label}.test", blog_address, lang, encoding, declare, 1,
                     "/posts/{n}.html", "feed"))
    return rows


def build_sites(pages: int, min_hosts: int = 0) -> list[Site]:
    """All sites of a web of about `pages` pages, articles spread by weight (≥ 2 each); at
    least `min_hosts` of them (up to 513) when extra domains can give that many."""
    extra = min(250, pages // 2500) if pages > 3000 else 0
    extra = min(250, max(extra, -(-(min_hosts - len(_BASE)) // 2)))
    rows = list(_BASE) + _extra_sites(extra)
    weight = sum(row[5] for row in rows)
    total = max(pages - FIXED_PAGES, 0)
    sites = []
    for name, address, lang, encoding, declare, w, pattern, features in rows:
        articles = max(2, round(total * w / weight)) if w else 0
        sites.append(Site(name, address, lang, encoding, declare, articles, pattern,
                          frozenset(features.split())))
    return sites


def robots_txt(site: Site) -> str | None:
    """robots.txt of a site (RFC 9309), or None when the site has none (answers 404)."""
    if "no-robots" in site.features or "alias" in site.features:
        return None
    lines = [f"# robots.txt for {site.name}", ""]
    if "agent-group" in site.features:
        # A group for our crawler replaces the `*` group entirely (RFC 9309 §2.2.1).
        lines += ["User-agent: linkatlas", "Disallow: /entwurf/", "Disallow: /private/", ""]
    lines += ["User-agent: *", "Allow: /private/press.html", "Disallow: /private/"]
    if "shop" in site.features:
        lines.append("Disallow: /suche")
    if "crawl-delay" in site.features:
        lines.append("Crawl-delay: 1")
    return "\n".join(lines) + "\n"

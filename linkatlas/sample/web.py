"""The sample web as a value: generate(seed, pages, round) → Web, its pages, hosts file and truth.

Nothing is stored per page: a Web is its sites plus the seed and round, and every response is
computed on request (routes → links → render), so 100,000 pages cost no memory and generation is
instant. Equal (seed, pages, round, host, target, port) always give equal bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..rules.verdicts import BROKEN, MAX_REDIRECTS, verdict
from ..urls import host_of, normalize, registered_domain
from .builder import Link
from .links import plan as plan_page
from .render import render
from .routes import Resource, resolve
from .sites import UNKNOWN_HOSTS, Site, build_sites, robots_txt

__all__ = ["Page", "Web", "generate"]


@dataclass(frozen=True)
class Page:
    """One response of the sample web: status, headers (without framing ones) and body bytes,
    already encoded in the page's charset."""

    host: str
    target: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def reason(self) -> str:
        """The reason phrase of the status, e.g. `Moved Permanently`."""
        return HTTPStatus(self.status).phrase

    def header(self, name: str) -> str | None:
        """The first header with this name (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


@dataclass(frozen=True)
class Web:
    """A generated web. `hosts` maps every name in the hosts file to its 127.0.0.x address;
    `sites` lists every site ever generated for this seed and size, including ones whose names
    no longer resolve in this round; `unknown_hosts` are linked but never resolvable."""

    seed: int
    pages: int
    round: int
    sites: tuple[Site, ...]
    hosts: dict[str, str]
    unknown_hosts: tuple[str, ...] = UNKNOWN_HOSTS
    _by_name: dict[str, Site] = field(default_factory=dict, repr=False, compare=False)
    domains: dict[str, list[Site]] = field(default_factory=dict, repr=False, compare=False)
    linkable: list[Site] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update((s.name, s) for s in self.sites if s.name in self.hosts)
        for site in self.sites:
            self.domains.setdefault(site.domain, []).append(site)
        self.linkable.extend(s for s in self.sites if s.articles)

    def site(self, host: str) -> Site | None:
        """The live site named host, or None."""
        return self._by_name.get(host)

    def robots(self, host: str) -> str | None:
        """robots.txt text of a live host, or None when it answers 404."""
        site = self.site(host)
        return robots_txt(site) if site is not None else None

    def seeds(self, port: int) -> list[str]:
        """Home URLs of every live host; alpha.test's home alone reaches every page."""
        return [f"http://{name}:{port}/" for name in self.hosts]

    def hosts_text(self) -> str:
        """The hosts file: `IP name [name ...]` per address, `#` comments (spec/CLI.md)."""
        by_address: dict[str, list[str]] = {}
        for name, address in self.hosts.items():
            by_address.setdefault(address, []).append(name)
        lines = [f"# linkatlas sample web: seed {self.seed}, {self.pages} pages, round "
                 f"{self.round}", "# not listed (NXDOMAIN): " + " ".join(self.unknown_hosts)]
        lines += [f"{address} {' '.join(names)}" for address, names in by_address.items()]
        return "\n".join(lines) + "\n"

    def write_hosts(self, path: Path) -> None:
        """Write hosts_text() to path, for `--hosts FILE --hosts-only`."""
        Path(path).write_text(self.hosts_text(), encoding="utf-8")

    def resource(self, host: str, target: str, port: int, method: str = "GET",
                 busy: bool = False) -> Resource:
        """What host answers for target (path and query): status and kind, unrendered."""
        return resolve(self, host, _clean(target), port, method, busy)

    def page(self, host: str, target: str, port: int, method: str = "GET",
             busy: bool = False) -> Page:
        """The response of host to `method target`; `busy` makes `/busy/…` answer 429.
        For HEAD the body is what GET would send (the server sends none); HEAD-lying pages
        answer their HEAD status with an empty body."""
        res = self.resource(host, target, port, method, busy)
        headers, body = render(self, res, port)
        return Page(host, target, res.status, tuple(headers), body)

    def links(self, url: str, port: int) -> list[Link]:
        """The links a URL carries when fetched: its HTML links (200 pages only) or its
        redirect (element `redirect`, extra = code). Empty for unknown hosts and errors."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        res = self.resource(parts.hostname or "", target, port)
        if res.kind == "redirect":
            return [Link("redirect", res.location, url, extra=str(res.status))]
        if res.status != 200 or res.kind in ("robots", "image", "rss", "atom", "head-lie"):
            return []
        return [link for link in plan_page(self, res, port).links if link.url_to]

    def expected_links(self, port: int) -> Iterator[tuple[str, Link]]:
        """Ground truth: (url_from, link) for every http(s) link on every page reachable from
        the seeds, following every link whatever robots.txt or nofollow say."""
        seen = set(self.seeds(port))
        queue = deque(self.seeds(port))
        while queue:
            url = queue.popleft()
            for link in self.links(url, port):
                yield url, link
                if link.url_to not in seen:
                    seen.add(link.url_to)
                    queue.append(link.url_to)

    def status(self, url: str, port: int) -> int:
        """Steady GET status of a URL (429 pages answer their retry); 0 for unknown hosts."""
        parts = urlsplit(url)
        if parts.hostname not in self.hosts:
            return 0
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.resource(parts.hostname or "", target, port).status

    def chain_end(self, url: str, port: int) -> tuple[int, str, str]:
        """(http_code, error, last URL) at the end of url's redirect chain (COLUMNS.md): the
        first answer that is not a redirect, `dns` for an unknown host, `redirects` when more
        than 10 hops (or a loop) follow."""
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.hostname not in self.hosts:
                return 0, "dns", url
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            res = self.resource(parts.hostname or "", target, port)
            if res.kind != "redirect":
                return res.status, "", url
            code, url = res.status, normalize(res.location, url) or ""
        return code, "redirects", url

    def expected_broken(self, port: int) -> set[str]:
        """Ground truth (COLUMNS.md "Broken"): URLs linked from another registered domain
        (backlinks, not internal links) whose redirect chain ends in 4xx/5xx other than a
        transient 429, in an unknown host, or in too many hops. Robots-disallowed targets
        answer 200 on this web, so polite crawling plus checking finds exactly these."""
        targets = {link.url_to for url, link in self.expected_links(port)
                   if _domain(url) != _domain(link.url_to)}
        return {url for url in targets if verdict(*self.chain_end(url, port)[:2]) == BROKEN}


def _domain(url: str) -> str:
    return registered_domain(host_of(url))


def _clean(target: str) -> str:
    """Request target → decoded path with dot segments removed, query kept."""
    path, sep, query = target.partition("?")
    if "%" not in path and "/." not in path and path.startswith("/"):
        return target
    path = normalize("http://x" + unquote(path)) or "http://x/"
    return path[len("http://x"):] + sep + query


def generate(seed: int = 0, pages: int = 300, round: int = 0, *, min_hosts: int = 0) -> Web:
    """The sample web of about `pages` HTML pages, deterministic by seed; round 1 is the same
    web some time later (see routes.py and links.py for what changes). `min_hosts` adds extra
    domains (two hosts each) until at least that many sites exist; 0 keeps the default."""
    if round not in (0, 1):
        raise ValueError(f"round: expected 0 or 1, got {round}")
    sites = tuple(build_sites(pages, min_hosts))
    hosts = {s.name: s.address for s in sites if not (round == 1 and "dies" in s.features)}
    return Web(seed, pages, round, sites, hosts)

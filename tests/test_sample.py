"""The sample web: determinism, rounds, ground truth against its own HTML, hosts file, robots.txt,
and the loopback server (status codes, headers, encodings, HEAD, 429, keep-alive, log)."""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import html as lxml_html
from protego import Protego

from linkatlas.sample import SampleServer, Web, generate, serve, serve_in_thread
from linkatlas.sample.phrases import LANGUAGES
from linkatlas.sample.routes import fate
from linkatlas.urls import normalize, registered_domain

PORT = 18080  # only written into URLs; nothing listens on it


@pytest.fixture(scope="module")
def web() -> Web:
    return generate(seed=1, pages=300)


@pytest.fixture(scope="module")
def web1() -> Web:
    return generate(seed=1, pages=300, round=1)


@pytest.fixture(scope="module")
def server(web: Web) -> Iterator[SampleServer]:
    with serve_in_thread(web, 0) as running:
        yield running


def _fetch(server: SampleServer, host: str, target: str, method: str = "GET",
           address: str | None = None, headers: dict[str, str] | None = None,
           ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(address or server.web.hosts[host], server.port, timeout=5)
    try:
        conn.request(method, target, headers={"Host": f"{host}:{server.port}",
                                              "User-Agent": "linkatlas-test", **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# -- generation -------------------------------------------------------------------------------


def test_phrases_encode_in_their_legacy_charsets() -> None:
    legacy = {"en": "iso-8859-1", "de": "iso-8859-1", "fr": "iso-8859-1", "es": "iso-8859-1",
              "ru": "windows-1251", "ja": "shift_jis", "zh": "gbk", "ar": "utf-8"}
    for code, lang in LANGUAGES.items():
        for text in (*lang.sentences, *lang.anchors, *lang.titles, *lang.ui):
            text.encode(legacy[code])  # raises on a character the charset lacks
        assert len(set(lang.sentences)) >= 12 and len(set(lang.anchors)) >= 8


def test_same_seed_same_bytes_other_seed_other_bytes(web: Web) -> None:
    again = generate(seed=1, pages=300)
    other = generate(seed=2, pages=300)
    urls = list(dict.fromkeys(url for url, _ in web.expected_links(PORT)))[:150]
    differs = 0
    for url in urls:
        host, target = url.split(f":{PORT}", 1)[0][7:], url.split(f":{PORT}", 1)[1]
        assert web.page(host, target, PORT) == again.page(host, target, PORT)
        differs += web.page(host, target, PORT).body != other.page(host, target, PORT).body
    assert differs > 50


def test_hosts_file_lists_every_live_name_and_no_unknown_one(web: Web, tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    web.write_hosts(path)
    names: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        address, *listed = line.split()
        assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")
        names.update((name, address) for name in listed)
    assert names == web.hosts
    assert len(names) >= 8 and all(name.endswith(".test") for name in names)
    domains = Counter(registered_domain(name) for name in names)
    assert len(domains) >= 6 and max(domains.values()) >= 3
    assert not set(web.unknown_hosts) & set(names)
    assert all(name.endswith(".test") for name in web.unknown_hosts)


def test_robots_txt_rules(web: Web) -> None:
    alpha = Protego.parse(web.robots("alpha.test") or "")
    assert not alpha.can_fetch(f"http://alpha.test:{PORT}/private/1.html", "linkatlas")
    assert alpha.can_fetch(f"http://alpha.test:{PORT}/private/press.html", "linkatlas")
    assert alpha.can_fetch(f"http://alpha.test:{PORT}/p/1.html", "linkatlas")
    assert Protego.parse(web.robots("delta.test") or "").crawl_delay("linkatlas") == 1
    beta = Protego.parse(web.robots("beta.test") or "")
    assert not beta.can_fetch(f"http://beta.test:{PORT}/entwurf/1.html", "linkatlas")
    assert beta.can_fetch(f"http://beta.test:{PORT}/entwurf/1.html", "otherbot")
    shop = Protego.parse(web.robots("shop.beta.test") or "")
    assert not shop.can_fetch(f"http://shop.beta.test:{PORT}/suche?q=x", "linkatlas")
    assert web.robots("eta.test") is None
    assert web.page("eta.test", "/robots.txt", PORT).status == 404


def test_every_link_type_nofollow_form_and_broken_kind_is_present(web: Web) -> None:
    links = [link for _, link in web.expected_links(PORT)]
    assert {link.link_type for link in links} == {
        "href", "redirect", "frame", "form", "canonical", "rss", "alternate"}
    assert {"a", "img", "area", "iframe", "frame", "canonical", "canonical-header", "rss",
            "atom", "hreflang", "alternate"} <= {link.element for link in links}
    assert {int(link.extra) for link in links if link.element == "redirect"} == {
        301, 302, 303, 307, 308}
    rels = {word for link in links for word in link.rel.lower().split()}
    assert {"nofollow", "ugc", "sponsored", "noopener"} <= rels
    assert any(link.nofollow and not link.rel for link in links)  # meta robots / X-Robots-Tag
    assert any(link.alt for link in links if link.element == "img")
    broken = web.expected_broken(PORT)
    statuses = Counter(web.status(url, PORT) for url in broken)
    assert {0, 404, 410, 500, 503} <= set(statuses)
    assert all(s == 0 or 400 <= s < 600 for s in statuses)
    assert f"http://alpha.test:{PORT}/busy/1" not in broken  # 429 is transient
    assert f"http://alpha.test:{PORT}/app/1" not in broken  # HEAD lies, GET works


def _html_links(web: Web, url: str) -> Counter[tuple[str, str]]:
    """(link_type, url_to) of every http link an independent parser finds in the page."""
    host, target = url[7:].split(f":{PORT}", 1)
    page = web.page(host, target, PORT)
    found: Counter[tuple[str, str]] = Counter()
    if (page.header("Content-Type") or "").startswith("text/html") and page.status == 200:
        tree = lxml_html.fromstring(page.body, base_url=url)
        base = tree.xpath("//base/@href")
        base_url = base[0] if base else url
        for xpath, kind in (("//a/@href", "href"), ("//area/@href", "href"),
                            ("//iframe/@src", "frame"), ("//frame/@src", "frame"),
                            ("//form/@action", "form"),
                            ("//link[@rel='canonical']/@href", "canonical")):
            for value in tree.xpath(xpath):
                found[(kind, normalize(value, base_url) or "")] += 1
        for element in tree.xpath("//link[@rel='alternate']"):
            kind = "rss" if "xml" in element.get("type", "") else "alternate"
            found[(kind, normalize(element.get("href"), base_url) or "")] += 1
    link_header = page.header("Link")
    if link_header:
        found[("canonical", link_header.split(">")[0][1:])] += 1
    if 300 <= page.status < 400:
        found[("redirect", normalize(page.header("Location") or "", url) or "")] += 1
    del found[("href", "")]
    return found


def test_ground_truth_matches_the_html(web: Web) -> None:
    truth: dict[str, Counter[tuple[str, str]]] = {}
    for url, link in web.expected_links(PORT):
        truth.setdefault(url, Counter())[(link.link_type, link.url_to)] += 1
    assert len(truth) > 250
    for url, expected in truth.items():
        assert _html_links(web, url) == expected, url


def test_relative_links_base_href_and_fragments(web: Web) -> None:
    written = [(url, link) for url, link in web.expected_links(PORT)]
    assert any(link.written.startswith("//") for _, link in written)
    assert any("#" in link.written for _, link in written)
    relative = [link for _, link in written if not link.written.startswith(("/", "http"))
                and ":" not in link.written and "#" not in link.written[:1]]
    assert relative
    docs = web.page("docs.alpha.test", "/en/guide/4.html", PORT).body.decode()
    assert f'<base href="http://docs.alpha.test:{PORT}/en/">' in docs
    assert 'href="guide/5.html"' in docs  # resolves against the base, not the page
    misc = web.page("alpha.test", "/misc.html", PORT).body.decode()
    for scheme in ("mailto:", "javascript:", "tel:", "data:"):
        assert f'href="{scheme}' in misc


def test_round_one_changes(web: Web, web1: Web) -> None:
    assert "news.gamma.test" in web.hosts and "news.gamma.test" not in web1.hosts
    articles = [(site, n) for site in web.sites for n in range(1, site.articles + 1)]
    fates = Counter(fate(web.seed, site.name, n) for site, n in articles)
    assert fates[404] + fates[410] > 0 and fates[500] > 0
    site, n = next((s, n) for s, n in articles if fate(web.seed, s.name, n) == 500
                   and s.name in web1.hosts)
    assert web.page(site.name, site.article_path(n), PORT).status == 200
    assert web1.page(site.name, site.article_path(n), PORT).status == 500
    assert web.page("alpha.test", "/maintenance/1", PORT).status == 503
    assert web1.page("alpha.test", "/maintenance/1", PORT).status == 200
    assert web.page("alpha.test", "/new/1.html", PORT).status == 404
    assert web1.page("alpha.test", "/new/1.html", PORT).status == 200
    before = {(u, link.url_to) for u, link in web.expected_links(PORT)}
    after = {(u, link.url_to) for u, link in web1.expected_links(PORT)}
    assert any("/new/" in to for _, to in after - before)  # links added
    assert len(before - after) > 20  # links removed (and pages lost)
    broken0, broken1 = web.expected_broken(PORT), web1.expected_broken(PORT)
    assert broken1 - broken0 and broken0 - broken1  # targets died, others recovered
    assert f"http://news.gamma.test:{PORT}/" in broken1 - broken0


def test_languages_and_encodings(web: Web) -> None:
    seen = set()
    for site in web.sites:
        if site.name not in web.hosts or not site.articles:
            continue
        page = web.page(site.name, site.article_path(1), PORT)
        text = page.body.decode(site.encoding)
        assert LANGUAGES[site.lang].ui[0] in text
        content_type = page.header("Content-Type") or ""
        declared = {"header": f"charset={site.encoding}" in content_type,
                    "meta": f'<meta charset="{site.encoding}">' in text,
                    "http-equiv": f"text/html; charset={site.encoding}\">" in text,
                    "none": "charset" not in text and "charset" not in content_type}
        assert declared[site.declare], site.name
        seen.add((site.lang, site.encoding, site.declare))
    assert {lang for lang, _, _ in seen} >= {"en", "de", "fr", "ru", "ja", "zh", "ar"}
    assert {enc for _, enc, _ in seen} >= {"utf-8", "windows-1251", "shift_jis", "iso-8859-1",
                                           "gbk"}
    assert {declare for _, _, declare in seen} == {"header", "meta", "http-equiv", "none"}


def test_scales_to_100000_pages_quickly() -> None:
    started = time.perf_counter()
    big = generate(seed=3, pages=100_000)
    assert time.perf_counter() - started < 1.0
    assert 95_000 <= sum(site.articles for site in big.sites) <= 105_000
    assert len(big.hosts) >= 80
    site = big.sites[-1]
    page = big.page(site.name, site.article_path(site.articles), PORT)
    assert page.status == 200 and page.body


def test_min_hosts_adds_domains_without_changing_the_default(web: Web) -> None:
    assert generate(seed=1, pages=300, min_hosts=0).hosts == web.hosts
    many = generate(seed=1, pages=10_000, min_hosts=200)
    assert len(many.hosts) >= 200 and len(set(many.hosts.values())) >= 190
    assert 9_500 <= sum(site.articles for site in many.sites) <= 10_500
    assert generate(seed=3, pages=100_000, min_hosts=10).hosts == generate(3, 100_000).hosts
    site = many.sites[-1]
    assert many.page(site.name, site.article_path(site.articles), PORT).status == 200


# -- server -----------------------------------------------------------------------------------


def test_server_answers_like_the_model(server: SampleServer) -> None:
    web = server.web
    status, headers, body = _fetch(server, "alpha.test", "/")
    assert status == 200 and body == web.page("alpha.test", "/", server.port).body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    status, headers, body = _fetch(server, "gamma.test", "/statya/2.html")
    assert status == 200 and "charset=windows-1251" in body.decode("windows-1251")
    assert _fetch(server, "alpha.test", "/removed/5")[0] == 410
    assert _fetch(server, "alpha.test", "/error/5")[0] == 500
    status, headers, _ = _fetch(server, "alpha.test", "/maintenance/2")
    assert status == 503 and headers["Retry-After"] == "3600"
    assert _fetch(server, "alpha.test", "/no/such/page")[0] == 404
    status, headers, body = _fetch(server, "www.alpha.test", "/p/3.html")
    assert status == 301 and body == b""
    assert headers["Location"] == f"http://alpha.test:{server.port}/p/3.html"
    status, headers, _ = _fetch(server, "shop.beta.test", "/produkt/3")
    assert headers["Link"] == f'<http://shop.beta.test:{server.port}/produkt/3>; rel="canonical"'
    assert _fetch(server, "shop.beta.test", "/produkt/4")[1]["X-Robots-Tag"] == "nofollow"
    assert _fetch(server, "alpha.test", "/robots.txt")[2].startswith(b"# robots.txt")
    assert server.errors == []


def test_head_and_head_lies(server: SampleServer) -> None:
    status, headers, body = _fetch(server, "alpha.test", "/p/2.html", "HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len(_fetch(server, "alpha.test", "/p/2.html")[2])
    status, headers, _ = _fetch(server, "alpha.test", "/app/1", "HEAD")
    assert status == 405 and headers["Allow"] == "GET, POST"
    assert _fetch(server, "alpha.test", "/app/1")[0] == 200
    assert _fetch(server, "alpha.test", "/dyn/1", "HEAD")[0] == 404
    assert _fetch(server, "alpha.test", "/dyn/1")[0] == 200
    assert _fetch(server, "shop.beta.test", "/senden", "POST")[0] == 200


def test_busy_answers_429_then_200(server: SampleServer) -> None:
    status, headers, _ = _fetch(server, "beta.test", "/busy/9")
    assert status == 429 and headers["Retry-After"] == "1"
    assert _fetch(server, "beta.test", "/busy/9")[0] == 200
    assert _fetch(server, "beta.test", "/busy/9")[0] == 429


def test_routes_by_local_address_and_logs_requests(server: SampleServer) -> None:
    status, _, body = _fetch(server, "127.0.0.41", "/", address="127.0.0.41")
    assert status == 200 and body == server.web.page("delta.test", "/", server.port).body
    logged = server.requests("delta.test")[-1]
    assert (logged.method, logged.target, logged.user_agent, logged.address) == (
        "GET", "/", "linkatlas-test", "127.0.0.41")


def test_keep_alive_and_bad_requests(server: SampleServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.21", server.port, timeout=5)
    try:
        for target in ("/", "/artikel/1.html", "/artikel/2.html"):
            conn.request("GET", target, headers={"Host": "beta.test"})
            response = conn.getresponse()
            assert response.status == 200 and response.read()
    finally:
        conn.close()
    with socket.create_connection(("127.0.0.21", server.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")


def test_async_serve_with_aiohttp_and_the_hosts_file(tmp_path: Path) -> None:
    web = generate(seed=5, pages=60, round=1)
    web.write_hosts(tmp_path / "hosts")
    table = {}
    for line in (tmp_path / "hosts").read_text().splitlines():
        if line and not line.startswith("#"):
            address, *names = line.split()
            table.update(dict.fromkeys(names, address))

    class HostsResolver(aiohttp.abc.AbstractResolver):
        async def resolve(self, host: str, port: int = 0,
                          family: int = socket.AF_INET) -> list[dict[str, Any]]:
            if host not in table:
                raise OSError(f"NXDOMAIN {host}")
            return [{"hostname": host, "host": table[host], "port": port,
                     "family": socket.AF_INET, "proto": 0, "flags": 0}]

        async def close(self) -> None:
            return None

    async def crawl() -> tuple[list[int], float, SampleServer]:
        async with await serve(web, 0, delay=0.05) as server:
            connector = aiohttp.TCPConnector(resolver=HostsResolver())
            async with aiohttp.ClientSession(connector=connector) as session:
                statuses = []
                started = time.monotonic()
                for url in (*web.seeds(server.port)[:3],
                            f"http://zeta.test:{server.port}/frames.html"):
                    async with session.get(url, allow_redirects=False) as response:
                        await response.read()
                        statuses.append(response.status)
                elapsed = time.monotonic() - started
                with pytest.raises(aiohttp.ClientConnectorError):
                    await session.get(f"http://news.gamma.test:{server.port}/")
        return statuses, elapsed, server

    statuses, elapsed, server = asyncio.run(crawl())
    assert statuses == [200, 301, 200, 200] and elapsed >= 0.2
    assert [r.host for r in server.log][:2] == ["alpha.test", "www.alpha.test"]

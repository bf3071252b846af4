"""The crawler follows what extraction, reading the archive the crawler wrote, says a crawler
may follow: the same rules (rules/links.py, codings.py) on the same bytes. The pages are the
cases where the crawler's and extraction's old copies of those rules disagreed."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli

from linkatlas.crawl import run
from linkatlas.extract.capture import Capture
from linkatlas.extract.records import read_archive
from linkatlas.extract.rows import LINK_FIELDS, capture_rows

from .test_crawl import Request, Server, Writer, data, options, serve  # noqa: F401

# --- the same pages, crawled and extracted --------------------------------------------------

def _page(links: str, head: str = "") -> bytes:
    return f"<html><head>{head}</head><body>{links}</body></html>".encode()


def _http(body: bytes, headers: dict[str, str]) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_HTML = {"Content-Type": "text/html"}
_RAW = zlib.compressobj(6, zlib.DEFLATED, -15)
# path → (headers, body); the links each page's rule lets a crawler follow are named `/yes-…`,
# the others `/no-…`.
WEB: dict[str, tuple[dict[str, str], bytes]] = {
    "/": (_HTML, _page(
        "".join(f'<a href="{path}">{path}</a>' for path in (
            "/gzip", "/br", "/deflate", "/raw-deflate", "/stored-decoded", "/meta-spaces",
            "/meta-googlebot", "/meta-ours", "/header-ours", "/sniff-head", "/sniff-text",
            "/sniff-gzip", "/link-header", "/link-header-empty", "/link-header-nofollow")),
        '<link rel="alternate stylesheet" href="/no-dark.css">'
        '<link rel="alternate" hreflang="de" href="/yes-de">')),
    "/gzip": ({**_HTML, "Content-Encoding": "gzip"},
              gzip.compress(_page('<a href="/yes-gzip">g</a>'))),
    "/br": ({**_HTML, "Content-Encoding": "br"},
            brotli.compress(_page('<a href="/yes-br">b</a>'))),
    "/deflate": ({**_HTML, "Content-Encoding": "deflate"},
                 zlib.compress(_page('<a href="/yes-deflate">d</a>'))),
    "/raw-deflate": ({**_HTML, "Content-Encoding": "deflate"},
                     _RAW.compress(_page('<a href="/yes-raw">r</a>')) + _RAW.flush()),
    "/stored-decoded": ({**_HTML, "Content-Encoding": "gzip"},
                        _page('<a href="/yes-stored">s</a>')),
    "/meta-spaces": (_HTML, _page('<a href="/no-spaces">x</a>',
                                  '<meta name="robots" content="noindex nofollow">')),
    "/meta-googlebot": (_HTML, _page(
        '<a href="/yes-googlebot">x</a>',
        '<meta name="robots" content="googlebot: noindex, nofollow">')),
    "/meta-ours": (_HTML, _page('<a href="/no-ours">x</a>',
                                '<meta name="linkatlas" content="nofollow">')),
    "/header-ours": ({**_HTML, "X-Robots-Tag": "linkatlas: none"},
                     _page('<a href="/no-header">x</a>')),
    "/sniff-head": ({}, b'<head><title>t</title></head><a href="/yes-sniffed">x</a>'),
    "/sniff-text": ({}, b'Plain text, <a href="/no-text">not a page</a>'),
    # no Content-Type: the sniff reads the decoded bytes, not the gzip member
    "/sniff-gzip": ({"Content-Encoding": "gzip"},
                    gzip.compress(b'<html><a href="/yes-sniffed-gzip">x</a></html>')),
    # an HTTP Link header's rel=canonical is a link (rules/links.py), with or without a body
    "/link-header": ({**_HTML, "Link": '</x.js>; rel=preload, </yes-link-header>; rel=canonical'},
                     _page("no links")),
    "/link-header-empty": ({**_HTML, "Link": '</yes-link-empty>; rel="canonical"'}, b""),
    "/link-header-nofollow": ({**_HTML, "Link": "</no-link-header>; rel=canonical",
                               "X-Robots-Tag": "nofollow"}, _page("")),
}


def test_the_crawler_follows_what_extraction_reads_in_its_archive(
        data: Path, serve: Callable[..., Server]) -> None:  # noqa: F811
    async def handle(request: Request, writer: Writer) -> bool:
        headers, body = WEB.get(request.path, ({"Content-Type": "text/plain"}, b"end"))
        writer.write(_http(body, headers))
        return True

    server = serve(handle)
    run(data, [server.url("alpha.test")], options(data))
    fetched = {path for path in server.paths() if path != "/robots.txt"}
    assert fetched == set(WEB) | {"/yes-de", "/yes-gzip", "/yes-br", "/yes-deflate", "/yes-raw",
                                  "/yes-stored", "/yes-googlebot", "/yes-sniffed",
                                  "/yes-sniffed-gzip", "/yes-link-header", "/yes-link-empty"}
    followable: set[str] = set()
    for archive in (data / "archives").glob("*.warc.gz"):
        for capture in read_archive(archive):
            assert isinstance(capture, Capture)
            rows = capture_rows(capture)
            assert rows is not None
            links = rows[1]
            followable |= {str(row["url_to"]).split(str(server.port), 1)[1] for row in (
                dict(zip(LINK_FIELDS, link, strict=True)) for link in links)
                           if row["link_type"] != "form" and not row["nofollow"]}
    assert followable | {"/"} == fetched

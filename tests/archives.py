"""Write small WARC files for tests with warcio (pinned dates, IPs and record IDs)."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found",
           410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


@dataclass
class Response:
    url: str
    date: str                      # WARC-Date, e.g. 2024-01-01T00:00:00Z
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=lambda: [
        ("Content-Type", "text/html; charset=utf-8")])
    ip: str = "203.0.113.7"


def page(url: str, date: str, html: str, **kwargs: object) -> Response:
    return Response(url, date, 200, html.encode("utf-8"), **kwargs)  # type: ignore[arg-type]


def redirect(url: str, date: str, location: str, status: int = 301) -> Response:
    return Response(url, date, status, b"", [("Location", location),
                                              ("Content-Type", "text/html")])


def status(url: str, date: str, code: int) -> Response:
    return Response(url, date, code, b"<html><title>error</title></html>")


def write_warc(path: Path, responses: list[Response], *, gzip_records: bool = True) -> Path:
    """One response record per Response, in order."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=gzip_records)
        for number, response in enumerate(responses):
            http = StatusAndHeaders(f"{response.status} {REASONS.get(response.status, 'X')}",
                                    response.headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                response.url, "response", payload=io.BytesIO(response.body),
                length=len(response.body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": response.date,
                                   "WARC-IP-Address": response.ip,
                                   "WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-"
                                                     f"{number:012d}>"})
            writer.write_record(record)
    return path


def late_broken_backlink(folder: Path) -> Path:
    """An archive that adds one broken backlink (late-linker.test → late.test/gone, 404):
    ingested and built while a server answers, it shows a new snapshot being picked up."""
    return write_warc(folder / "late.warc.gz", [
        page("http://late-linker.test/", "2024-02-01T00:00:00Z",
             '<a href="http://late.test/gone">gone</a>'),
        status("http://late.test/gone", "2024-02-02T00:00:00Z", 404)])


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def raw_record(url: str, date: str, block: bytes) -> bytes:
    """An uncompressed WARC response record around an arbitrary HTTP block (for damage)."""
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: {date}\r\nWARC-Record-ID: <urn:uuid:{abs(hash((url, date))):032x}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(block)}\r\n\r\n").encode()
    return head + block + b"\r\n\r\n"


def _html(links: list[tuple[str, str]], title: str) -> str:
    anchors = " ".join(f'<p>text {i}</p><a href="{href}">{text}</a>'
                       for i, (href, text) in enumerate(links))
    return f"<html><head><title>{title}</title></head><body>{anchors}</body></html>"


def example_index(root: Path, n_pages: int = 12) -> Path:
    """An index of 25 broken backlinks to example.com and its subdomains, 12 to
    notexample.com, from `n_pages` pages of siteN.test; returns its data directory."""
    from linkatlas.extract.ingest import ingest
    from linkatlas.index import build

    folder = root / "data"
    responses = []
    for n in range(n_pages):
        links = [(f"http://example.com/dead/{n}", f"dead {n}"),
                 (f"https://blog.example.com/post-{n % 3}", "blog post"),
                 ("http://notexample.com/x", "lookalike")]
        responses.append(page(f"http://site{n}.test/page", f"2024-01-0{1 + n % 9}T00:00:00Z",
                              _html(links, f"Site {n}")))
    responses += [status(f"http://example.com/dead/{n}", "2024-01-10T00:00:00Z",
                         404 if n % 2 else 410) for n in range(12)]
    responses += [status(f"https://blog.example.com/post-{n}", "2024-01-10T00:00:00Z", 500)
                  for n in range(3)]
    responses.append(status("http://notexample.com/x", "2024-01-10T00:00:00Z", 404))
    responses.append(redirect("http://site0.test/old", "2024-01-02T00:00:00Z",
                              "http://example.com/moved"))
    responses.append(status("http://example.com/moved", "2024-01-10T00:00:00Z", 404))
    ingest(folder, [write_warc(root / "a.warc.gz", responses)])
    build(folder, workers=1)
    return folder


def write_revisit(path: Path, url: str, date: str, refers_to_date: str,
                  location: str = "") -> Path:
    """One revisit record (identical payload) of url at date, referring to an earlier one;
    of a 301 to `location` when one is given."""
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        if location:
            http = StatusAndHeaders("301 Moved Permanently", [("Location", location)],
                                    protocol="HTTP/1.1")
        record = writer.create_revisit_record(
            url, "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", url, refers_to_date,
            http_headers=http, warc_headers_dict={"WARC-Date": date,
                                                  "WARC-IP-Address": "203.0.113.8"})
        writer.write_record(record)
    return path

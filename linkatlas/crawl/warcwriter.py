"""WARC output of the crawler: `DIR/archives/crawl-<stamp>-<n>.warc.gz`, written with warcio.

Each file opens with a `warcinfo` record; each fetch adds a `request` and a `response` record
(WARC 1.1 §6.5, §6.4) joined by `WARC-Concurrent-To`, both with `WARC-IP-Address` and a
`WARC-Date` from the one clock. Every record is its own gzip member (WARC 1.1 Annex D), built in
memory and handed to the file in one `write`, then flushed; so the file on disk is at every
moment a valid archive followed, at worst, by one partly written member.

Files are written under their final name, never as `*.open`: `build` reads an archive of a
running or killed crawl like any other, and readers stop at a torn last member (or skip it).
The frontier keeps the offset reached at each commit (frontier.py); a resumed crawl cuts the
last file back to that offset before it starts a new file, so a killed run leaves no torn
record and no record of a page the frontier does not know as fetched.

Bodies are stored as received: Content-Encoding is kept. Transfer-Encoding is not (aiohttp
removes the chunking), so the header is stored as `X-Linkatlas-Transfer-Encoding` for readers
not to de-chunk the body again; a body cut by a limit carries `WARC-Truncated` (§5.13).
Non-ASCII header bytes are percent-encoded by warcio (RFC 8187).
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from .. import __version__, clock

__all__ = ["Exchange", "WarcWriter", "archive_dir"]

_WARC_VERSION = "WARC/1.1"
_LEVEL = 6


def archive_dir(data: Path) -> Path:
    return data / "archives"


@dataclass(slots=True)
class Exchange:
    """One HTTP request and its response, as sent and received."""

    url: str
    ip: str
    request_line: str                     # "GET /path HTTP/1.1"
    request_headers: list[tuple[str, str]]
    protocol: str                         # "HTTP/1.1"
    status_line: str                      # "200 OK"
    headers: list[tuple[str, str]]
    body: bytes
    truncated: str = ""                   # "" | "length" | "time" | "disconnect"
    extra: dict[str, str] = field(default_factory=dict)


def _date() -> str:
    """WARC-Date from the one clock, with microseconds (WARC 1.1 §5.4)."""
    return clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WarcWriter:
    """Appends exchanges to rotating gzip WARC files; `position` says how far it got."""

    def __init__(self, data: Path, *, max_bytes: int = 1024 ** 3, user_agent: str = "",
                 resume: tuple[str, int] | None = None) -> None:
        self.directory = archive_dir(data)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self.written: list[str] = []
        self._file: io.BufferedWriter | None = None
        self._name = ""
        self._offset = 0
        self._buffer = io.BytesIO()
        # Records are serialized plain and gzipped here, one member each, at level 6:
        # warcio's own gzip runs at level 9, twice the CPU for ~2% smaller files.
        self._warc = WARCWriter(self._buffer, gzip=False, warc_version=_WARC_VERSION)
        if resume is not None:
            self._cut(*resume)

    def _cut(self, name: str, offset: int) -> None:
        """Drop what a killed run wrote past its last commit (see the module docstring)."""
        path = self.directory / name
        if path.exists() and path.stat().st_size > offset:
            with path.open("r+b") as file:
                file.truncate(offset)
                os.fsync(file.fileno())

    @property
    def position(self) -> tuple[str, int]:
        """(file name, bytes written) after the last complete record."""
        return self._name, self._offset

    def _open(self) -> None:
        stamp = clock.now().strftime("%Y%m%d%H%M%S")
        number = 0
        while True:
            name = f"crawl-{stamp}-{number:05d}.warc.gz"
            try:
                self._file = (self.directory / name).open("xb")
                break
            except FileExistsError:
                number += 1
        self._name, self._offset = name, 0
        self.written.append(name)
        info = {"software": f"linkatlas/{__version__}", "format": "WARC File Format 1.1",
                "http-header-user-agent": self.user_agent}
        record = self._warc.create_warcinfo_record(name, info)
        record.rec_headers.replace_header("WARC-Date", _date())
        self._emit(record)

    def _emit(self, *records: object) -> None:
        assert self._file is not None
        buffer = self._buffer
        members = []
        for record in records:
            buffer.seek(0)
            buffer.truncate()
            self._warc.write_record(record)
            packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            members.append(packer.compress(buffer.getvalue()) + packer.flush())
        data = b"".join(members)
        self._file.write(data)
        self._file.flush()
        self._offset += len(data)

    def write(self, exchange: Exchange) -> tuple[str, int]:
        """Write the request and response records; returns the new position."""
        if self._file is None or self._offset >= self.max_bytes:
            self.close()
            self._open()
        warc_headers = {"WARC-Date": _date(), "WARC-IP-Address": exchange.ip}
        response_headers = dict(warc_headers)
        if exchange.truncated:
            response_headers["WARC-Truncated"] = exchange.truncated
        response_headers.update(exchange.extra)
        headers = [("X-Linkatlas-Transfer-Encoding", value)
                   if name.lower() == "transfer-encoding" else (name, value)
                   for name, value in exchange.headers]
        response = self._warc.create_warc_record(
            exchange.url, "response", payload=io.BytesIO(exchange.body),
            length=len(exchange.body), warc_headers_dict=response_headers,
            http_headers=StatusAndHeaders(exchange.status_line, headers,
                                          protocol=exchange.protocol))
        request_headers = dict(warc_headers)
        request_headers["WARC-Concurrent-To"] = response.rec_headers.get_header("WARC-Record-ID")
        request = self._warc.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(b""), length=0,
            warc_headers_dict=request_headers,
            http_headers=StatusAndHeaders(exchange.request_line, exchange.request_headers,
                                          is_http_request=True))
        # Request first, as wget and Heritrix write them; both members go out in one write.
        self._emit(request, response)
        return self.position

    def start(self) -> tuple[str, int]:
        """Open the first file now (so the frontier can checkpoint it) and return the position."""
        if self._file is None:
            self._open()
        return self.position

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

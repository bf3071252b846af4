"""Download one file over HTTP(S) with resume, retries and an end-to-end gzip check.

Common Crawl's endpoint (S3 behind CloudFront) answers bursts of 503 (`SlowDown`), drops
connections mid-file and, rarely, sends fewer bytes than it announced. A download therefore
appends to `DEST.part` and resumes with an HTTP Range request after any failure; a kill -9
loses nothing but the bytes in flight. Only a complete, verified file is renamed to DEST.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import LinkatlasError

__all__ = ["DownloadError", "Missing", "Retry", "download", "gzip_intact", "read_small"]

_USER_AGENT = "linkatlas (+https://github.com/linkatlas; Common Crawl import)"
_CHUNK = 1 << 20
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class DownloadError(LinkatlasError):
    """A file could not be downloaded or verified after every retry."""


class Missing(DownloadError):
    """The server says the file does not exist (404, 403 from S3 for an unknown key)."""


@dataclass(frozen=True)
class Retry:
    """How long to keep trying: attempts without progress, backoff base and cap (seconds)."""

    attempts: int = 8
    base: float = 0.5
    cap: float = 30.0
    timeout: float = 60.0

    def pause(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter (AWS's advice for SlowDown), or the server's Retry-After when given."""
        if retry_after is not None:
            return min(retry_after, self.cap)
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


class _Transient(Exception):
    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: take the backoff instead
        return None


def _open(url: str, start: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (404, 403, 410):
            raise Missing(f"{url}: {exc.code} {exc.reason}") from None
        if exc.code == 416:
            raise _Transient("416") from None
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Transient(f"{exc.code}", _retry_after(exc.headers.get("Retry-After"))
                             ) from None
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(f"{type(exc).__name__}: {exc}") from None


def _total(response: http.client.HTTPResponse, start: int) -> tuple[int, int | None]:
    """(offset the body starts at, whole file size if known) from the status and headers."""
    if response.status == 206:
        match = _RANGE.match(response.headers.get("Content-Range", ""))
        if not match:
            raise _Transient("206 without a Content-Range")
        first = int(match.group(1))
        return first, None if match.group(3) == "*" else int(match.group(3))
    length = response.headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


def _fetch(url: str, part: Path, retry: Retry, on_bytes: Callable[[int], None]) -> int | None:
    """Append the rest of url to part; returns the announced whole size, if any."""
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        try:
            with _open(url, have, retry.timeout) as response:
                first, total = _total(response, have)
                if first != have:  # a 200 to a Range request, or a range we did not ask for
                    have = first
                with part.open("r+b" if part.exists() else "wb") as out:
                    out.seek(have)
                    out.truncate()
                    while True:
                        try:
                            chunk = response.read1(_CHUNK)
                        except (OSError, http.client.HTTPException) as exc:
                            raise _Transient(f"connection lost: {exc}") from None
                        if not chunk:
                            break
                        out.write(chunk)
                        on_bytes(len(chunk))
                        attempt = 0  # progress resets the count of fruitless attempts
                    out.flush()
                    size = out.tell()
            if total is not None and size < total:
                raise _Transient(f"ended at {size} of {total} bytes")
            return total
        except _Transient as exc:
            if str(exc) == "416":  # asked from the end: the file is already whole
                return part.stat().st_size if part.exists() else None
            attempt += 1
            if attempt > retry.attempts:
                raise DownloadError(f"{url}: gave up after {retry.attempts} retries ({exc})"
                                    ) from None
            time.sleep(retry.pause(attempt, exc.retry_after))


def gzip_intact(path: Path) -> bool:
    """Whether path is one or more complete gzip members (CRC and length checked) and
    nothing else: Common Crawl's files are a gzip member per record."""
    inflate: zlib._Decompress | None = None
    seen = False
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                seen = True
                while chunk:
                    if inflate is None:
                        inflate = zlib.decompressobj(wbits=31)
                    inflate.decompress(chunk)
                    if inflate.eof:  # a member ended: the rest starts the next one
                        chunk, inflate = inflate.unused_data, None
                    else:
                        chunk = b""
    except zlib.error:
        return False
    return seen and inflate is None  # the last member ended exactly at the end of the file


def download(url: str, dest: Path, *, retry: Retry = Retry(), gzipped: bool = True,
             on_bytes: Callable[[int], None] = lambda n: None) -> Path:
    """Download url to dest (resuming dest.part), verified; returns dest.

    A file that ends short of its announced size is resumed; one that is whole by size but
    fails the gzip check is resumed once more (the server may have sent fewer bytes than
    the file has), then downloaded again from zero, then given up on.
    """
    if dest.exists():
        return dest
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for fresh in (False, False, True):
        if fresh:
            part.unlink(missing_ok=True)
        _fetch(url, part, retry, on_bytes)
        if not gzipped or gzip_intact(part):
            with part.open("rb") as stream:
                os.fsync(stream.fileno())
            os.replace(part, dest)
            return dest
    part.unlink(missing_ok=True)
    raise DownloadError(f"{url}: not a complete gzip file after downloading it again")


def read_small(url: str, retry: Retry = Retry()) -> bytes:
    """A small file (a path list) in memory, with the same retries."""
    attempt = 0
    while True:
        try:
            with _open(url, 0, retry.timeout) as response:
                try:
                    return response.read()
                except (OSError, http.client.HTTPException) as exc:
                    raise _Transient(f"connection lost: {exc}") from None
        except _Transient as exc:
            attempt += 1
            if attempt > retry.attempts:
                raise DownloadError(f"{url}: gave up after {retry.attempts} retries ({exc})"
                                    ) from None
            time.sleep(retry.pause(attempt, exc.retry_after))


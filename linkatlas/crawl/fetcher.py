"""One HTTP GET, bounded in size and time, as an `Exchange` for the archive or as a failure.

One aiohttp session serves the whole crawl (connections are reused). Redirects are not
followed here (the crawler records each 3xx and enqueues its Location), bodies are not
decompressed (they are archived as received), and every response is cut at `max_body` bytes
and at `timeout` seconds, keeping what came (`WARC-Truncated`). A failure is named by one of
the check log's error values (observations.py), NXDOMAIN being `dns`.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from yarl import URL

from ..net import Resolver, error_kind
from .options import CrawlOptions
from .warcwriter import Exchange

__all__ = ["Fetched", "Fetcher", "RecordingResolver", "classify"]

_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_ACCEPT_ENCODING = "gzip, deflate, br"


@dataclass(slots=True)
class Fetched:
    """A response (`exchange` set) or a failure (`error` set, one of observations.py ERRORS)."""

    url: str
    exchange: Exchange | None = None
    status: int = 0
    error: str = ""
    detail: str = ""

    def header(self, name: str) -> str:
        if self.exchange is None:
            return ""
        lower = name.lower()
        for key, value in self.exchange.headers:
            if key.lower() == lower:
                return value
        return ""

    def joined(self, name: str) -> str:
        """All values of a header joined with ", " (RFC 9110 §5.3), as extraction reads it."""
        if self.exchange is None:
            return ""
        lower = name.lower()
        return ", ".join(value for key, value in self.exchange.headers if key.lower() == lower)


class RecordingResolver(Resolver):
    """The policy resolver, remembering each name's addresses for `WARC-IP-Address` when the
    socket is already gone (an empty body releases the connection before we look)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.addresses: dict[str, str] = {}

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        if results:
            self.addresses[host.lower()] = results[0]["host"]
        return results


def classify(error: BaseException) -> tuple[str, str]:
    """(check-log error value, one-line detail) of a failed fetch."""
    return error_kind(error), f"{type(error).__name__}: {error}"[:300]


def _request_line(url: str) -> str:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return f"GET {target} HTTP/1.1"


class Fetcher:
    """GETs URLs through one session with the crawl's limits."""

    def __init__(self, options: CrawlOptions, resolver: RecordingResolver) -> None:
        self.options = options
        self.resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            resolver=self.resolver, limit=self.options.concurrency + 8, limit_per_host=0,
            ttl_dns_cache=300, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False, raise_for_status=False, timeout=aiohttp.ClientTimeout(
                total=None, connect=self.options.connect_timeout),
            headers={"User-Agent": self.options.user_agent, "Accept": _ACCEPT,
                     "Accept-Encoding": _ACCEPT_ENCODING})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.resolver.close()

    async def fetch(self, url: str) -> Fetched:
        assert self._session is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.timeout
        host = urlsplit(url).hostname or ""
        try:
            self.resolver.check_literal(host)
            async with asyncio.timeout_at(deadline):
                response = await self._session.get(URL(url, encoded=True),
                                                   allow_redirects=False)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
            kind, detail = classify(error)
            return Fetched(url, error=kind, detail=detail)
        try:
            return await self._read(url, host, response, deadline)
        finally:
            response.release()

    async def _read(self, url: str, host: str, response: aiohttp.ClientResponse,
                    deadline: float) -> Fetched:
        ip = self._peer(response) or self.resolver.addresses.get(host.lower(), host)
        chunks: list[bytes] = []
        size = 0
        truncated = ""
        limit = self.options.max_body
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    chunk = await response.content.readany()
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= limit:
                        truncated = "length"
                        break
        except TimeoutError:
            truncated = "time"
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError):
            truncated = "disconnect"
        if truncated:
            response.close()  # never reuse a connection whose body was not read to the end
        body = b"".join(chunks)[:limit]
        version = response.version
        protocol = f"HTTP/{version.major}.{version.minor}" if version else "HTTP/1.1"
        request_headers = [(k, v) for k, v in response.request_info.headers.items()]
        exchange = Exchange(
            url=url, ip=ip, request_line=_request_line(url), request_headers=request_headers,
            protocol=protocol, status_line=f"{response.status} {response.reason or ''}".strip(),
            headers=[(k.decode("latin-1"), v.decode("latin-1"))
                     for k, v in response.raw_headers],
            body=body, truncated=truncated)
        return Fetched(url, exchange=exchange, status=response.status)

    @staticmethod
    def _peer(response: aiohttp.ClientResponse) -> str | None:
        connection = response.connection
        if connection is None or connection.transport is None:
            return None
        peer = connection.transport.get_extra_info("peername")
        return str(peer[0]) if peer else None

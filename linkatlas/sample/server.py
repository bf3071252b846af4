"""An asyncio HTTP/1.1 server for a sample Web: one listener per 127.0.0.x address, one port.

Requests are routed by the Host header, or by the local address when the Host header names no
live host (e.g. a bare IP). It speaks enough HTTP/1.1 for crawlers: keep-alive (pipelined requests
are answered in order), HEAD, GET and POST with a Content-Length body; chunked request bodies are
refused with 501. A plain asyncio.Protocol, because streams cost about three times as much per
request and the benchmarks want thousands of pages a second. Every request is
logged (method, host, target, monotonic time, user agent, status) so tests can check politeness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from types import TracebackType

from ..errors import NetError
from .web import Web

__all__ = ["Request", "SampleServer", "serve", "serve_in_thread"]

_MAX_HEAD = 65536


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; `time` is its arrival, time.monotonic()."""

    method: str
    host: str
    target: str
    time: float
    user_agent: str
    address: str
    status: int


class SampleServer:
    """A running sample web; close() or `async with` stops it. `log` holds every request,
    `errors` any exception the generator raised (answered with 500; tests assert it empty)."""

    def __init__(self, web: Web, port: int, delay: float = 0.0) -> None:
        self.web = web
        self.port = port
        self.delay = delay
        self.log: list[Request] = []
        self.errors: list[Exception] = []
        self._hits: dict[tuple[str, str], int] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: set[_Connection] = set()
        self._primary: dict[str, str] = {}
        self._date = (0, "")

    async def start(self) -> None:
        """Listen on every address of web.hosts; port 0 picks one free port for all."""
        addresses = list(dict.fromkeys(self.web.hosts.values()))
        loop = asyncio.get_running_loop()
        for address in addresses:
            try:
                server = await loop.create_server(lambda: _Connection(self), address,
                                                  self.port, reuse_address=True)
            except OSError as error:
                await self.close()
                reason = os.strerror(error.errno) if error.errno else str(error)
                raise NetError(f"cannot listen on {address}:{self.port}: {reason}") from error
            self._servers.append(server)
            if self.port == 0:
                self.port = server.sockets[0].getsockname()[1]
        self._primary = {}
        for name, address in self.web.hosts.items():
            self._primary.setdefault(address, name)

    def switch(self, web: Web) -> None:
        """Serve another round of the same web (its addresses must already be bound)."""
        self.web = web
        self._hits.clear()

    def url(self, host: str, path: str = "/") -> str:
        """Absolute URL of path on host at this server's port."""
        return f"http://{host}:{self.port}{path}"

    def requests(self, host: str | None = None) -> list[Request]:
        """Logged requests, all or for one host."""
        return [r for r in list(self.log) if host is None or r.host == host]

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def __aenter__(self) -> SampleServer:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()

    def _handle(self, method: str, target: str, headers: dict[str, str], local: str,
                keep: bool, arrived: float) -> bytes:
        """The response bytes of one parsed request."""
        try:
            return self._answer(method, target, headers, local, keep, arrived)
        except Exception as error:  # a generator bug must not hang the client
            self.errors.append(error)
            return self._head(500, (), 0, close=True)

    def _answer(self, method: str, target: str, headers: dict[str, str], local: str,
                keep: bool, arrived: float) -> bytes:
        if method not in ("GET", "HEAD", "POST"):
            self.log.append(Request(method, headers.get("host", ""), target, arrived,
                                    headers.get("user-agent", ""), local, 501))
            return self._head(501, (), 0, not keep)
        if target.startswith(("http://", "https://")):  # absolute-form (RFC 9112 §3.2.2)
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            headers["host"], target = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
        host = headers.get("host", "").rsplit(":", 1)[0].lower().rstrip(".")
        if self.web.site(host) is None:
            host = self._primary.get(local, host)
        busy = False
        if target.startswith("/busy/"):
            key = (host, target)
            self._hits[key] = self._hits.get(key, 0) + 1
            busy = self._hits[key] % 2 == 1
        page = self.web.page(host, target, self.port, "GET" if method == "POST" else method,
                             busy)
        self.log.append(Request(method, host, target, arrived, headers.get("user-agent", ""),
                                local, page.status))
        # A HEAD answer announces the length a GET would get (RFC 9110 §9.3.2).
        return self._head(page.status, page.headers, len(page.body), not keep) + (
            page.body if method != "HEAD" else b"")

    def _head(self, status: int, headers: tuple[tuple[str, str], ...], length: int,
              close: bool = False) -> bytes:
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Date: {self._date[1]}",
                 "Server: linkatlas-sample", *(f"{k}: {v}" for k, v in headers),
                 f"Content-Length: {length}"]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Connection(asyncio.Protocol):
    """One client connection: parses requests in order, answers each after the server delay."""

    def __init__(self, server: SampleServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.local = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.local = transport.get_extra_info("sockname")[0]
        self.server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _next(self) -> None:
        """Serve the next complete request in the buffer, if any."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self._fail(431)
            return
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        request_line = lines[0].split(" ")
        if len(request_line) != 3 or not request_line[2].startswith("HTTP/1."):
            return self._fail(400)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._fail(501)
        length = headers.get("content-length", "0")
        if not length.isdigit():
            return self._fail(400)
        if len(self.buffer) < end + 4 + int(length):
            return
        del self.buffer[:end + 4 + int(length)]
        method, target, version = request_line
        connection = headers.get("connection", "").lower()
        keep = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        self.busy = True
        arrived = time.monotonic()
        if self.server.delay:
            asyncio.get_running_loop().call_later(self.server.delay, self._reply, method,
                                                  target, headers, keep, arrived)
        else:
            self._reply(method, target, headers, keep, arrived)

    def _reply(self, method: str, target: str, headers: dict[str, str], keep: bool,
               arrived: float) -> None:
        if self.transport is None:
            return
        self.transport.write(self.server._handle(method, target, headers, self.local, keep,
                                                 arrived))
        self.busy = False
        if not keep:
            self.transport.close()
        elif self.buffer:
            self._next()

    def _fail(self, status: int) -> None:
        if self.transport is not None:
            self.transport.write(self.server._head(status, (), 0, close=True))
            self.transport.close()


async def serve(web: Web, port: int, *, delay: float = 0.0) -> SampleServer:
    """Start serving web on port (0: any free port, see .port) on all its addresses."""
    server = SampleServer(web, port, delay)
    await server.start()
    return server


@contextlib.contextmanager
def serve_in_thread(web: Web, port: int, delay: float = 0.0) -> Iterator[SampleServer]:
    """Serve web from an event loop in a background thread, for synchronous callers."""
    loop = asyncio.new_event_loop()
    ready: list[SampleServer | BaseException] = []
    started = threading.Event()

    async def _start() -> None:
        try:
            ready.append(await serve(web, port, delay=delay))
        except BaseException as error:  # handed to the caller's thread below
            ready.append(error)
        started.set()

    def _run() -> None:
        asyncio.set_event_loop(loop)
        loop.create_task(_start())
        loop.run_forever()

    thread = threading.Thread(target=_run, name="linkatlas-sample", daemon=True)
    thread.start()
    started.wait()
    try:
        result = ready[0]
        if isinstance(result, BaseException):
            raise result
        yield result
    finally:
        if ready and isinstance(ready[0], SampleServer):
            asyncio.run_coroutine_threadsafe(ready[0].close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

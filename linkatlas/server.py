"""`serve`: the whole app — the API, its pages, the report and the re-check endpoint — on uvicorn,
with N worker processes. The API knows none of the others; they are composed here.

uvicorn starts workers from an import string, so settings travel in environment variables;
PROMETHEUS_MULTIPROC_DIR lets /metrics sum all workers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from .api import app
from .api.app import Pages, Settings
from .errors import UsageError
from .watch.recheck_api import recheck_routes
from .web import pages
from .web.report import routes as report_routes

__all__ = ["Settings", "app_from_environment", "create_app", "serve"]

_ENV = ("LINKATLAS_DATA", "LINKATLAS_LEDGER", "LINKATLAS_QUERY_TIMEOUT",
        "LINKATLAS_RECHECK_HOSTS", "LINKATLAS_RECHECK_POLICY")
HEADER_TIMEOUT = 10.0  # seconds a client has to send a request's headers (docs/security.md)


class NoDelayH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with TCP_NODELAY set on every connection: with --workers
    uvicorn creates the listening socket itself and asyncio no longer sets it, so every
    kept-alive answer after the first waited ~40 ms for delayed ACKs (Nagle).

    It also bounds the time to send a request's headers (uvicorn has no such timeout, and its
    keep-alive timer restarts on every byte): a connection whose headers are not complete
    `header_timeout` seconds after it opened, or after its previous answer, is closed, so a
    slow client (slowloris) cannot hold connections open forever."""

    header_timeout = HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._waiting():
            self._arm()
        super().data_received(data)
        if not self._waiting():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._waiting():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting(self) -> bool:
        """True while no request's headers are in (before the first, between two)."""
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self._waiting() and not self.transport.is_closing():
            self.transport.close()


def create_app(settings: Settings) -> Starlette:
    """The API with its pages (web/), the report (web/report.py) and POST /recheck (watch/)."""
    return app.create_app(settings, Pages(home=pages.home, docs=pages.docs),
                          (report_routes, recheck_routes))


def app_from_environment() -> Starlette:
    """uvicorn factory: the app for the settings `serve` put in the environment."""
    _log_to_stderr()
    ledger = os.environ.get("LINKATLAS_LEDGER") or None
    hosts = os.environ.get("LINKATLAS_RECHECK_HOSTS") or None
    policy = os.environ.get("LINKATLAS_RECHECK_POLICY", "").split(",")
    return create_app(Settings(Path(os.environ["LINKATLAS_DATA"]), ledger,
                               float(os.environ.get("LINKATLAS_QUERY_TIMEOUT", "30")),
                               Path(hosts) if hosts else None, "hosts-only" in policy,
                               "allow-private" in policy))


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
          announce: Callable[[str], None] | None = None) -> None:
    if workers < 1:
        raise UsageError(f"--workers: must be at least 1, got {workers}")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: not a port number: {port}")
    os.environ["LINKATLAS_DATA"] = str(settings.data.resolve())
    os.environ["LINKATLAS_LEDGER"] = settings.ledger or ""
    os.environ["LINKATLAS_QUERY_TIMEOUT"] = str(settings.query_timeout)
    os.environ["LINKATLAS_RECHECK_HOSTS"] = str(settings.hosts.resolve()) if settings.hosts else ""
    os.environ["LINKATLAS_RECHECK_POLICY"] = ",".join(
        name for name, on in (("hosts-only", settings.hosts_only),
                              ("allow-private", settings.allow_private)) if on)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="linkatlas-metrics-")
    create_app(settings).state.api.ledger.close()  # fail fast on a bad ledger URL
    if announce:
        announce(f"http://{host}:{port}/")
    uvicorn.run("linkatlas.server:app_from_environment", factory=True, host=host,
                port=port, workers=workers, access_log=False, log_level="warning",
                http=NoDelayH11,
                # A second Ctrl-C during shutdown made uvicorn log the cancelled lifespan task
                # as a traceback; the ledger's connections close with the process anyway.
                lifespan="off")
    # uvicorn has shut down and given SIGINT back to Python: a Ctrl-C from now on would land
    # in the interpreter's own teardown and print there as an ignored exception.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop_at_once)


def _stop_at_once(signum: int, frame: object) -> None:
    os._exit(128 + signum)

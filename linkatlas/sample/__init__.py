"""The sample web used by `demo`, tests and benchmarks: generator, hosts file and server."""

from __future__ import annotations

from .builder import Link
from .server import Request, SampleServer, serve, serve_in_thread
from .sites import UNKNOWN_HOSTS, Site
from .web import Page, Web, generate

__all__ = [
    "UNKNOWN_HOSTS",
    "Link",
    "Page",
    "Request",
    "SampleServer",
    "Site",
    "Web",
    "generate",
    "serve",
    "serve_in_thread",
]

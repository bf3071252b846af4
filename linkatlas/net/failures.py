"""What went wrong on the network, as one check-log `error` value (observations.py ERRORS), for
the crawler and the checker alike: NXDOMAIN is a verdict (`dns`) when the resolver is proven
to work, else `resolver`; the rest transient."""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator

import aiohttp

from .resolver import AddressRefused, HostNotFound, ResolverDown

__all__ = ["error_kind"]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__, getattr(item, "os_error", None)]


def error_kind(exc: BaseException) -> str:
    """The check-log error for an exception raised while observing a URL."""
    causes = list(_causes(exc))
    for kind, classes in (("resolver", (ResolverDown,)), ("dns", (HostNotFound,)),
                          ("address", (AddressRefused,)),
                          ("tls", (aiohttp.ClientSSLError, ssl.SSLError)),
                          ("timeout", (TimeoutError,)),
                          ("refused", (ConnectionRefusedError,)),
                          ("reset", (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                                     ConnectionResetError, ConnectionAbortedError,
                                     BrokenPipeError))):
        if any(isinstance(cause, classes) for cause in causes):
            return kind
    codes = {getattr(cause, "errno", None) for cause in causes}
    if errno.ECONNREFUSED in codes:
        return "refused"
    if codes & {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}:
        return "reset"
    return "other"

"""Names and addresses (spec/CLI.md): the `--hosts` file, `--hosts-only`, and the refusal of
private, loopback and link-local addresses, as one aiohttp resolver shared by crawl and check.

NXDOMAIN is told apart from other lookup failures because it is a verdict (`error=dns`), while
a failed or slow lookup is only a transient observation.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import aiodns
from aiohttp.abc import AbstractResolver, ResolveResult

from ..errors import NetError

__all__ = ["AddressRefused", "HostNotFound", "Resolver", "read_hosts"]


class HostNotFound(OSError):
    """Raised when a name does not exist (NXDOMAIN, or any unlisted name with --hosts-only)."""


class AddressRefused(OSError):
    """Raised when a name resolves only to addresses the policy refuses (private, loopback…)."""


def read_hosts(path: Path) -> dict[str, list[str]]:
    """Parse a hosts file: `IP name [name ...]` per line, `#` starts a comment."""
    names: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise NetError(f"--hosts: cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0]))
        except ValueError:
            raise NetError(f"--hosts: {path}:{number}: not an IP address: {fields[0]!r}") from None
        for name in fields[1:]:
            names.setdefault(name.lower().rstrip("."), []).append(address)
    return names


def is_public(address: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses."""
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


class Resolver(AbstractResolver):
    """Resolve through the hosts file first, then DNS (aiodns) unless hosts_only.

    Addresses listed in the hosts file are always allowed; other addresses must be public
    unless allow_private. aiohttp does not call a resolver for IP literals, so callers check
    those with `check_literal` before connecting.
    """

    def __init__(self, hosts: dict[str, list[str]] | None = None, *, hosts_only: bool = False,
                 allow_private: bool = False) -> None:
        self.hosts = hosts or {}
        self.hosts_only = hosts_only
        self.allow_private = allow_private
        self._dns: aiodns.DNSResolver | None = None

    def allowed(self, address: str) -> bool:
        return self.allow_private or is_public(address)

    def check_literal(self, host: str) -> None:
        """Raise AddressRefused for a refused IP literal; names pass (they go through resolve)."""
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        listed = any(host.strip("[]") in addresses for addresses in self.hosts.values())
        if not listed and not self.allowed(host.strip("[]")):
            raise AddressRefused(None, f"refused address {host}")

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        name = host.lower().rstrip(".")
        listed = self.hosts.get(name)
        if listed is not None:
            return [_result(host, address, port) for address in listed]
        if self.hosts_only:
            raise HostNotFound(None, f"{host}: not in the hosts file (--hosts-only)")
        addresses = await self._lookup(name)
        allowed = [address for address in addresses if self.allowed(address)]
        if not allowed:
            raise AddressRefused(None, f"{host} resolves only to refused addresses {addresses}")
        return [_result(host, address, port) for address in allowed]

    async def _lookup(self, name: str) -> list[str]:
        if self._dns is None:
            self._dns = aiodns.DNSResolver()
        try:
            answer = await self._dns.getaddrinfo(name, type=socket.SOCK_STREAM,
                                                 family=socket.AF_UNSPEC)
        except aiodns.error.DNSError as exc:
            if exc.args and exc.args[0] in (aiodns.error.ARES_ENOTFOUND,
                                            aiodns.error.ARES_ENODATA):
                raise HostNotFound(None, f"{name}: no such host") from None
            raise OSError(None, f"{name}: DNS lookup failed: {exc}") from None
        return sorted({node.addr[0].decode("ascii") for node in answer.nodes})

    async def close(self) -> None:
        if self._dns is not None:
            self._dns.cancel()
            self._dns = None


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(hostname=host, host=address, port=port, family=family, proto=0,
                         flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)

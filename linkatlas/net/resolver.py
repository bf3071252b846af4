"""Names and addresses (spec/CLI.md): the `--hosts` file, `--hosts-only`, and the refusal of
private, loopback and link-local addresses, as one aiohttp resolver shared by crawl and check.

NXDOMAIN is told apart from other lookup failures because it is a verdict (`error=dns`), while
a failed or slow lookup is only a transient observation; and it is believed only while the
resolver answers real names (canary.py), else it is `error=resolver`, which decides nothing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path

import aiodns
from aiohttp.abc import AbstractResolver, ResolveResult

from ..errors import NetError
from .canary import DEFAULT_CANARIES, Canaries

__all__ = ["AddressRefused", "HostNotFound", "Resolver", "ResolverDown", "canonical_ip",
           "is_public", "parse_nameserver", "read_hosts"]


class HostNotFound(OSError):
    """Raised when a name does not exist (NXDOMAIN, or any unlisted name with --hosts-only)."""


class ResolverDown(OSError):
    """Raised for an NXDOMAIN while the resolver does not answer the canary names either: the
    resolver, not the name, is in doubt (error=resolver, undecided)."""


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


_NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address an HTTP stack may read `host` as, with inet_aton semantics: 1 to 4
    dot-separated numbers, each decimal, octal (leading 0) or hex (0x), the last filling the
    remaining bytes (`127.1`, `2130706433`, `0177.0.0.1`, `0x7f.1`, `0`); one trailing dot
    allowed. None when `host` is not such a literal; ValueError when it looks like one but
    is out of range or badly formed (a browser refuses those; so do we)."""
    parts = host.lower().removesuffix(".").split(".")
    if not parts[-1] or not _NUMBER.fullmatch(parts[-1]):
        return None  # WHATWG URL: a host is an IPv4 literal exactly when it ends in a number
    if len(parts) > 4 or not all(_NUMBER.fullmatch(part) for part in parts):
        raise ValueError(f"not a valid IPv4 address: {host!r}")
    numbers = [_number(part, host) for part in parts]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"not a valid IPv4 address: {host!r}")
    value = last
    for index, n in enumerate(head):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(part: str, host: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        if not set(part) <= set("01234567"):
            raise ValueError(f"not a valid IPv4 address: {host!r}")
        return int(part, 8)
    return int(part)


def canonical_ip(host: str) -> str | None:
    """`host` (a URL's host, brackets allowed) as a canonical IP address if any HTTP stack may
    treat it as one, else None (a name). ValueError for a malformed numeric host."""
    bare = host.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if ":" in bare:
        raise ValueError(f"not a valid IPv6 address: {host!r}")
    found = ipv4_literal(bare)
    return None if found is None else str(found)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and routes to: mapped (::ffff:a.b.c.d),
    compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:AABB:CCDD::) or Teredo."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved and unspecified addresses,
    in any spelling: non-canonical IPv4 literals, and IPv6 forms that carry a refused IPv4
    address (mapped, compatible, NAT64, 6to4, Teredo)."""
    try:
        canonical = canonical_ip(address)
    except ValueError:
        return False
    if canonical is None:
        return False
    ip = ipaddress.ip_address(canonical)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not is_public(str(embedded)):
            return False
        if ip.sixtofour is not None:  # 6to4: as public as the address it carries (Python's
            return True  # own table differs: 2002::/16 is private in 3.11.2, global in 3.11.7)
    return ip.is_global and not ip.is_multicast


class Resolver(AbstractResolver):
    """Resolve through the hosts file first, then DNS (aiodns) unless hosts_only.

    Addresses listed in the hosts file are always allowed; other addresses must be public
    unless allow_private. aiohttp does not call a resolver for IP literals, so callers check
    those with `check_literal` before connecting.
    """

    def __init__(self, hosts: dict[str, list[str]] | None = None, *, hosts_only: bool = False,
                 allow_private: bool = False, nameserver: str | None = None,
                 canaries: tuple[str, ...] = DEFAULT_CANARIES) -> None:
        self.hosts = hosts or {}
        self.hosts_only = hosts_only
        self.allow_private = allow_private
        self.nameserver = nameserver
        # With --hosts-only the hosts file is the truth: no DNS, so nothing to doubt.
        self.canaries = Canaries(self._lookup, () if hosts_only else canaries)
        self._dns: aiodns.DNSResolver | None = None

    async def resolver_works(self) -> bool:
        """Whether an NXDOMAIN from this resolver is believed now (canary.py)."""
        return await self.canaries.resolver_works()

    def allowed(self, address: str) -> bool:
        return self.allow_private or is_public(address)

    def check_literal(self, host: str) -> None:
        """Raise AddressRefused for a refused IP literal, in any spelling an HTTP stack may
        accept (`canonical_ip`); names pass (they go through resolve)."""
        try:
            address = canonical_ip(host)
        except ValueError:
            raise AddressRefused(None, f"refused address {host}: malformed") from None
        if address is None:
            return
        listed = any(address in addresses for addresses in self.hosts.values())
        if not listed and not self.allowed(address):
            raise AddressRefused(None, f"refused address {host}")

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.check_literal(host)  # a numeric host aiohttp did not take for an IP literal
        name = host.lower().rstrip(".")
        listed = self.hosts.get(name)
        if listed is not None:
            return [_result(host, address, port) for address in listed]
        if self.hosts_only:
            raise HostNotFound(None, f"{host}: not in the hosts file (--hosts-only)")
        try:
            addresses = await self._lookup(name)
        except HostNotFound:
            if not await self.canaries.resolver_works():
                raise ResolverDown(None, f"{host}: NXDOMAIN from a resolver that does not "
                                         "resolve the canary names either") from None
            raise
        allowed = [address for address in addresses if self.allowed(address)]
        if not allowed:
            raise AddressRefused(None, f"{host} resolves only to refused addresses {addresses}")
        return [_result(host, address, port) for address in allowed]

    async def _lookup(self, name: str) -> list[str]:
        if self._dns is None:
            self._dns = _dns_resolver(self.nameserver)
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


def _dns_resolver(nameserver: str | None) -> aiodns.DNSResolver:
    """The system's resolver, or the one at `nameserver` (`IP` or `IP:PORT`)."""
    if nameserver is None:
        return aiodns.DNSResolver()
    address, _, port = nameserver.rpartition(":") if nameserver.count(":") == 1 else (
        nameserver, "", "")
    if not port:
        return aiodns.DNSResolver(nameservers=[nameserver])
    return aiodns.DNSResolver(nameservers=[address], udp_port=int(port), tcp_port=int(port))


def parse_nameserver(text: str) -> str:
    """Validate `--nameserver IP[:PORT]`; NetError names a bad value."""
    address, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    try:
        ipaddress.ip_address(address.strip("[]"))
        if port and not 0 < int(port) < 65536:
            raise ValueError(port)
    except ValueError:
        raise NetError(f"--nameserver: not an IP address with an optional port: {text!r}"
                       ) from None
    return text


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(hostname=host, host=address, port=port, family=family, proto=0,
                         flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)

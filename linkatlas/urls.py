"""URL rules, in one place: normalization, SURT target keys, registered domains, mode ranges.

Normalization follows spec/COLUMNS.md: scheme and host lower-case, IDN hosts as punycode,
default ports dropped, empty path → `/`, fragment dropped, percent-encoding normalized in the
path (unreserved characters decoded, hex upper-case; RFC 3986 §6.2.2), dot segments resolved
(RFC 3986 §5.2.4), the query kept as sent (only characters that cannot appear in a URL at all,
such as spaces and non-ASCII, are percent-encoded as UTF-8, as browsers do). A normalized URL
normalizes to itself (extract/resolve.py answers a fragment link with its page's URL).

The target key is the SURT form used by CDX indexes, without the scheme:
`http://Blog.Example.com:8080/a?b` → `com,example,blog):8080/a?b`. Every API mode is then one
contiguous key range (DESIGN.md §4).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urljoin

import idna
from publicsuffixlist import PublicSuffixList

from .errors import QueryError

__all__ = [
    "MODES",
    "SCHEME",
    "host_of",
    "key_of",
    "mode_range",
    "normalize",
    "registered_domain",
]

MODES = ("exact", "domain", "subdomains", "prefix")

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_HOST_OK = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _escape_pattern(chars: frozenset[int]) -> str:
    """A regular expression of the escapes (`%2e`, `%2E`) of chars: a class of second digits
    per first digit (`2[DE]`), as fast as written by hand."""
    seconds: dict[int, str] = {}
    for byte in sorted(chars):
        seconds[byte >> 4] = seconds.get(byte >> 4, "") + f"{byte & 15:X}"
    return "%(?i:" + "|".join(f"{high:X}[{low}]" for high, low in seconds.items()) + ")"


# An escape of an unreserved character (RFC 3986 §2.3), and one that normalization has yet to
# decode or upper-case
_DECODABLE = re.compile(_escape_pattern(_UNRESERVED))
_UNFINISHED = re.compile(_DECODABLE.pattern + r"|%(?:[a-f][0-9A-Fa-f]|[0-9A-F][a-f])")
# Characters that may stand in a path as they are (RFC 3986 pchar + "/" + "%" of an escape).
_PATH_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                       "-._~!$&'()*+,;=:@/%")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
# WHATWG URL: leading/trailing C0 controls and spaces are stripped, tabs and newlines removed.
_STRIP = "".join(chr(c) for c in range(0x21))
_TAB_NL = re.compile(r"[\t\n\r]")
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986 §3.1
_OTHER_SCHEME = re.compile(SCHEME.pattern + r":(?!\d)")


def _unescape_unreserved(match: re.Match[str]) -> str:
    byte = int(match.group(1), 16)
    return chr(byte) if byte in _UNRESERVED else "%" + match.group(1).upper()


def _encode_unsafe(text: str, safe: frozenset[str]) -> str:
    if all(ch in safe for ch in text):
        return text
    return "".join(ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode("utf-8",
                   "surrogatepass")) for ch in text)


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    segments = path.split("/")
    if not any(s in (".", "..") for s in segments):
        return path
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


_SIMPLE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_SIMPLE_QUERY = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")
# scheme://[userinfo@]host[:port][path][?query][#fragment], for URLs already absolute.
_SPLIT = re.compile(r"(?i)(https?)://(?:[^@/?#\\]*@)?(\[[^\]/?#]*\]|[^:/?#\\]*)(?::([^/?#\\]*))?"
                    r"([^?#]*)(?:\?([^#]*))?")


def _path(path: str) -> str:
    if not path:
        return "/"
    if _SIMPLE.fullmatch(path) and "/." not in path:
        return path  # nothing to encode, decode or resolve: the common case
    path = _encode_unsafe(path, _PATH_SAFE)
    if "%" in path:
        path = _PERCENT.sub(_unescape_unreserved, path)
        if _UNFINISHED.search(path):  # (only after a stray "%": `%%32e` gave `%2e`)
            path = _unescape_fully(path)
    return _remove_dot_segments(path)


def _unescape_fully(path: str) -> str:
    """Escapes of unreserved characters decoded, also those that decoding makes (a stray "%"
    before `%32e` makes `%2e`: a normalized URL must normalize to itself), hex upper-case; in
    one pass (decoding again until nothing changes takes quadratic time on `%%3%3%3…%32e`)."""
    out: list[str] = []
    for char in path:
        out.append(char)
        while len(out) >= 3 and out[-3] == "%" and _DECODABLE.fullmatch("".join(out[-3:])):
            decoded = chr(int(out[-2] + out[-1], 16))
            del out[-3:]
            out.append(decoded)
    return _PERCENT.sub(_unescape_unreserved, "".join(out))


@lru_cache(maxsize=65536)
def _host(host: str) -> str | None:
    """Lower-case ASCII host (punycode for IDN), or None when it is not a valid host."""
    host = host.lower().rstrip(".")
    if not host:
        return None
    if not host.isascii():
        try:
            # (UTS 46 maps other full stops, `。`, to "." and drops some characters: a
            # trailing dot may appear only now)
            host = idna.encode(host, uts46=True).decode("ascii").rstrip(".")
        except (idna.IDNAError, UnicodeError):
            return None
    if _HOST_OK.match(host):
        return host
    if _IPV6.match(host):  # an IPv6 address: urljoin refuses others (`[1]`), so every
        # relative link against such a page was lost, or answered from another page
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        return host
    return None


@lru_cache(maxsize=1024)
def _origin(base: str) -> str | None:
    """`scheme://authority` of a base URL, for root-relative links."""
    scheme, sep, rest = base.partition("://")
    if not sep or scheme.lower() not in _DEFAULT_PORTS:
        return None
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return f"{scheme}://{rest[:end]}"


def _absolute(url: str, base: str | None) -> str:
    if base is None or url[:7].lower() == "http://" or url[:8].lower() == "https://":
        return url
    if url[:1] == "#":  # the base itself (whose fragment is dropped below): urljoin
        return base     # would drop an empty `;` parameter (`/p;` + `#f` → `/p`)
    if url[:1] == "/" and url[1:2] != "/":
        origin = _origin(base)
        if origin is not None:
            return origin + url  # root-relative: the commonest relative link
    return urljoin(base, url)


def normalize(url: str, base: str | None = None) -> str | None:
    """The normalized absolute http(s) URL, or None for other schemes and invalid URLs."""
    if url and (url[0] <= " " or url[-1] <= " "):
        url = url.strip(_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        url = _TAB_NL.sub("", url)
    if "\\" in url:  # WHATWG: a backslash is a slash in http(s) URLs
        url = url.replace("\\", "/")
    try:
        url = _absolute(url, base)
    except ValueError:  # an invalid IPv6 literal in the base or the link
        return None
    parts = _SPLIT.match(url)
    if parts is None:
        return None
    scheme, hostname, port, path, query = parts.groups()
    if path[:1] not in ("", "/"):  # `[::1]x`: a bracketed host ends at ":", "/", "?" or "#"
        return None
    scheme = scheme.lower()
    host = _host(hostname)
    if host is None:
        return None
    if port:
        if not port.isdigit() or int(port) > 65535:
            return None
        port = str(int(port))
    netloc = host if not port or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if query and not _SIMPLE_QUERY.fullmatch(query):
        query = _encode_unsafe(query, _QUERY_SAFE)
    tail = "?" + query if query else ""
    return f"{scheme}://{netloc}{_path(path)}{tail}"


def _reverse_host(host: str) -> str:
    if host.startswith("[") or host.replace(".", "").isdigit():
        return host  # IP addresses are not reversed (SURT)
    return ",".join(reversed(host.split(".")))


@lru_cache(maxsize=65536)
def _netloc_key(netloc: str) -> str:
    """`com,example,blog):8080` for `blog.example.com:8080`."""
    if netloc.startswith("["):  # IPv6 literal: [::1]:8080
        end = netloc.index("]") + 1
        host, port = netloc[:end], netloc[end + 1:]
    else:
        host, _, port = netloc.partition(":")
    port_part = f":{port}" if port else ""
    return f"{_reverse_host(host)}){port_part}"


def key_of(url: str) -> str:
    """SURT key of a normalized URL: reversed host, `)`, optional `:port`, path and query."""
    rest = url.split("://", 1)[1]
    slash = rest.find("/")
    if slash < 0:
        return _netloc_key(rest) + "/"
    return _netloc_key(rest[:slash]) + rest[slash:]


def host_of(url: str) -> str:
    """Host of a normalized URL, without the port."""
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    if netloc.startswith("["):
        return netloc[: netloc.index("]") + 1]
    return netloc.split(":", 1)[0]


# The list bundled with the package (no download); ICANN section only: a subdomain of a
# hosting suffix (*.github.io) is part of that registered domain, as the list's users mostly
# count. publicsuffixlist, not tldextract: tldextract imports requests (≈70 ms of every build).
_PSL = PublicSuffixList(only_icann=True)


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """Registered domain by the Public Suffix List, with its default rule (`*`): an unlisted
    TLD is a one-label suffix, so `blog.alpha.test` → `alpha.test`. IPs, public suffixes and
    single labels are their own domain."""
    if host.startswith("[") or host.replace(".", "").isdigit():
        return host
    return _PSL.privatesuffix(host) or host


def is_public_suffix(name: str) -> bool:
    """Whether name is a public suffix under the rules registered_domain follows: then any
    `label.name` is its own registered domain."""
    return bool(_PSL.is_public(name))


def _successor(prefix: str) -> str:
    """The least string greater than every string that starts with prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def target_url(target: str) -> str:
    """Normalize an API target (scheme optional and ignored) to a URL."""
    text = target.strip()
    if not text:
        raise QueryError("target", "missing")
    if "://" not in text:
        if _OTHER_SCHEME.match(text):  # mailto:, javascript: … (host:port is fine)
            raise QueryError("target", f"not a valid domain, directory or URL: {target!r}")
        text = "http://" + text
    url = normalize(text)
    if url is None:
        raise QueryError("target", f"not a valid domain, directory or URL: {target!r}")
    return url


def mode_range(target: str, mode: str) -> tuple[str, str]:
    """Half-open key range [lo, hi) of the url_to keys a target and mode select."""
    if mode not in MODES:
        raise QueryError("mode", f"invalid value {mode!r}; expected exact, domain, subdomains "
                         "or prefix")
    key = key_of(target_url(target))
    host_key = key[: key.index(")")]
    if mode == "exact":
        return key, key + "\x00"
    if mode == "prefix":
        return key, _successor(key)
    if mode == "domain":
        return host_key + ")", host_key + "*"
    # `)` (0x29) and `,` (0x2C) are the only bytes that may follow a host in a key among
    # 0x29…0x2C, so `host)…` and `host,…` (its subdomains) form one range.
    return host_key + ")", host_key + "-"

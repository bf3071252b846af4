"""The report's redirect map as CSV, an nginx `map` and Apache mod_rewrite rules.

Semantics (docs/report.md): a dead URL redirects (301) only when a request's host, path and
query string equal the dead URL's, whatever the scheme; a request with another or no query
string, or a longer path, is not redirected. Apache's `Redirect` would match path prefixes
and ignore query strings: it is never used.

Dead URLs come from strangers' links. A pair is written only when both URLs are absolute
http(s) URLs made of the characters listed in `_SAFE` (no quotes, spaces, braces, semicolons,
`$`, backslashes or controls), so no URL can end a string, a directive or a block of the
configuration; every other pair is left out and counted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["FORMATS", "Pair", "apache", "csv_map", "nginx", "render", "safe_pairs"]

# RFC 3986 unreserved and reserved characters and %, minus ' ; $ and the brackets.
_SAFE = re.compile(r"[A-Za-z0-9\-._~:/?#@!&()*+,=%]+")
_HOST = re.compile(r"[a-z0-9.-]+(:[0-9]{1,5})?")
# After decoding (Apache compares the decoded path): printable ASCII without quotes,
# backslash, braces, semicolon, `$` or space.
_DECODED = re.compile(r"[!#&()*+,\-./0-9:=?@A-Z\[\]^_a-z|~]*")


@dataclass(frozen=True)
class Pair:
    source: str  # the dead URL
    target: str  # where it redirects


def _parts(url: str) -> tuple[str, str, str] | None:
    """(host, path, query) of a safe absolute http(s) URL, else None."""
    if not _SAFE.fullmatch(url) or "#" in url:
        return None
    split = urlsplit(url)
    if split.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(split.netloc.lower()):
        return None
    return split.netloc.lower().split(":", 1)[0], split.path or "/", split.query


def safe_pairs(pairs: Iterable[tuple[str, str]]) -> tuple[list[Pair], int]:
    """The pairs fit to write (deduplicated by dead URL, first wins) and how many were left
    out."""
    kept: dict[str, Pair] = {}
    left_out = 0
    for source, target in pairs:
        if source in kept:
            continue
        parts = _parts(source)
        if (parts is None or _parts(target) is None or source == target
                or not _DECODED.fullmatch(unquote(parts[1]))
                or "?" in source and not parts[2]):
            left_out += 1
            continue
        kept[source] = Pair(source, target)
    return list(kept.values()), left_out


def _header(comment: str, count: int, left_out: int) -> str:
    return (f"{comment} linkatlas redirect map: {count} redirects (301, exact host, path and "
            f"query, any scheme); {left_out} left out (unsafe characters)\n")


def csv_map(pairs: list[Pair], left_out: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("from", "to", "status"))
    writer.writerows((pair.source, pair.target, 301) for pair in pairs)
    return buffer.getvalue()


def _literal_pattern(text: str) -> str:
    """A PCRE pattern matching text exactly: every character but a letter or digit is
    backslash-quoted (PCRE reads such a pair as the character itself; nginx keeps the
    backslash, as none of them is ", ', \\, t, r or n)."""
    return "".join(c if c.isascii() and c.isalnum() else "\\" + c for c in text)


def nginx(pairs: list[Pair], left_out: int) -> str:
    """An `http`-level map from `$host$request_uri` to the target, and the line that uses it
    inside a `server` block (commented). The keys are anchored, case-sensitive patterns of the
    literal URL: nginx compares plain map strings ignoring case, and paths are not."""
    lines = [_header("#", len(pairs), left_out),
             "# In each server block:  if ($linkatlas_redirect) { return 301 "
             "$linkatlas_redirect; }\n",
             "map $host$request_uri $linkatlas_redirect {\n", '    default "";\n']
    for pair in pairs:
        host, path, query = _parts(pair.source)  # type: ignore[misc]
        key = host + path + (f"?{query}" if query else "")
        lines.append(f'    "~^{_literal_pattern(key)}$" "{pair.target}";\n')
    lines.append("}\n")
    return "".join(lines)


def _escape_substitution(url: str) -> str:
    # mod_rewrite reads $N and %N in a substitution as back-references; \ quotes them.
    return url.replace("%", "\\%")


def apache(pairs: list[Pair], left_out: int) -> str:
    """mod_rewrite rules for a server or virtual host: each compares the host (any port),
    the decoded path and the raw query string as plain strings (`=`), never as patterns."""
    lines = [_header("#", len(pairs), left_out), "RewriteEngine On\n"]
    for pair in pairs:
        host, path, query = _parts(pair.source)  # type: ignore[misc]
        lines += [
            f"RewriteCond %{{HTTP_HOST}} ^{re.escape(host)}(:[0-9]+)?$ [NC]\n",
            f"RewriteCond %{{REQUEST_URI}} ={unquote(path)}\n",
            f"RewriteCond %{{QUERY_STRING}} ={query}\n" if query else
            "RewriteCond %{QUERY_STRING} ^$\n",
            f"RewriteRule ^ {_escape_substitution(pair.target)} [R=301,L,NE,QSD]\n"]
    return "".join(lines)


FORMATS = {"csv": ("text/csv; charset=utf-8", csv_map),
           "nginx": ("text/plain; charset=utf-8", nginx),
           "apache": ("text/plain; charset=utf-8", apache)}


def render(format_: str, pairs: Iterable[tuple[str, str]]) -> str:
    kept, left_out = safe_pairs(pairs)
    return FORMATS[format_][1](kept, left_out)

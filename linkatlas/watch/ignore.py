"""The ignore list (`linkatlas ignore add|remove|list`): patterns whose backlinks digests leave
out and the report marks. Kept in DIR/ignore.txt, one pattern per line, as the user typed it.

A pattern is one of (ours):
- a URL (`http://example.com/old`): that dead URL, whatever the scheme;
- a URL prefix, a URL ending in `*` (`http://example.com/blog/*`): every dead URL under it;
- a referring domain, a host without scheme or path (`spam.example`): backlinks from pages on
  it or on its subdomains.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import urls
from ..errors import UsageError

__all__ = ["Ignore", "Pattern", "add", "load", "parse", "remove"]

FILE = "ignore.txt"


@dataclass(frozen=True)
class Pattern:
    text: str    # as given (and stored)
    kind: str    # url, prefix or domain
    value: str   # target key (url), key prefix (prefix) or host (domain)

    def matches(self, url_from: str, url_to: str) -> bool:
        if self.kind == "domain":
            return ("." + urls.host_of(url_from)).endswith("." + self.value)
        key = urls.key_of(url_to)
        return key == self.value if self.kind == "url" else key.startswith(self.value)


def parse(text: str) -> Pattern:
    """A pattern from its text, or UsageError naming it."""
    given = text.strip()
    if not given or any(c.isspace() for c in given):
        raise UsageError(f"ignore: not a URL, URL prefix or domain: {text!r}")
    if "://" in given:
        prefix = given.endswith("*")
        url = urls.normalize(given.rstrip("*"))
        if url is None or "*" in given.rstrip("*"):
            raise UsageError(f"ignore: not a URL or URL prefix: {text!r}")
        key = urls.key_of(url)
        if prefix and given.rstrip("*").count("/") < 3:  # `http://host*`: the whole host
            key = key[:-1]
        return Pattern(given, "prefix" if prefix else "url", key)
    host = urls.normalize(f"http://{given}/")
    if host is None or "/" in given or "*" in given:
        raise UsageError(f"ignore: not a referring domain (a host name): {text!r}")
    return Pattern(given, "domain", urls.host_of(host))


@dataclass(frozen=True)
class Ignore:
    patterns: tuple[Pattern, ...]

    def matches(self, url_from: str, url_to: str) -> Pattern | None:
        """The first pattern that silences this backlink, or None."""
        return next((p for p in self.patterns if p.matches(url_from, url_to)), None)


def _path(data: Path) -> Path:
    return data / FILE


def _texts(data: Path) -> list[str]:
    try:
        lines = _path(data).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def load(data: Path) -> Ignore:
    """The ignore list of DIR (empty when there is none); a bad line is skipped."""
    patterns = []
    for text in _texts(data):
        try:
            patterns.append(parse(text))
        except UsageError:
            continue  # edited by hand: one bad line silences nothing, breaks nothing
    return Ignore(tuple(patterns))


def _save(data: Path, texts: list[str]) -> None:
    data.mkdir(parents=True, exist_ok=True)
    temp = data / f".{FILE}.{os.getpid()}"
    temp.write_text("".join(f"{t}\n" for t in texts), encoding="utf-8")
    os.replace(temp, _path(data))


def add(data: Path, text: str) -> Pattern:
    pattern = parse(text)
    texts = _texts(data)
    if pattern.text not in texts:
        _save(data, [*texts, pattern.text])
    return pattern


def remove(data: Path, text: str) -> bool:
    """Remove a pattern; False when it was not in the list."""
    texts = _texts(data)
    if text.strip() not in texts:
        return False
    _save(data, [t for t in texts if t != text.strip()])
    return True

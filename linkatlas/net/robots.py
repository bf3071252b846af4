"""robots.txt facts both the crawler and the checker obey (RFC 9309): how much of a file and how
many redirects to its location we accept, and the origin it applies to (whose rules we read:
rules/links.py ROBOTS_TOKEN)."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["MAX_ROBOTS_BYTES", "MAX_ROBOTS_REDIRECTS", "origin_of"]

MAX_ROBOTS_BYTES = 500 * 1024  # §2.5: at least 500 KiB are parsed
MAX_ROBOTS_REDIRECTS = 5       # §2.3.1.2: at least five hops are followed


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a normalized URL: robots.txt applies per origin (§2.3)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"

"""Request parameters as v2 clients send them (spec/CLIENT-REQUESTS.md).

`+` and `%20` are spaces; parameters keep their order; repeated `where`/`having` are kept
whole. One client does not encode `target`, so `target=https://x/a?b=1&c=2` arrives split:
parameters that are not v2 names and follow `target` are put back into it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

__all__ = ["KNOWN", "parse_params"]

KNOWN = frozenset({"token", "from", "target", "mode", "select", "where", "having", "order_by",
                   "limit", "offset", "output", "one_per_domain", "csv_raw"})
MAX_QUERY = 64 * 1024  # bytes of query string or form body read at most


def parse_params(*raw: str) -> dict[str, list[str]]:
    """Merge query strings / form bodies (in order) into name → values."""
    params: dict[str, list[str]] = {}
    for text in raw:
        pairs = parse_qsl(text[:MAX_QUERY], keep_blank_values=True, errors="replace")
        after_target = False
        for name, value in pairs:
            if name == "target":
                after_target = True
            elif name not in KNOWN and after_target and params.get("target"):
                params["target"][-1] += f"&{name}={value}"
                continue
            elif name in KNOWN:
                after_target = False
            params.setdefault(name, []).append(value)
    return params

"""Request parameters: the one table of them (spec/API.md Request), and how v2 clients send
them (spec/CLIENT-REQUESTS.md).

The table gives each parameter's default, its accepted values and its help text; the planner
validates by it, and the /docs page and the options of `linkatlas query` are generated from it.

`+` and `%20` are spaces; parameters keep their order; repeated `where`/`having` are kept
whole. One client does not encode `target`, so `target=https://x/a?b=1&c=2` arrives split:
parameters that are not v2 names and follow `target` are put back into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from ..columns import TIE_BREAK
from .tables import BACKLINKS, TABLES

__all__ = ["KNOWN", "MAX_LIMIT", "OUTPUTS", "PARAM", "PARAMS", "QUERY_TIMEOUT", "TABLE_NAMES",
           "Param", "parse_params"]

MAX_LIMIT = 5_000_000  # spec/API.md: limit, and offset + limit
QUERY_TIMEOUT = 30.0  # seconds: the default deadline of a request, in `serve` and in `query`
OUTPUTS = ("json", "xml", "php", "csv")
FLAG = ("1", "0")  # what a flag parameter is documented to take (`true`/`false` work too)
# what `from=` may name: the row tables, then the free one
TABLE_NAMES = (BACKLINKS.name, "subscription_info",
               *(name for name in TABLES if name != BACKLINKS.name))


@dataclass(frozen=True)
class Param:
    """One request parameter. `help` is prose for /docs and `--help` (backticks mark code);
    `default` is the value an absent parameter has, as a client would send it."""

    name: str
    help: str
    default: str | None = None      # None: no default (required, or nothing applied)
    required: bool = False
    choices: tuple[str, ...] = ()   # the accepted values, when they are a closed set
    low: int | None = None          # an integer parameter's range
    high: int | None = None
    repeat: bool = False            # may be given more than once; the parts are ANDed
    cli: bool = True                # an option of `linkatlas query` (no token, no from)

    @property
    def flag(self) -> bool:
        return self.choices == FLAG


def _either(values: tuple[str, ...]) -> str:
    quoted = [f"`{value}`" for value in values]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


PARAMS: tuple[Param, ...] = (
    Param("token", "API token (40 lower-case hex characters); authenticates and bills the "
          "caller", required=True, cli=False),
    Param("from", f"the table: {_either(TABLE_NAMES)} (every one but the first two is ext)",
          required=True, choices=TABLE_NAMES, cli=False),
    Param("target", "a domain, a directory (URL prefix) or a URL; the scheme is ignored",
          required=True),
    # the modes' one home is urls.MODES (validation); named here for the reader only, and
    # tests/test_params.py holds the two equal (importing urls costs 0.2 s of CLI start)
    Param("mode", "how `target` is matched: `exact`, `domain`, `subdomains` or `prefix`",
          required=True),
    Param("select", "comma-separated column names; `*` is the "
          f"{len(BACKLINKS.names)} columns (ext columns only when named)", default="*"),
    Param("where", "condition on the backlink rows, before domain metrics are joined",
          repeat=True),
    Param("having", "condition on the finished rows", repeat=True),
    Param("order_by", "`col[:asc|:desc],...`, ascending without a direction; ties are broken "
          f"by {', '.join(TIE_BREAK)} (a backlink's identity), so paging is stable",
          default=BACKLINKS.default_order),
    Param("limit", f"rows to answer, 1 … {MAX_LIMIT:,}", default="1000", low=1, high=MAX_LIMIT),
    Param("offset", f"rows to skip (free; `offset + limit` at most {MAX_LIMIT:,})",
          default="0", low=0, high=MAX_LIMIT - 1),
    Param("output", f"{_either(OUTPUTS)} (csv is ext)", default="json", choices=OUTPUTS),
    Param("one_per_domain", "(ext) `1`: per referring registered domain (and per target in "
          "`broken_backlinks`) only the link from the page with the highest URL Rating; ties "
          "go to the first in identity order. Applied after `where`, before `having`",
          default="0", choices=FLAG),
    Param("csv_raw", "(ext) `1` writes csv cells verbatim, for programs; by default a text "
          "cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` "
          "so that a spreadsheet shows it as text instead of running it (OWASP CSV "
          "injection)", default="0", choices=FLAG),
)
PARAM = {param.name: param for param in PARAMS}
KNOWN = frozenset(PARAM)
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

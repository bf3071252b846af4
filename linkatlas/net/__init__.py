"""Network policy shared by crawl and check: hosts file, --hosts-only, address refusal, the
polite per-host schedule (polite.py), Retry-After (retry.py) and robots.txt facts (robots.py)."""

from .failures import error_kind
from .resolver import (
                       AddressRefused,
                       HostNotFound,
                       Resolver,
                       ResolverDown,
                       parse_nameserver,
                       read_hosts,
)

__all__ = ["AddressRefused", "HostNotFound", "Resolver", "ResolverDown", "error_kind",
           "parse_nameserver", "read_hosts"]

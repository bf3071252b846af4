"""Network policy shared by crawl and check: hosts file, --hosts-only, address refusal."""

from .failures import error_kind
from .resolver import AddressRefused, HostNotFound, Resolver, read_hosts

__all__ = ["AddressRefused", "HostNotFound", "Resolver", "error_kind", "read_hosts"]

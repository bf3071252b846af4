"""Network policy shared by crawl and check: hosts file, --hosts-only, address refusal."""

from .resolver import AddressRefused, HostNotFound, Resolver, read_hosts

__all__ = ["AddressRefused", "HostNotFound", "Resolver", "read_hosts"]

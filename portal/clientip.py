"""The address of the client behind a request: the one function the portal asks.

``REMOTE_ADDR`` is the client, unless the request came from a trusted proxy
(``TIDEGATE_TRUSTED_PROXIES``: addresses or CIDRs). Then the client is the rightmost
``X-Forwarded-For`` entry that is not itself a trusted proxy: each proxy appends the address
it received from, so entries right of the first untrusted one were written by our proxies and
everything to its left is whatever the client chose to send. A request not from a trusted
proxy never has its header believed.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def parse_trusted_proxies(value: str) -> tuple[str, ...]:
    """The comma-separated setting as a tuple of entries; ValueError names a bad one."""
    entries = tuple(part.strip() for part in value.split(",") if part.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is neither an IP address nor a CIDR") from None
    return entries


def _address(text: str | None) -> Address | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str | None:
    """The client's address as text (None when even ``REMOTE_ADDR`` is not an address)."""
    remote = _address(request.META.get("REMOTE_ADDR"))
    if remote is None:
        return None
    networks = _networks(tuple(settings.TIDEGATE["TRUSTED_PROXIES"]))
    if not networks or not _trusted(remote, networks):
        return str(remote)
    client = remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            # Not an address: nothing left of it can be trusted; the last proxy that
            # handed it on is the best we know.
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)

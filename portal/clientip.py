"""The address of the client behind a request: the one function the portal asks.

``REMOTE_ADDR`` is the client, unless the request came from a trusted proxy
(``TIDEGATE_TRUSTED_PROXIES``: addresses or CIDRs). Then the client is the rightmost
``X-Forwarded-For`` entry that is not itself a trusted proxy: each proxy appends the address
it received from, so entries right of the first untrusted one were written by our proxies and
everything to its left is whatever the client chose to send. A request not from a trusted
proxy never has its header believed.

Sign-in limits count by :func:`lockout_address`: an IPv4 client by its address, an IPv6 client
by its network (``TIDEGATE_LOCKOUT_IPV6_PREFIX``, default /64, what one subscriber is
usually given), written as the network's first address, since one host can take any address
of its /64 at will.
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


def lockout_address(request) -> str | None:
    """What the sign-in limits count a client under (``AXES_CLIENT_IP_CALLABLE``): the IPv4
    address, or the first address of the IPv6 client's /``LOCKOUT_IPV6_PREFIX`` network
    (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    text = client_ip(request)
    address = _address(text)
    if address is None:
        return text
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 4:
        return str(address)
    host_bits = 128 - settings.TIDEGATE["LOCKOUT_IPV6_PREFIX"]
    return str(ipaddress.IPv6Address(int(address) >> host_bits << host_bits))


def lockout_label(key: str | None) -> str | None:
    """A :func:`lockout_address` as people read it: ``2001:db8::/64`` for an IPv6 network."""
    address = _address(key)
    prefix = settings.TIDEGATE["LOCKOUT_IPV6_PREFIX"]
    if address is None or address.version == 4 or prefix == 128:
        return key
    return f"{address}/{prefix}"

"""Deny policies at the gateway (WSO2's blocking conditions): the snapshot's enabled
conditions, compiled once per snapshot into lookups a handshake answers in constant time
(API, application, user) or one comparison per IP condition.

The client's address is the connection's peer (the ASGI scope's ``client``), never
``X-Forwarded-For``: a client can write anything there (docs/gateway.md, "Deny policies").
An IPv4 client reaching an IPv6 socket (``::ffff:192.0.2.1``) is judged as its IPv4 address.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from gateway_contract.snapshot import DenyConditionConfig

log = logging.getLogger("tidegate.gateway")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(peer: str | None) -> Address | None:
    """The address deny policies judge for a peer as the server reports it; None when there
    is none (a Unix socket) or it is not an IP address."""
    if not peer:
        return None
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class AddressSpan:
    """An IP or IP_RANGE condition: ``first`` to ``last``, both included; inverted, every
    address outside them (an unknown address or one of the other IP version included)."""

    version: int  # 4 or 6
    first: int
    last: int
    invert: bool

    def matches(self, address: Address | None) -> bool:
        inside = address is not None and address.version == self.version and self.first <= int(address) <= self.last
        return inside != self.invert


def _span(condition: DenyConditionConfig) -> AddressSpan | None:
    try:
        first = ipaddress.ip_address(condition.start_ip)
        last = ipaddress.ip_address(condition.end_ip) if condition.kind == "IP_RANGE" else first
    except ValueError:
        log.warning("deny policy %s has an address this gateway cannot read; it is not enforced", condition.id)
        return None
    if first.version != last.version:
        log.warning("deny policy %s mixes IP versions; it is not enforced", condition.id)
        return None
    return AddressSpan(first.version, int(first), int(last), condition.invert)


class DenyList:
    """What one snapshot denies. False when it denies nothing, so a handshake pays nothing."""

    __slots__ = ("apis", "applications", "spans", "users")

    def __init__(self, conditions: tuple[DenyConditionConfig, ...] = ()) -> None:
        self.apis = frozenset(c.value for c in conditions if c.kind == "API")
        self.applications = frozenset(c.value for c in conditions if c.kind == "APPLICATION")
        self.users = frozenset(c.value for c in conditions if c.kind == "USER")
        spans = (_span(c) for c in conditions if c.kind in ("IP", "IP_RANGE"))
        self.spans = tuple(s for s in spans if s is not None)

    def __bool__(self) -> bool:
        return bool(self.apis or self.applications or self.users or self.spans)

    def address_denied(self, address: Address | None) -> bool:
        return any(span.matches(address) for span in self.spans)

    def api_denied(self, context: str, version: str) -> bool:
        return f"{context}/{version}" in self.apis

    def application_denied(self, owner: str, name: str) -> bool:
        return f"{owner}:{name}" in self.applications

    def user_denied(self, username: str) -> bool:
        return username in self.users

"""Origins as an API's allow-list holds them and as the gateway compares them: one reading
for both sides, so the Publisher refuses exactly what the gateway could never match.

An origin is ``scheme://host[:port]`` (RFC 6454's serialisation, what browsers send in the
``Origin`` header): no path, query, fragment or user. It is compared lower-cased, without a
scheme's default port. An entry of an allow-list may start its host with ``*.``: it matches
every subdomain of the rest, at any depth, with the same scheme and port, but not the rest
itself (``https://*.example.com`` takes ``https://a.example.com`` and ``https://a.b.example.com``,
not ``https://example.com``).
"""

from __future__ import annotations

import ipaddress
import re

_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*\Z")
_LABEL = re.compile(r"(?!-)[a-z0-9\-]{1,63}(?<!-)\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")
_AUTHORITY = re.compile(r"[a-z0-9.\-:\[\]*]+\Z")  # no path, query, user, space or escape
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
MAX_ORIGIN = 300  # characters of one origin: a host name is at most 253
WILDCARD = "*."


def _host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def origin_normalise(text: str, *, wildcard: bool = False) -> str | None:
    """``text`` as the one form origins are compared in (lower case, no default port), or
    None when it is not an origin. With ``wildcard``, the host may start with ``*.``."""
    if not isinstance(text, str) or len(text) > MAX_ORIGIN:
        return None
    scheme, sep, authority = text.lower().partition("://")
    if not sep or not _SCHEME.match(scheme) or not authority:
        return None
    if not _AUTHORITY.match(authority):
        return None
    host, port = authority, ""
    if not authority.endswith("]") and ":" in authority:
        host, _, port = authority.rpartition(":")
        if not _PORT.match(port) or not 0 < int(port) < 65536:
            return None
        port = str(int(port))  # no leading zeros
    star = wildcard and host.startswith(WILDCARD)
    if "*" in (host[len(WILDCARD) :] if star else host) or (star and host.endswith("]")):
        return None
    if not _host(host[len(WILDCARD) :] if star else host):
        return None
    if port == DEFAULT_PORTS.get(scheme):
        port = ""
    return f"{scheme}://{host}{':' + port if port else ''}"


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``origin`` (the header's value) is on ``allowed`` (normalised entries, as
    the snapshot carries them). Anything that is not an origin (``null`` too) is on no list."""
    seen = origin_normalise(origin)
    if seen is None:
        return False
    for entry in allowed:
        if entry == seen:
            return True
        scheme, _, rest = entry.partition("://")
        if rest.startswith(WILDCARD):
            suffix = rest[1:]  # ".example.com[:port]"
            seen_scheme, _, seen_rest = seen.partition("://")
            host, port = _split(seen_rest)
            want_host, want_port = _split(suffix)
            if seen_scheme == scheme and port == want_port and host.endswith(want_host) and len(host) > len(want_host):
                return True
    return False


def _split(authority: str) -> tuple[str, str]:
    """host and port ("" for the default) of a normalised origin's authority."""
    if authority.endswith("]") or ":" not in authority:
        return authority, ""
    host, _, port = authority.rpartition(":")
    return host, port

"""The parts of the Content-Security-Policy that differ per page. The policy every page
gets is ``CONTENT_SECURITY_POLICY`` in portal/settings; django-csp's middleware writes it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from csp.constants import SELF, UNSAFE_EVAL, UNSAFE_INLINE

# The AsyncAPI renderer (@asyncapi/web-component) validates the definition with Ajv, which
# compiles JSON schemas into functions (``new Function``): it cannot run without
# 'unsafe-eval'. So it runs alone in a frame of its own, sandboxed (an opaque origin: no
# cookies, no reach into the portal's pages, tokens or storage), the one document allowed
# to evaluate strings, framed by the portal's own pages only. The component also writes its
# stylesheet into a <style> element of its own, hence inline styles there (only there).
DOCUMENTATION_FRAME = {
    "script-src": [SELF, UNSAFE_EVAL],
    "style-src": [SELF, UNSAFE_INLINE],
    "frame-ancestors": [SELF],
    "sandbox": ["allow-scripts"],
}


# A host name as an environment's or a deployment's vhost must be (publisher/environments.py,
# publisher/services.py): letters, digits, dots and hyphens only, so it can never carry a
# ';' or a space into a header such as this policy.
_HOST_NAME_RE = re.compile(r"[A-Za-z0-9.\-]{1,253}")


def is_host_name(value) -> bool:
    # fullmatch: "$" would let a trailing newline through.
    return isinstance(value, str) and bool(_HOST_NAME_RE.fullmatch(value))


def _websocket_origin(url: str) -> str | None:
    """``ws(s)://host[:port]`` of ``url``, or None unless it is a WebSocket URL whose host is
    a host name and whose port is a port (anything else is dropped, never written)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("ws", "wss") or parts.username or parts.password or not is_host_name(parts.hostname):
        return None
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


# A gateway's plain HTTP on the same port as its WebSockets: where a page asks for a connect
# ticket (the gateway's POST /tickets).
_HTTP_OF = {"ws": "http", "wss": "https"}


def allow_websockets(response, urls: list[str]):
    """Let the page's scripts open WebSockets to ``urls`` (the gateway URLs it shows) and ask
    the same gateways for connect tickets: their ws(s) origins and the http(s) origins of the
    same host and port join connect-src, those whose host passes :func:`is_host_name` only (a
    deployment stored before vhosts were checked may hold anything). Returns ``response``."""
    sockets = {o for o in map(_websocket_origin, urls) if o}
    tickets = {_HTTP_OF[o.split(":", 1)[0]] + ":" + o.split(":", 1)[1] for o in sockets}
    origins = sorted(sockets | tickets)
    if origins:
        response._csp_update = {"connect-src": origins}
    return response

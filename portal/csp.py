"""The parts of the Content-Security-Policy that differ per page. The policy every page
gets is ``CONTENT_SECURITY_POLICY`` in portal/settings; django-csp's middleware writes it."""

from __future__ import annotations

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


def allow_websockets(response, urls: list[str]):
    """Let the page's scripts open WebSockets to ``urls`` (the gateway URLs it shows): their
    origins join connect-src. Returns ``response``."""
    origins = sorted({f"{p.scheme}://{p.netloc}" for p in map(urlsplit, urls) if p.scheme in ("ws", "wss")})
    if origins:
        response._csp_update = {"connect-src": origins}
    return response

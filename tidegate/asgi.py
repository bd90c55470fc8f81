"""The portal's ASGI application (served by Daphne): Django pages, REST and OAuth2, with
gateways' pulls of an unchanged snapshot answered before Django (``snapshot_not_modified``).

It keeps its own access log: one JSON line per request on ``tidegate.access`` (method, path
without the query string, which may carry tokens; status; duration; client address), except
the gateways' pulls and analytics posts (``/internal/gateway/``, four times a second per
gateway) and health probes (``/healthz``). Run Daphne with ``-v 0`` so its own access log,
which writes every request with its query string, stays off (deploy/tidegate-portal.service).
"""

import logging
import os
import time

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

django_application = get_asgi_application()

from gateway_contract.wire import SNAPSHOT_PATH  # noqa: E402
from portal.clientip import client_ip  # noqa: E402
from tidegate.snapshot.apis import snapshot_not_modified  # noqa: E402 - needs Django set up

access_log = logging.getLogger("tidegate.access.portal")
QUIET_PREFIXES = ("/internal/gateway/", "/healthz")


class _Meta:
    """Just enough of a request for ``client_ip``: REMOTE_ADDR and X-Forwarded-For."""

    def __init__(self, scope):
        client = scope.get("client") or (None, None)
        forwarded = dict(scope.get("headers") or ()).get(b"x-forwarded-for", b"")
        self.META = {"REMOTE_ADDR": client[0], "HTTP_X_FORWARDED_FOR": forwarded.decode("latin-1")}


async def _logged(scope, receive, send):
    started = time.monotonic()
    status = None

    async def send_and_note(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await django_application(scope, receive, send_and_note)
    finally:
        access_log.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "client": client_ip(_Meta(scope)),
            },
        )


async def application(scope, receive, send):
    if scope["type"] != "http":
        await django_application(scope, receive, send)
    elif scope["path"] == SNAPSHOT_PATH and scope["method"] == "GET" and await snapshot_not_modified(scope, send):
        return
    elif scope["path"].startswith(QUIET_PREFIXES):
        await django_application(scope, receive, send)
    else:
        await _logged(scope, receive, send)


def _daphne_leaves_request_bodies_to_django() -> None:
    """Daphne runs on Twisted, whose HTTP request parses every POSTed multipart body into
    ``request.args`` before Daphne sees it, and answers a body it cannot parse (e.g. a
    multipart form with no parts) with a bare 400 and no JSON error body. Daphne never reads
    ``args`` (it hands the raw body to the ASGI application), so turn the parse off: Django
    parses the body once, and answers bad input with the usual JSON error body."""
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # not served by Daphne
        return
    if getattr(WebRequest, "_tidegate_no_form_parse", False):
        return
    init = WebRequest.__init__

    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        init(self, *args, **kwargs)

    WebRequest.__init__ = __init__
    WebRequest._tidegate_no_form_parse = True


_daphne_leaves_request_bodies_to_django()

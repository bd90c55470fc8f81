"""The portal's ASGI application (served by Daphne): Django pages, REST and OAuth2, with
gateways' pulls of an unchanged snapshot answered before Django (``snapshot_not_modified``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

django_application = get_asgi_application()

from gateway_sync.apis import snapshot_not_modified  # noqa: E402 - needs Django set up
from gateway_sync.snapshot import SNAPSHOT_PATH  # noqa: E402


async def application(scope, receive, send):
    if (
        scope["type"] == "http"
        and scope["path"] == SNAPSHOT_PATH
        and scope["method"] == "GET"
        and await snapshot_not_modified(scope, send)
    ):
        return
    await django_application(scope, receive, send)


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

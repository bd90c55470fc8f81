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

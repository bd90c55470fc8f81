"""The gateway's ASGI application: a Channels router with the relay for WebSocket and a
small HTTP app, plus lifespan handling that starts the snapshot sync.

Run it with ``python manage.py rungateway`` (Uvicorn, ws and wss listeners) or under Daphne
(``daphne gateway.asgi:application``; refusals then become 403, see docs/gateway.md).
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from gateway import native  # noqa: E402
from gateway.asgitypes import Receive, Scope, Send  # noqa: E402
from gateway.http import GatewayHttp  # noqa: E402
from gateway.process import Gateway  # noqa: E402
from gateway.relay import Relay  # noqa: E402

gateway = Gateway.from_settings()
native.say_which_code()  # compiled or from source, and why (gateway/native.py)

router = ProtocolTypeRouter(
    {
        # Channels routes ASGI apps with Django's re_path, which django-stubs types for views only.
        "websocket": URLRouter([re_path(r"", Relay(gateway))]),  # type: ignore[arg-type]
        "http": GatewayHttp(gateway),
    }
)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await gateway.ensure_started()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await gateway.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
    await gateway.ensure_started()  # servers without lifespan (Daphne) start it here
    await router(scope, receive, send)

"""Start the gateway under Uvicorn: ws on one port, wss (self-signed on first run) on another,
both served by one process and one application object, so they share state."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from gateway.asgitypes import Receive, Scope, Send
from gateway.clientleg import DEAD_PEERS, ClientLeg
from gateway.headlimits import SERVER_COUNTS, limited_protocols
from gateway.tls import ensure_self_signed

if TYPE_CHECKING:
    from gateway.process import Gateway

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _ClientNoise(logging.Filter):
    """Keep what network peers do out of the error log.

    Uvicorn 0.54's websockets-sansio protocol logs "ASGI callable returned without
    completing handshake." after every WebSocket Denial Response, although the response was
    sent (the relay always accepts or denies); it is dropped. (Invalid UTF-8 from a client
    is logged as a one-line warning by gateway/headlimits.py, without Uvicorn's traceback.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing handshake" not in record.getMessage()


class _Server(uvicorn.Server):
    # Signals are handled once for both listeners, below.
    def install_signal_handlers(self) -> None:
        pass


class Command(BaseCommand):
    help = "Run the WebSocket gateway (Uvicorn, httptools, aiohttp's frame reader, uvloop)."

    def add_arguments(self, parser):
        conf = settings.TIDEGATE
        parser.add_argument("--host", default=conf["GATEWAY_HOST"])
        parser.add_argument("--port", type=int, default=conf["GATEWAY_WS_PORT"], help="ws port")
        parser.add_argument("--tls-port", type=int, default=conf["GATEWAY_WSS_PORT"], help="wss port (0: off)")

    def handle(self, *args, host, port, tls_port, **options):
        from gateway.asgi import application, gateway

        listeners = [(application, port, False)]
        if tls_port:
            listeners.append((application, tls_port, True))
        self.stdout.write(
            f"gateway listening on ws://{host}:{port}" + (f" and wss://{host}:{tls_port}" if tls_port else "")
        )
        self.stdout.flush()
        serve(gateway, host, listeners)


def serve(gateway: Gateway, host: str, listeners: list[tuple[ASGIApp, int, bool]]) -> None:
    """Run Uvicorn servers, one per (app, port, tls) listener, in one process and event loop.
    SIGTERM or SIGINT drains the gateway first; a second signal exits at once."""
    conf: dict[str, Any] = settings.TIDEGATE  # typed by django-stubs as the union of all its values
    client_leg = ClientLeg.from_settings(conf)
    http, ws = limited_protocols(
        max_head_bytes=conf["MAX_REQUEST_HEAD_BYTES"], head_timeout=conf["HEAD_TIMEOUT"], client_leg=client_leg
    )
    common: dict[str, Any] = dict(
        host=host,
        ws=ws,  # gateway/wsprotocol.py on aiohttp's compiled frame reader; websockets-sansio for compression
        loop="uvloop",
        http=http,  # httptools, with the head limits
        lifespan="on",
        access_log=False,
        ws_max_size=conf["MAX_FRAME_SIZE"],
        log_level="warning",
        ws_per_message_deflate=False,  # the gateway's own, per TIDEGATE_CLIENT_COMPRESSION (gateway/clientleg.py)
        # Heartbeats: the protocol class reads them from client_leg (idle clients only).
        ws_ping_interval=client_leg.ping_interval or None,
        ws_ping_timeout=client_leg.ping_timeout,
        server_header=False,  # the gateway does not advertise the server it runs on
        # The relay appends the peer's address to X-Forwarded-For itself; Uvicorn replacing the
        # peer with the header's first address would make the backend see it twice.
        proxy_headers=False,
    )
    configs = []
    for app, port, tls in listeners:
        extra: dict[str, Any] = {}
        if tls:
            cert, key = ensure_self_signed(Path(settings.DATA_DIR) / "tls")
            extra = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        configs.append(uvicorn.Config(app, port=port, **common, **extra))
    servers = [_Server(c) for c in configs]  # Config() sets up uvicorn's loggers
    gateway.frame_counters.registry.register(SERVER_COUNTS)  # in /metrics
    gateway.frame_counters.registry.register(DEAD_PEERS)
    logging.getLogger("uvicorn.error").addFilter(_ClientNoise())

    async def main():
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task] = []

        async def drain_then_exit():
            await gateway.drain()
            for s in servers:
                s.should_exit = True

        def stop():
            if stopping:  # a second signal: exit now
                for s in servers:
                    s.force_exit = s.should_exit = True
                return
            stopping.append(loop.create_task(drain_then_exit()))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await asyncio.gather(*(s.serve() for s in servers))

    import uvloop

    uvloop.run(main())

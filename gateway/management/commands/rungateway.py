"""Start the gateway under Uvicorn: ws on one port, wss (self-signed on first run) on another,
both served by one process and one application object, so they share state. With
``--workers N`` (or ``auto``), a supervisor runs N such processes on the same two ports
(gateway/workers.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from gateway import workers as _workers
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
    # Signals are handled once for both listeners, below (serve()): Uvicorn's own handlers
    # would end the servers at the first SIGTERM, cutting the drain short (the connections
    # not yet drained closed with 1012). install_signal_handlers: Uvicorn before 0.29;
    # capture_signals: since.
    def install_signal_handlers(self) -> None:
        pass

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Command(BaseCommand):
    help = "Run the WebSocket gateway (Uvicorn, httptools, aiohttp's frame reader, uvloop)."

    def add_arguments(self, parser):
        conf = settings.TIDEGATE
        parser.add_argument("--host", default=conf["GATEWAY_HOST"])
        parser.add_argument("--port", type=int, default=conf["GATEWAY_WS_PORT"], help="ws port")
        parser.add_argument("--tls-port", type=int, default=conf["GATEWAY_WSS_PORT"], help="wss port (0: off)")
        parser.add_argument(
            "--workers",
            type=_workers.parse_workers,
            default=1,
            help="gateway processes sharing the ports: a number, or 'auto' (one per core); default 1",
        )

    def handle(self, *args, host, port, tls_port, workers: int = 1, **options):
        slot = _workers.WorkerSlot.from_env()
        if workers > 1 and slot is None:
            self._supervise(workers, host, port, tls_port)
        from gateway.asgi import application, gateway

        app: ASGIApp = application
        bind = None
        if slot is not None:  # one of several workers
            _workers.current = slot
            app, bind = slot.app(application, gateway), _workers.reuseport_socket
        listeners = [(app, port, False)]
        if tls_port:
            listeners.append((app, tls_port, True))
        if slot is None:
            self.stdout.write(
                f"gateway listening on ws://{host}:{port}" + (f" and wss://{host}:{tls_port}" if tls_port else "")
            )
            self.stdout.flush()
        serve(gateway, host, listeners, bind=bind)

    def _supervise(self, count: int, host: str, port: int, tls_port: int) -> None:
        """Make what the workers must share (the test-key and backend JWT keys, the TLS
        certificate) once, then run ``count`` workers until they have drained."""
        from gateway.config import GatewayConfig
        from gateway.testkey import rsa_key_load_or_create

        config = GatewayConfig.from_settings()
        rsa_key_load_or_create(config.testkey_path, "testkey")
        if config.backend_jwt_key_path is not None:
            rsa_key_load_or_create(config.backend_jwt_key_path, "backend-jwt")
        if tls_port:
            ensure_self_signed(Path(settings.DATA_DIR) / "tls")
        self.stdout.write(
            f"gateway listening on ws://{host}:{port}"
            + (f" and wss://{host}:{tls_port}" if tls_port else "")
            + f" with {count} workers"
        )
        self.stdout.flush()
        argv = [sys.executable, str(_workers.ROOT / "manage.py"), "rungateway"]
        argv += ["--host", host, "--port", str(port), "--tls-port", str(tls_port)]

        def say(line: str) -> None:
            self.stderr.write(line)
            self.stderr.flush()

        sys.exit(_workers.supervise(count, argv, say))


def serve(
    gateway: Gateway,
    host: str,
    listeners: list[tuple[ASGIApp, int, bool]],
    bind: Callable[[str, int], socket.socket] | None = None,
) -> None:
    """Run Uvicorn servers, one per (app, port, tls) listener, in one process and event loop.
    SIGTERM or SIGINT drains the gateway first; a second signal exits at once. ``bind``
    (host, port) makes each listener's socket (a worker's SO_REUSEPORT one) instead of Uvicorn."""
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

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []

        async def drain_then_exit() -> None:
            await gateway.drain()
            for s in servers:
                s.should_exit = True

        def stop() -> None:
            if stopping:  # a second signal: exit now
                for s in servers:
                    s.force_exit = s.should_exit = True
                return
            stopping.append(loop.create_task(drain_then_exit()))

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await asyncio.gather(*(s.serve([bind(host, s.config.port)] if bind else None) for s in servers))

    import uvloop

    uvloop.run(main())

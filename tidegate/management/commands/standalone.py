"""``python manage.py standalone``: a gateway without the portal (gateway/standalone.py). API
project archives are deployed to it through the adapter API on :9843 (HTTPS, compatible with
``apictl mg``) or ``python manage.py mg``; tokens come from its own ``POST /testkey``.

It lives on the control plane's side because it joins the two: the gateway, and the
control plane's reading of archives (tidegate/snapshot/archives.py)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from gateway.management.commands.rungateway import serve


class Command(BaseCommand):
    help = "Run a standalone gateway (no portal), fed API project archives through the adapter on :9843."

    def add_arguments(self, parser):
        conf = settings.TIDEGATE
        parser.add_argument("--host", default=conf["GATEWAY_HOST"])
        parser.add_argument("--port", type=int, default=conf["GATEWAY_WS_PORT"], help="ws port")
        parser.add_argument("--tls-port", type=int, default=conf["GATEWAY_WSS_PORT"], help="wss port (0: off)")
        parser.add_argument("--adapter-port", type=int, default=9843, help="adapter API port (HTTPS)")

    def handle(self, *args, host, port, tls_port, adapter_port, **options):
        from channels.routing import ProtocolTypeRouter, URLRouter
        from django.urls import re_path

        from gateway.http import GatewayHttp
        from gateway.relay import Relay
        from gateway.standalone import Adapter, ArchiveStore, standalone_gateway
        from tidegate.snapshot.archives import api_from_archive

        # The one Gateway, fed by the archives deployed through the adapter; what an archive
        # means is the control plane's reading (AsyncAPI validation, endpoints).
        store = ArchiveStore(Path(settings.DATA_DIR) / "standalone" / "apis", read=api_from_archive)
        gateway = standalone_gateway(store)
        adapter = Adapter(gateway, store)
        router = ProtocolTypeRouter(
            {"websocket": URLRouter([re_path(r"", Relay(gateway))]), "http": GatewayHttp(gateway)}
        )

        async def application(scope, receive, send):
            if scope["type"] == "lifespan":
                return await adapter(scope, receive, send)  # starts the gateway once
            await gateway.ensure_started()
            await router(scope, receive, send)

        listeners = [(application, port, False), (adapter, adapter_port, True)]
        if tls_port:
            listeners.append((application, tls_port, True))
        self.stdout.write(f"standalone gateway on ws://{host}:{port}, adapter on https://{host}:{adapter_port}")
        self.stdout.flush()
        serve(gateway, host, listeners)

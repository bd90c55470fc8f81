"""One ``Gateway``, fed by whatever snapshot source it is given (gateway/sources.py): what
the source hands out is what the gateway serves and reports, through its real ASGI apps.
And the gateway's modules load no Django app of the control plane."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
from asgiref.testing import ApplicationCommunicator
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path

from gateway.config import GatewayConfig
from gateway.http import GatewayHttp
from gateway.process import Gateway
from gateway.relay import Relay
from gateway.sources import Current, Fetched, NewSnapshot, Refused, Sync
from gateway_contract.snapshot import Snapshot
from testsupport.snapshots import open_and_secure_apis
from testsupport.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
CONTROL_PLANE = ("portal", "publisher", "devportal", "keymanager", "analytics", "gateway_sync", "demo", "tidegate")


class HandedSource:
    """A snapshot source whose next answer the test sets; ``Current`` once it was taken."""

    name = "handed"
    confirms = False
    may_lag = False
    push_connected = False

    def __init__(self, first: Fetched):
        self.next = first
        self.causes: list[str] = []

    async def open(self, session: aiohttp.ClientSession) -> None:
        pass

    async def fetch(self, held: Snapshot | None, cause: str) -> Fetched:
        self.causes.append(cause)
        answer, self.next = self.next, Current()
        return answer

    async def watch(self, sync: Sync) -> None:
        pass


async def _health(app) -> dict:
    comm = ApplicationCommunicator(app, {"type": "http", "method": "GET", "path": "/health", "headers": []})
    await comm.send_input({"type": "http.request", "body": b""})
    await comm.receive_output(timeout=10)
    body = await comm.receive_output(timeout=10)
    return json.loads(body["body"])


async def _handshake_status(app, path: str) -> int:
    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 9090),
        "extensions": {"websocket.http.response": {}},
    }
    comm = ApplicationCommunicator(app, scope)
    await comm.send_input({"type": "websocket.connect"})
    first = await comm.receive_output(timeout=10)
    await comm.receive_output(timeout=10)  # the refusal's body
    await comm.wait(timeout=10)
    return first["status"]


async def test_the_gateway_serves_and_reports_what_its_source_hands_it(tmp_path):
    apis = open_and_secure_apis("ws://127.0.0.1:9")
    source = HandedSource(NewSnapshot(Snapshot(version=1, environments=("Default",), apis=apis)))
    gateway = Gateway(
        GatewayConfig(
            portal_url=f"http://127.0.0.1:{free_port()}",  # never asked: the source is another
            token="t",
            testkey_path=tmp_path / "testkey.json",
            analytics=False,
        ),
        source=source,
    )
    app = ProtocolTypeRouter({"websocket": URLRouter([re_path(r"", Relay(gateway))]), "http": GatewayHttp(gateway)})
    await gateway.ensure_started()
    try:
        health = await _health(app)
        assert (health["status"], health["snapshotSource"], health["snapshotVersion"], health["apis"]) == (
            "UP",
            "handed",
            1,
            2,
        )
        assert await _handshake_status(app, "/secure/1.0.0/ws") == 401  # served: a token is needed
        assert await _handshake_status(app, "/gone/1.0.0/ws") == 404

        source.next = NewSnapshot(Snapshot(version=2, environments=("Default",), apis=apis[:1]))
        assert await gateway.sync_once(cause="test") is True
        assert await _handshake_status(app, "/secure/1.0.0/ws") == 404  # no longer handed out
        assert (await _health(app))["snapshotVersion"] == 2

        source.next = Refused(401, "the tokens differ")
        assert await gateway.sync_once(cause="test") is False
        health = await _health(app)
        assert (health["controlPlaneReachable"], health["controlPlaneError"], health["snapshotVersion"]) == (
            False,
            "the tokens differ",
            2,  # still serving what it had
        )
        assert source.causes == ["start", "test", "test"]
    finally:
        await gateway.stop()


def test_the_gateway_modules_load_no_django_app_of_the_control_plane():
    code = (
        "import importlib, json, pkgutil, sys, gateway\n"
        "for info in pkgutil.walk_packages(gateway.__path__, 'gateway.'):\n"
        "    if not any(p in info.name for p in ('.tests', '.management')) and info.name != 'gateway.asgi':\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert "gateway.process" in loaded and "gateway.standalone" in loaded
    assert sorted({m.split(".")[0] for m in loaded} & set(CONTROL_PLANE)) == []

"""Path traversal into the backend (issue 14 item 6) with real processes: a gateway under
Uvicorn serving a configuration from disk (no portal), the demo echo backend that prints
the path it was asked for, and handshakes written byte for byte on a socket, so the
request path reaches the gateway exactly as an attacker sends it."""

import json
import re
import socket

import pytest

from gateway_contract.snapshot import TopicConfig
from testsupport.snapshots import api_config
from testsupport.stack import Stack, metric, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """The gateway (Uvicorn) on free ports with one API whose topic ``/{a}/{b}`` maps to
    ``/{uri.var.a}/{uri.var.b}`` under the endpoint ``/tenant-a/v2``; the portal's port
    stays closed, so the gateway starts from the snapshot kept on disk."""
    stack = Stack(tmp_path_factory.mktemp("pathsafety"))
    api = api_config(
        id="api-path",
        production_endpoint=f"{stack.backend_url}/tenant-a/v2",
        topics=(TopicConfig(name="/{a}/{b}", uri_mapping="/{uri.var.a}/{uri.var.b}", secured=False),),
    )
    try:
        yield stack.start_from_snapshot(api)
    finally:
        stack.stop()


def handshake(stack: Stack, raw_path: str) -> tuple[int, dict | None]:
    """Open a WebSocket handshake for ``raw_path`` exactly as written; the HTTP status and,
    for a refusal, its JSON body."""
    request = (
        f"GET {raw_path} HTTP/1.1\r\nHost: 127.0.0.1:{stack.ws_port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", stack.ws_port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            assert chunk, f"connection closed before an answer to {raw_path}: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status == 101:
            return status, None
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        while len(body) < length:
            chunk = sock.recv(4096)
            assert chunk, "connection closed in the body"
            body += chunk
        return status, json.loads(body)


def backend_paths(stack: Stack) -> list[str]:
    return [c["path"] for c in stack.backend_connections() if c.get("event") != "close"]


ATTACKS = [
    "/chat/1.0.0/../..",
    "/chat/1.0.0/x/../..",
    "/chat/1.0.0/x/..",
    "/chat/1.0.0/%2e%2e/%2e%2e",
    "/chat/1.0.0/x/%252e%252e",
    "/chat/1.0.0/x/a%2Fb",
    "/chat/1.0.0/x%2F..%2F../y",
    "/chat/1.0.0/x/..%5C..",
    "/chat/1.0.0/x/a%00b",
]


def test_traversal_is_refused_with_400_and_never_reaches_the_backend(gateway):
    def metric_400() -> float:
        return metric(gateway.gateway_http, "tidegate_handshakes_total", '{status="400"}') or 0.0

    before = metric_400()
    for raw_path in ATTACKS:
        status, body = handshake(gateway, raw_path)
        assert status == 400, (raw_path, status, body)
        assert body["code"] == "400" and body["error_message"] == "Bad Request", body
        assert set(body) == {"code", "error_message", "error_description"}

    # A normal parameter still works and reaches the mapped path under the base.
    assert handshake(gateway, "/chat/1.0.0/room%201/feed")[0] == 101
    wait_until(lambda: backend_paths(gateway), 10, what="the backend's connection")
    assert backend_paths(gateway) == ["/tenant-a/v2/room%201/feed"]  # and nothing else, ever

    assert metric_400() - before == len(ATTACKS)

    def refused() -> list[dict]:  # access lines are written in batches, within 50 ms
        lines = gateway.processes["gateway"].output().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{") and '"refused"' in line]

    wait_until(lambda: len(refused()) >= len(ATTACKS), 10, what="the refusals' access lines")
    assert [(r["path"], r["status"], r["code"]) for r in refused()] == [(p, 400, "400") for p in ATTACKS]

"""Plain HTTP on the gateway ports: ``POST /testkey``, ``GET /health``, ``GET /metrics`` and
``GET /.well-known/jwks.json`` (the public key of the backend JWT)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from gateway.asgitypes import Receive, Scope, Send, request_headers

if TYPE_CHECKING:
    from gateway.process import Gateway

MAX_BODY = 16 * 1024
JWKS_PATH = "/.well-known/jwks.json"  # where backends find the key that signs the backend JWT


async def _read_body(receive: Receive) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > MAX_BODY:
            return None
        if not message.get("more_body"):
            return body


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


class GatewayHttp:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"].rstrip("/") or "/", scope["method"]
        if path == "/health" and method == "GET":
            health = self.gateway.health()
            await _respond(send, 200 if health["status"] == "UP" else 503, _json(health), b"application/json")
        elif path == "/metrics" and method == "GET":
            from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

            body = generate_latest(self.gateway.frame_counters.registry)
            await _respond(send, 200, body, CONTENT_TYPE_LATEST.encode())
        elif path == JWKS_PATH and method == "GET":
            body = _json(self.gateway.backend_jwt.jwks())
            await _respond(send, 200, body, b"application/json", [(b"cache-control", b"max-age=300")])
        elif path == "/testkey":
            await self._testkey(scope, receive, send, method)
        else:
            error = {"code": "404", "error_message": "Not Found", "error_description": f"No resource at {path}"}
            await _respond(send, 404, _json(error), b"application/json")

    async def _testkey(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        if method != "POST":
            await _respond(send, 405, b"Use POST.", b"text/plain", [(b"allow", b"POST")])
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 400, b"Error occurred while processing the request.", b"text/plain")
            return
        headers = request_headers(scope)
        user, status, reason = self.gateway.testkey.authenticate(headers.get("authorization"))
        if user is None:
            await _respond(send, status, reason.encode(), b"text/plain")
            return
        form = parse_qs(body.decode("utf-8", "replace"))
        scope_claim = " ".join(" ".join(form.get("scope", [])).split())
        token = self.gateway.testkey.issue(user=user, scope=scope_claim)
        await _respond(send, 200, token.encode(), b"text/plain")

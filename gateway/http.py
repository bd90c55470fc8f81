"""Plain HTTP on the gateway ports: ``POST /testkey``, ``POST /tickets`` (connect tickets,
gateway/tickets.py), ``GET /health``, ``GET /metrics`` and ``GET /.well-known/jwks.json``
(the public key of the backend JWT)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from gateway import workers
from gateway.asgitypes import Receive, Scope, Send, request_headers
from gateway.decisions import API_KEY_HEADER, INTERNAL_KEY_HEADER, Admission, State, admit
from gateway.deny import client_address
from gateway.refusals import Refusal
from gateway.routing import UnsafePath, request_path
from gateway.tickets import COUNT_WINDOW, TicketStoreFull, TooManyTickets

if TYPE_CHECKING:
    from gateway.process import Gateway

MAX_BODY = 16 * 1024
JWKS_PATH = "/.well-known/jwks.json"  # where backends find the key that signs the backend JWT
TICKETS_PATH = "/tickets"
# Pages on any origin may ask for a ticket: the request carries its token in a header (never
# a cookie), so a page can only turn a token it already holds into a ticket; the API's own
# Origin allow-list is applied to the request and again at the handshake.
TICKET_CORS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type"),
    (b"access-control-max-age", b"600"),
    (b"access-control-expose-headers", b"retry-after"),  # a page reads when to ask again (429, 503)
)


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


def _worker_header(slot: workers.WorkerSlot | None) -> list[tuple[bytes, bytes]]:
    """Which worker answered (its pid), when there are several."""
    return [] if slot is None else [(workers.WORKER_HEADER, str(os.getpid()).encode())]


class GatewayHttp:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"].rstrip("/") or "/", scope["method"]
        # rungateway --workers N: /health and /metrics answer for every worker (gateway/workers.py).
        slot = workers.current
        if path == "/health" and method == "GET":
            health = self.gateway.health()
            if slot is not None:
                health = await slot.health(health)
            code = 200 if health["status"] == "UP" else 503
            await _respond(send, code, _json(health), b"application/json", _worker_header(slot))
        elif path == "/metrics" and method == "GET":
            from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

            if slot is not None:
                body = await slot.metrics()
            else:
                body = generate_latest(self.gateway.frame_counters.registry)
            await _respond(send, 200, body, CONTENT_TYPE_LATEST.encode(), _worker_header(slot))
        elif path == JWKS_PATH and method == "GET":
            body = _json(self.gateway.backend_jwt.jwks())
            await _respond(send, 200, body, b"application/json", [(b"cache-control", b"max-age=300")])
        elif path == "/testkey":
            await self._testkey(scope, receive, send, method)
        elif path == TICKETS_PATH:
            await self._tickets(scope, receive, send, method)
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

    async def _tickets(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        """``POST /tickets`` (docs/gateway.md): ``Authorization: Bearer <token>`` and a JSON body
        ``{"path": "/<context>/<version><topic>"}``; the token is judged for that path exactly
        as a handshake would judge it, and a ticket for the path's API is answered (201)."""
        if method == "OPTIONS":  # the browser's preflight
            await _respond(send, 204, b"", b"text/plain", TICKET_CORS)
            return
        if method != "POST":
            await _respond(send, 405, b"Use POST.", b"text/plain", [(b"allow", b"POST, OPTIONS"), *TICKET_CORS])
            return

        async def error(
            status: int, code: str, message: str, description: str, extra: Sequence[tuple[bytes, bytes]] = ()
        ) -> None:
            body = {"code": code, "error_message": message, "error_description": description}
            await _respond(send, status, _json(body), b"application/json", [*TICKET_CORS, *extra])

        raw = await _read_body(receive)
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, RecursionError):  # not JSON, or nested thousands deep
            data = None
        target = data.get("path") if isinstance(data, dict) else None
        if not isinstance(target, str) or not target.startswith("/") or "?" in target or "#" in target:
            await error(400, "400", "Bad Request", 'The body must be JSON: {"path": "/<context>/<version><topic>"}')
            return
        gateway = self.gateway
        state = gateway.state
        if state is None or gateway.draining:
            await error(503, "101503", "Service unavailable", "The gateway is starting or shutting down")
            return
        try:
            match = state.routes.match(request_path(target))
        except UnsafePath as exc:
            await error(400, "400", "Bad Request", str(exc))
            return
        headers = request_headers(scope)
        headers.pop(INTERNAL_KEY_HEADER, None)  # a Publisher try-out key is not turned into tickets
        headers.pop(API_KEY_HEADER, None)  # nor an API key: its IP and referer limits bind each handshake
        if match is not None and "authorization" in headers:  # the API may read its token from another header
            headers[match.api.authorization_header.lower()] = headers["authorization"]
        peer = scope.get("client")
        client = client_address(peer[0] if peer else None)

        def decide(state: State) -> Admission | Refusal:  # as the handshake of ``target`` would be
            return admit(state, target, "", headers, client=client)

        decision = decide(state)
        if (
            isinstance(decision, Refusal)
            and decision.refresh_issuer
            and await gateway.refresh_issuer(decision.refresh_issuer)
        ):
            decision = decide(state)
        if isinstance(decision, Refusal) and decision.sync_miss and await gateway.sync_on_miss():
            if gateway.state is not None:
                state = gateway.state
                decision = decide(state)
        if isinstance(decision, Refusal):
            extra = [(k.encode(), v.encode()) for k, v in decision.headers]
            await error(decision.status, decision.code, decision.message, decision.description, extra)
            return
        if decision.token is None:
            await error(400, "400", "Bad Request", "This topic needs no token: connect without a ticket")
            return
        api = decision.match.api
        try:
            ticket, grant = await gateway.tickets.issue(
                api_id=api.id,
                environments=state.snapshot.environments,
                issuer=decision.token.issuer.issuer,
                claims=decision.token.claims,
            )
        except TooManyTickets as exc:
            retry = str(max(1, math.ceil(exc.retry_after)))
            await error(
                429,
                "900800",
                "Message throttled out",
                f"This token was given {gateway.tickets.per_token} tickets in {COUNT_WINDOW:g} s: ask again in {retry} s",
                [(b"retry-after", retry.encode())],
            )
            return
        except TicketStoreFull:
            retry = str(math.ceil(gateway.tickets.validity))
            await error(
                503,
                "101503",
                "Service unavailable",
                "This gateway holds as many connect tickets as it keeps: ask again shortly",
                [(b"retry-after", retry.encode())],
            )
            return
        body = {
            "ticket": ticket,
            "expiresIn": gateway.tickets.validity,
            "api": {"context": api.context, "version": api.version},
            "environments": list(grant.environments),
        }
        await _respond(send, 201, _json(body), b"application/json", [(b"cache-control", b"no-store"), *TICKET_CORS])

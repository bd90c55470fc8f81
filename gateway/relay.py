"""The WebSocket relay: a plain ASGI handler; client to backend in the handler's coroutine,
backend to client from the backend leg's reader (``_Downstream``).

It asks ``decisions.admit`` whether the handshake may proceed (``send_denial`` answers a
refused one), opens the backend leg, and then only moves frames, each counted against the
connection's rate limits (``FrameLimiter.check``). Channels' consumer classes are not used here: they cost
two to four times the CPU per frame (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp

from gateway import upstream
from gateway.accesslog import ACCESS
from gateway.asgitypes import CoroutineSend, Message, Receive, Scope, Send, request_headers
from gateway.decisions import Admission, admit, connection_refusal
from gateway.deny import client_address
from gateway.frame_counters import LATENCY_SAMPLE_EVERY
from gateway.payloads import (
    INVALID,
    INVALID_BACKEND_CLOSE,
    INVALID_CLIENT_CLOSE,
    TopicPayloads,
    close_reason,
    error_frame,
    judge,
)
from gateway.ratelimit import (
    NEED_LEASE,
    THROTTLE_CLOSE_CODE,
    THROTTLED_MESSAGE,
    FrameLimiter,
    Verdict,
    payload_size,
)
from gateway.refusals import Reason, Refusal
from gateway.registry import LiveConnection
from gateway.routing import Match, UnsafePath, raw_request_path, request_path
from gateway.tickets import real_protocols, ticket_param
from gateway_contract.snapshot import PolicyConfig

if TYPE_CHECKING:
    from gateway.decisions import State
    from gateway.process import Gateway

log = logging.getLogger("tidegate.gateway")

# Headers that belong to the client's own handshake and are never copied upstream.
HOP_HEADERS = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "content-length",
        "transfer-encoding",
        "keep-alive",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
    }
)
# Close codes that describe a missing or abnormal close and may not be sent on the wire.
_UNSENDABLE = {1005: 1000, 1006: 1001, 1015: 1001}
BACKEND_GONE = 1014
# The ASGI field that carries each kind of data message from the backend.
_ASGI_KEY = {aiohttp.WSMsgType.TEXT: "text", aiohttp.WSMsgType.BINARY: "bytes"}
_TEXT, _BINARY = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY


# The peer's address as deny policies judge it, parsed once per address (an ``ipaddress``
# parse per handshake otherwise); addresses are immutable values.
_client_address = functools.lru_cache(maxsize=4096)(client_address)


@functools.lru_cache(maxsize=256)  # the same few credential header sets (decisions._credential_headers)
def _not_forwarded(strip: frozenset[str]) -> frozenset[str]:
    return HOP_HEADERS | strip


def _sendable(code: int | None, fallback: int = 1000) -> int:
    if code is None:
        return fallback
    return _UNSENDABLE.get(code, code)


async def send_denial(scope: Scope, send: Send, refusal: Refusal) -> None:
    """Refuse a handshake with an HTTP status and the JSON error body (ASGI WebSocket
    Denial Response). Servers without the extension (Daphne) can only answer 403."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps(refusal.body()).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in refusal.headers]
        await send({"type": "websocket.http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


UNAVAILABLE = Refusal(Reason.UNAVAILABLE, "The gateway is starting or shutting down; try again shortly")
BACKEND_DOWN = Refusal(Reason.BACKEND_DOWN, "The backend refused or did not answer the connection")


def _route(state: State | None, scope: Scope) -> Match | None:
    """The route of a handshake refused before ``admit`` judged it (for analytics)."""
    if state is None:
        return None
    try:
        return state.routes.match(request_path(raw_request_path(scope)))
    except UnsafePath:  # refused with 400: counted, but for no API
        return None


class Relay:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: CoroutineSend) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if self.gateway.poller is not None:
            self.gateway.poller.touch()
        opened = await self._open(scope, send)
        if opened is None:
            return
        # Only what relaying needs stays referenced from here on: this frame lives as long
        # as the connection, so the handshake's headers and decision are not kept.
        backend, conn, limiter = opened
        self.gateway.registry.add(conn)
        if self.gateway.poller is not None:
            self.gateway.poller.opened(conn)
        extensions = scope.get("extensions") or {}
        # gateway/wsprotocol.py: the client's messages written without a coroutine when they can be.
        downstream = _Downstream(self, backend, send, limiter, conn, extensions.get("tidegate.send.direct"))
        inbound = _Upstream(self, backend, send, limiter, conn)
        direct = extensions.get("tidegate.receive.direct")  # gateway/wsprotocol.py
        if direct is not None:
            direct(inbound.offer)
        try:
            await self._client_to_backend(receive, inbound)
        finally:
            if direct is not None:
                direct(None)
            if inbound.held is not None:  # cancelled before the relay's task took it
                inbound.held[1].close()
                inbound.held = None
            self.gateway.registry.discard(conn)
            if not backend.closed:
                await backend.close()
            pump = downstream.pump
            if pump is not None and not pump.done():
                try:
                    await asyncio.wait_for(pump, 5)
                except (TimeoutError, asyncio.CancelledError):
                    pump.cancel()
            downstream.ended = True
            backend.detach()
            self.gateway.frame_counters.closed(conn)
            ACCESS.write(
                "connection",
                {
                    "event": "connection",
                    "api": conn.api_id,
                    "application": conn.app_name,
                    "topic": conn.topic,
                    "path": conn.path,
                    "status": 101,
                    "duration_s": round(time.monotonic() - conn.opened, 3),
                    "frames_in": conn.frames_in,
                    "frames_out": conn.frames_out,
                    "close_code": conn.close_code,
                },
            )

    async def _open(self, scope: Scope, send: Send) -> tuple[upstream.BackendLeg, LiveConnection, FrameLimiter] | None:
        """The handshake: admit or refuse, connect the backend, accept. Returns the backend
        leg, the registered connection and its limiter, or None once refused."""
        gateway = self.gateway
        state = gateway.state
        started = time.perf_counter()
        if state is None or gateway.draining:
            await self._refuse_handshake(scope, send, UNAVAILABLE, _route(state, scope), started)
            return None
        headers = request_headers(scope)
        query = scope["query_string"].decode("latin-1")
        # Routed on the path as sent: a server's decoded "path" has turned %2F into a "/".
        raw_path = raw_request_path(scope)
        # The peer, never X-Forwarded-For (a client writes what it likes there): deny policies.
        peer = scope.get("client")
        client = _client_address(peer[0] if peer else None)
        # A connect ticket is spent by the first handshake that shows it, whatever comes of
        # it (gateway/tickets.py); the token entry of the subprotocols is read by admit.
        ticket = ticket_param(query)
        protocols = scope.get("subprotocols") or ()
        grant = await gateway.tickets.spend(ticket) if ticket is not None else None

        def decide(state: State) -> Admission | Refusal:
            return admit(state, raw_path, query, headers, client=client, protocols=protocols, grant=grant)

        decision = decide(state)
        if (
            isinstance(decision, Refusal)
            and decision.refresh_issuer
            and await gateway.refresh_issuer(decision.refresh_issuer)
        ):
            decision = decide(state)
        if isinstance(decision, Refusal) and decision.sync_miss:
            # Read your writes: keys, a subscription or an API the portal may just have
            # confirmed. Judge again against whatever the pull (or any other) brought.
            await gateway.sync_on_miss()
            if gateway.state is not state and gateway.state is not None:
                state = gateway.state
                decision = decide(state)
        if isinstance(decision, Refusal):
            await self._refuse_handshake(scope, send, decision, decision.match, started)
            return None
        app, match = decision.application, decision.match
        over = connection_refusal(state, app, gateway.registry.count_for_application(app.id) if app else 0)
        if over is not None:
            await self._refuse_handshake(scope, send, over, match, started)
            return None
        backend = await self._connect(scope, headers, decision)
        if backend is None:
            await self._refuse_handshake(scope, send, BACKEND_DOWN, match, started)
            return None
        try:
            await send({"type": "websocket.accept", "subprotocol": backend.protocol})
        except Exception:  # noqa: BLE001 - the client left before its accept: any server's error
            await backend.close(code=1001, message=b"client gone")
            return None
        gateway.frame_counters.handshake(
            api_id=match.api.id,
            app_id=app.id if app else "",
            app_name=app.name if app else "",
            topic=match.topic.name,
            status=101,
            ms=(time.perf_counter() - started) * 1000,
        )

        async def terminate(code: int, reason: str) -> None:
            """Close both legs from the gateway's side (live enforcement, throttling)."""
            try:
                await send({"type": "websocket.close", "code": code, "reason": reason})
            except Exception as exc:  # noqa: BLE001 - the client may already be gone
                log.debug("client already gone while closing: %r", exc)
            conn.close_code = code
            if not backend.closed:
                await backend.close(code=1001, message=b"closed by the gateway")

        conn = LiveConnection(
            decision.path,
            query,
            decision.token,
            match.api.id,
            app.id if app else None,
            terminate,
            app_in_snapshot=bool(app and not app.self_contained),
            app_name=app.name if app else "",
            topic=match.topic.name,
            client=client,
            payloads=state.payloads.get(match.api.id, match.topic.name),
        )
        plan = state.limit_plan(match.api, decision.subscription, app)
        return backend, conn, FrameLimiter(gateway.rate_counters, plan)

    async def _refuse_handshake(
        self, scope: Scope, send: Send, refusal: Refusal, match: Match | None, started: float
    ) -> None:
        """Deny the handshake, count it (for the API it matched, if any) and log it."""
        await send_denial(scope, send, refusal)
        raw_path = raw_request_path(scope)
        self.gateway.frame_counters.handshake(
            api_id=match.api.id if match else "",
            app_id="",
            app_name="",
            topic=match.topic.name if match else "",
            status=refusal.status,
            ms=(time.perf_counter() - started) * 1000,
        )
        ACCESS.write(
            "refused",
            {
                "event": "handshake",
                "path": raw_path,
                "status": refusal.status,
                "code": refusal.code,
                "api": match.api.id if match else None,
            },
        )

    async def _connect(self, scope: Scope, headers: dict[str, str], decision: Admission) -> upstream.BackendLeg | None:
        skip = _not_forwarded(decision.strip_headers)
        forwarded = {k: v for k, v in headers.items() if k not in skip}
        client = scope.get("client")
        if client:
            prior = forwarded.get("x-forwarded-for")
            forwarded["x-forwarded-for"] = f"{prior}, {client[0]}" if prior else client[0]
        jwt_header = decision.match.api.backend_jwt_header
        if jwt_header:
            # Only the gateway speaks in this header: whatever the client sent in it is dropped,
            # and a topic open without a token gets no JWT (there is no one to speak for).
            forwarded.pop(jwt_header.lower(), None)
            if decision.token is not None:
                forwarded[jwt_header] = self.gateway.backend_jwt.assertion(decision)
        deadline = upstream.Deadline(self.gateway.connect_timeout)  # a backend that hangs is a refusal
        try:
            try:
                return await upstream.connect(
                    decision.upstream_url,
                    # Never the token entry: the backend is offered the real subprotocols only.
                    protocols=real_protocols(scope.get("subprotocols") or ()),
                    headers=forwarded,
                    max_msg_size=self.gateway.max_frame_size,
                    ssl_context=self.gateway.backend_ssl,
                )
            except asyncio.CancelledError:
                if deadline.expired():
                    raise TimeoutError("the backend did not answer in time") from None
                raise
            finally:
                deadline.cancel()
        except (upstream.HandshakeError, TimeoutError, OSError, ValueError) as exc:
            log.warning("backend connect failed: %s: %s (%s)", type(exc).__name__, exc, decision.match.api.name)
            return None

    async def _throttled(
        self,
        refused: PolicyConfig | Verdict,
        payload: str | bytes,
        limiter: FrameLimiter,
        send: Send,
        conn: LiveConnection,
    ) -> bool:
        """The rest of counting a frame that ``limiter.check`` did not pass at once: ask the
        shared store when it must, and when over a limit carry out the policy's action and
        answer True (the frame is dropped)."""
        if refused is NEED_LEASE:
            leased = await limiter.check_shared(payload)
            if leased is None:
                return False
            refused = leased
        assert isinstance(refused, PolicyConfig)
        await self._enforce_throttle(refused, limiter, send, conn)
        return True

    async def _enforce_throttle(
        self, policy: PolicyConfig, limiter: FrameLimiter, send: Send, conn: LiveConnection
    ) -> None:
        if policy.action == "close":
            if not conn.closing:
                conn.closing = True
                await conn.close(THROTTLE_CLOSE_CODE, "Websocket frame throttled out")
        elif policy.action == "notify" and limiter.should_notify(policy):
            await send({"type": "websocket.send", "text": THROTTLED_MESSAGE})

    async def _refuse_message(
        self, send: Send, conn: LiveConnection, topic: str, close: bool, error: tuple[str, str]
    ) -> None:
        """A client message failed validation and is dropped: close 1007, or tell the client."""
        if close:
            if not conn.closing:
                conn.closing = True
                await conn.close(INVALID_CLIENT_CLOSE, close_reason(error))
        else:
            await send({"type": "websocket.send", "text": error_frame(topic, error)})

    async def _client_to_backend(self, receive: Receive, inbound: _Upstream) -> None:
        """The fallback loop (and where whatever must wait is finished): a message the
        protocol could not hand to ``_Upstream.offer`` arrives here through ``receive()``."""
        conn, backend = inbound.conn, inbound.backend
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                held = inbound.held
                if held is not None and held[0] is message:  # offered: its first steps are done
                    inbound.held = None
                    rest: Coroutine[Any, Any, bool] | None = held[1]
                else:
                    rest = inbound.step(message)
                if rest is not None and await rest:
                    return
            elif kind == "websocket.disconnect":
                if conn.close_code is None:
                    conn.close_code = message.get("code")
                if not backend.closed:
                    code = _sendable(message.get("code"))
                    await backend.close(code=code, message=(message.get("reason") or "").encode())
                return


async def _drive(sending: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive a coroutine that suspended (yielding ``waiting``) when it was driven by hand
    outside a task, to its end, in the calling task."""
    while True:
        try:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                # What a task does with a future a coroutine yields: clear the flag the
                # future's await set, then wait for it here.
                waiting._asyncio_future_blocking = False
                await waiting
        except BaseException as exc:
            if waiting is None or not waiting.done():  # this task was cancelled: tell the coroutine
                try:
                    waiting = sending.throw(exc)
                except StopIteration:
                    return
                continue
            # else what it waited for failed: the coroutine sees that itself when resumed
        try:
            waiting = sending.send(None)
        except StopIteration:
            return


async def _stop() -> bool:
    return True


async def _reraise(exc: Exception) -> bool:
    raise exc


class _Direction:
    """What each direction of a connection relays with: its legs, limits and counters."""

    __slots__ = ("relay", "backend", "send", "limiter", "check", "conn", "payloads", "poller", "track_idle")

    def __init__(
        self,
        relay: Relay,
        backend: upstream.BackendLeg,
        send: CoroutineSend,
        limiter: FrameLimiter,
        conn: LiveConnection,
        payloads: TopicPayloads | None,
    ):
        self.relay = relay
        self.backend = backend
        self.send = send
        self.limiter = limiter
        self.check = limiter.check if limiter else None  # counts a frame; None when it passes
        self.conn = conn
        self.payloads = payloads  # validated in this direction, or None
        gateway = relay.gateway
        self.poller = gateway.poller
        self.track_idle = gateway.idle_timeout > 0


class _Upstream(_Direction):
    """Client to backend for one connection: the per-message steps, run without a task
    switch where the server allows it.

    ``step`` is the one place a client message is decided: it is counted (busy poller,
    idle time, rate limits), validated and written to the backend leg, and answers None
    when that is all done, or the rest as a coroutine (answering True when relaying must
    stop) when something has to wait: a throttle action or the shared store, a reply to an
    invalid message, a backend write waiting for its socket to drain, a gone backend.

    The relay's task runs ``step`` for each message ``receive()`` gives it
    (``Relay._client_to_backend``). Under the gateway's own protocol (gateway/wsprotocol.py)
    ``offer`` is registered through the "tidegate.receive.direct" extension and runs
    ``step`` from the protocol's ``data_received`` while that task waits in ``receive()``
    with nothing queued. When the rest must wait, ``offer`` keeps it in ``held`` and
    answers False: the protocol queues the message (pausing reading) and wakes the task,
    which finishes ``held`` instead of stepping the message again; messages arriving
    meanwhile queue behind it, as before.
    """

    __slots__ = ("held",)

    def __init__(
        self,
        relay: Relay,
        backend: upstream.BackendLeg,
        send: CoroutineSend,
        limiter: FrameLimiter,
        conn: LiveConnection,
    ):
        super().__init__(relay, backend, send, limiter, conn, conn.payloads)
        # A message offered whose rest must wait, and that rest, for the relay's task.
        self.held: tuple[Message, Coroutine[Any, Any, bool]] | None = None

    def offer(self, message: Message) -> bool:
        """The "tidegate.receive.direct" callable: relay ``message`` now; False when the
        rest must wait (kept in ``held`` for the relay's task, which the queued message wakes)."""
        try:
            rest = self.step(message)
        except Exception as exc:  # noqa: BLE001 - a fault of the relay's own, not of the client's frame
            # Raised again in the relay's task: logged with its traceback and the connection
            # ended as for any application error, not taken for a protocol error by the reader.
            rest = _reraise(exc)
        if rest is None:
            return True
        self.held = (message, rest)
        return False

    def step(self, message: Message) -> Coroutine[Any, Any, bool] | None:
        conn = self.conn
        if self.poller is not None:
            self.poller.touch(conn)
        if self.track_idle:
            conn.last_activity = time.monotonic()
        text = message.get("text")
        payload = text if text is not None else (message.get("bytes") or b"")
        if self.check is not None and (refused := self.check(payload)) is not None:
            return self._throttled(refused, text, payload)
        return self._forward(text, payload)

    def _forward(self, text: str | None, payload: str | bytes) -> Coroutine[Any, Any, bool] | None:
        """Validate and write a message the limiter passed."""
        conn, payloads = self.conn, self.payloads
        if payloads is not None:
            verdict, error = judge(payloads.publish, text)
            conn.validated[verdict] += 1
            if verdict == INVALID and error is not None:
                return self._refuse(error)
        try:
            if text is not None:
                rest = self.backend.send_now(text.encode(), _TEXT)
            else:
                rest = self.backend.send_now(payload, _BINARY)  # type: ignore[arg-type]
        except ConnectionError:  # the backend leg is gone (upstream.py raises nothing else)
            return _stop()
        if rest is None:  # written
            conn.frames_in += 1
            conn.bytes_in += payload_size(payload)
            return None
        return self._finish(rest, payload)  # the backend's socket must drain first

    async def _finish(self, rest: Coroutine[Any, Any, None], payload: str | bytes) -> bool:
        try:
            await rest
        except ConnectionError:
            return True
        self.conn.frames_in += 1
        self.conn.bytes_in += payload_size(payload)
        return False

    async def _throttled(self, refused: PolicyConfig | Verdict, text: str | None, payload: str | bytes) -> bool:
        conn = self.conn
        try:
            if await self.relay._throttled(refused, payload, self.limiter, self.send, conn):
                conn.throttled_in += 1
                return False
        except (OSError, RuntimeError):  # the client went away while being told
            return True
        rest = self._forward(text, payload)  # the shared store had room after all
        return rest is not None and await rest

    async def _refuse(self, error: tuple[str, str]) -> bool:
        payloads = self.payloads
        assert payloads is not None
        try:
            await self.relay._refuse_message(self.send, self.conn, payloads.topic, payloads.close_client, error)
        except (OSError, RuntimeError):  # the client went away while being told
            return True
        return False


class _Downstream(_Direction):
    """Backend to client for one connection, without a task of its own while frames flow.

    ``deliver`` is offered each message as the backend leg's reader parses it
    (``BackendLeg.attach``) and relays a text or binary one there and then when nothing
    makes it wait: the limiter passes it, validation accepts it and the client's ``send``
    finishes without suspending. Anything else (a control message or the end of the
    connection, a throttled or invalid message, a send that has to wait for a slow client)
    goes to a task, ``pump``, that finishes it and relays whatever was queued behind it in
    order, reading the leg with ``receive()`` as a task per connection always did, then
    ends. While the pump runs, messages are queued: a slow client stops the gateway reading
    the backend at the leg's queue limit, as before.
    """

    __slots__ = ("latency", "pump", "ended", "send_now")

    def __init__(
        self,
        relay: Relay,
        backend: upstream.BackendLeg,
        send: CoroutineSend,
        limiter: FrameLimiter,
        conn: LiveConnection,
        send_now: Callable[[str | bytes], bool] | None = None,
    ):
        payloads = conn.payloads if conn.payloads is not None and conn.payloads.backend else None
        super().__init__(relay, backend, send, limiter, conn, payloads)
        # The server's "tidegate.send.direct" (False: ``send`` must be awaited), or None.
        self.send_now = send_now
        self.latency = relay.gateway.frame_counters.relay_latency
        self.pump: asyncio.Task[None] | None = None
        self.ended = False  # the client is gone or was sent its close: nothing more to relay
        backend.attach(self.deliver, self.wake)

    def wake(self) -> None:
        """A message was queued, or the backend leg ended: let the pump take it."""
        if self.pump is None and not self.ended and not self.backend.receiving:
            self.pump = asyncio.get_running_loop().create_task(self._run())

    def deliver(self, msg: aiohttp.WSMessage) -> bool:
        """Relay ``msg`` now if it needs no waiting; False leaves it queued for the pump."""
        if self.pump is not None:
            return False  # messages before it wait in the queue: order is kept
        key = _ASGI_KEY.get(msg.type)
        if key is None:
            return False  # a control message or the end: the pump's
        if self.ended or self.conn.closing:
            return self.ended  # dropped once the client is gone; the pump ends a closing one
        try:
            rest = self._step(msg.data, key)
        except Exception as exc:  # noqa: BLE001 - the client is gone (see _gone)
            self._gone(exc)
            return True
        if rest is not None:
            self._start(rest)  # a throttle action, an invalid message, a slow client: in a task
        return True

    def _step(self, data: str | bytes, key: str) -> Coroutine[Any, Any, None] | None:
        """The one place a backend message is decided: counted (busy poller, idle time, rate
        limits), validated and sent to the client. None when that is all done, or the rest
        as a coroutine when something has to wait."""
        conn = self.conn
        if self.poller is not None:
            self.poller.touch(conn)
        if self.track_idle:
            conn.last_activity = time.monotonic()
        if self.check is not None and (refused := self.check(data)) is not None:
            return self._throttled(refused, data, key)
        return self._forward(data, key)

    def _forward(self, data: str | bytes, key: str) -> Coroutine[Any, Any, None] | None:
        """Validate and send a message the limiter passed."""
        conn, payloads = self.conn, self.payloads
        if payloads is not None:
            verdict = judge(payloads.subscribe, data if isinstance(data, str) else None)[0]
            conn.validated[3 + verdict] += 1
            if verdict == INVALID:  # dropped, and counted; or the connection closes
                return self._invalid() if payloads.close_backend else None
        conn.frames_out += 1
        conn.bytes_out += payload_size(data)
        sampled = 0.0 if conn.frames_out % LATENCY_SAMPLE_EVERY else time.perf_counter()
        send_now = self.send_now
        if send_now is None or not send_now(data):  # the ASGI send, driven by hand
            sending = self.send({"type": "websocket.send", key: data})
            try:
                waiting = sending.send(None)
            except StopIteration:  # sent
                pass
            else:
                return self._finish_send(sending, waiting, sampled)  # a slow client: wait for it
        if sampled:
            self.latency.observe(time.perf_counter() - sampled)
        return None

    def _start(self, first: Coroutine[Any, Any, None]) -> None:
        self.pump = asyncio.get_running_loop().create_task(self._run(first))

    def _gone(self, exc: BaseException) -> None:
        """Sending to the client failed: it is gone (any server's own "disconnected" error)."""
        self.ended = True
        if (
            isinstance(exc, Exception)
            and not isinstance(exc, (OSError, RuntimeError))
            and "Disconnected" not in type(exc).__name__
        ):
            log.error("relaying to the client failed", exc_info=exc)

    async def _run(self, first: Coroutine[Any, Any, None] | None = None) -> None:
        """The pump: finish ``first``, then relay what waits in the queue, in order."""
        try:
            if first is not None:
                await first
            backend = self.backend
            while not self.ended and backend.pending and not backend.receiving:
                if await self._relay(await backend.receive()):
                    self.ended = True
        except BaseException as exc:  # noqa: BLE001 - cancelled at close, or the client is gone
            self._gone(exc)
            if not isinstance(exc, Exception):
                raise
            # What the backend sent meanwhile has nowhere to go. Read it off (a data message
            # arriving from now on is dropped by ``deliver``): a backend stopped by a full
            # queue reads again, so the relay's own send to it, waiting on that backend,
            # returns and the relay sees the client's disconnect.
            backend = self.backend
            while backend.pending and not backend.receiving and not backend.closed:
                await backend.receive()
        finally:
            self.pump = None

    async def _finish_send(self, sending: Coroutine[Any, Any, None], waiting: Any, sampled: float) -> None:
        """Drive a ``send`` that suspended in ``deliver`` to its end, in the pump's task."""
        await _drive(sending, waiting)
        if sampled:
            self.latency.observe(time.perf_counter() - sampled)

    async def _throttled(self, refused: PolicyConfig | Verdict, data: str | bytes, key: str) -> None:
        conn = self.conn
        if await self.relay._throttled(refused, data, self.limiter, self.send, conn):
            conn.throttled_out += 1
        elif (rest := self._forward(data, key)) is not None:  # the shared store had room after all
            await rest

    async def _invalid(self) -> None:
        conn = self.conn
        if not conn.closing:
            conn.closing = True
            await conn.close(INVALID_BACKEND_CLOSE, "Invalid message from the backend")

    async def _relay(self, msg: aiohttp.WSMessage) -> bool:
        """One message the pump read from the queue; True when it ended the connection."""
        conn = self.conn
        key = _ASGI_KEY.get(msg.type)
        if key is not None:
            if conn.closing:
                return True  # the gateway closed this connection itself
            if (rest := self._step(msg.data, key)) is not None:
                await rest
            return False
        if conn.closing:
            return True  # the gateway closed this connection itself
        if msg.type == aiohttp.WSMsgType.CLOSE:
            code = _sendable(msg.data)
            conn.close_code = conn.close_code or code
            await self.send({"type": "websocket.close", "code": code, "reason": msg.extra or ""})
            return True
        # CLOSED or ERROR: the backend went away without a close handshake
        backend = self.backend
        code = backend.close_code if msg.type == aiohttp.WSMsgType.ERROR and backend.close_code else BACKEND_GONE
        code = _sendable(code, BACKEND_GONE)
        conn.close_code = conn.close_code or code  # the client may have closed first
        await self.send({"type": "websocket.close", "code": code})
        return True

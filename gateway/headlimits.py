"""Limits on a request head, for the gateway's listeners under Uvicorn.

Uvicorn's httptools protocol reads a request head of any size for as long as the client
takes: a client could hold connections open forever by sending a head slowly, or grow the
server's memory with one endless header line. (Its websockets-sansio protocol then parsed
the head of an upgrade again with the websockets library's own limits and, when that
refused it, neither sent the refusal nor closed the connection. The head of an upgrade is
now handed as parsed to gateway/wsprotocol.py, which checks the handshake itself; only a
client offering permessage-deflate to a compressing gateway still goes that way.)

``limited_protocols`` makes the two protocol classes the gateway runs with:

- a head over ``max_head_bytes`` (request line and headers) or with more than
  ``MAX_HEADERS`` header lines is answered 431 and the connection closed;
- a head not complete ``head_timeout`` seconds after the connection opened (or after the
  first byte of a further request on a kept-alive connection) is answered 408 and closed;
- a head the HTTP parser refuses is answered 400, and an upgrade request that is not a
  valid WebSocket handshake 400, 405 or 426 (gateway/wsprotocol.py), and closed;

each with the gateway's JSON error body. ``SERVER_COUNTS`` exposes the connections and ASGI
tasks the listeners hold, for ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging

import httptools
from prometheus_client.core import GaugeMetricFamily
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets import http11
from websockets.exceptions import HeaderLineTooLong, RequestLineTooLong, TooManyHeaders
from websockets.server import ServerProtocol

from gateway.clientleg import ClientLeg, ClientLegProtocol
from gateway.wsprotocol import GatewayWebSocket, error_body, refusal

log = logging.getLogger("tidegate.gateway")

# The websockets library's own cap on header lines, applied here to every request.
MAX_HEADERS = http11.MAX_NUM_HEADERS
# How long a refused client may go on sending before the connection is closed.
LINGER_SECONDS = 2.0


def head_response(status: int, description: str) -> bytes:
    return refusal(status, description)


class ServerCounts:
    """Connections open on the gateway's listeners (handshakes and plain HTTP included, not
    only relayed WebSocket connections) and the ASGI calls in flight, across listeners."""

    def __init__(self) -> None:
        self.connections: set[asyncio.Protocol] = set()
        self._task_sets: dict[int, set[asyncio.Task[None]]] = {}

    def track_tasks(self, tasks: set[asyncio.Task[None]]) -> None:
        self._task_sets.setdefault(id(tasks), tasks)

    @property
    def tasks(self) -> int:
        return sum(len(t) for t in self._task_sets.values())

    def collect(self):
        yield GaugeMetricFamily(
            "tidegate_server_connections",
            "TCP connections open on the gateway's listeners, handshakes and plain HTTP included",
            value=len(self.connections),
        )
        yield GaugeMetricFamily(
            "tidegate_server_tasks", "Requests and WebSocket connections the server is running", value=self.tasks
        )


SERVER_COUNTS = ServerCounts()


class _JsonRefusals(ServerProtocol):
    """The websockets library's handshake refusals (not a WebSocket upgrade, a missing key,
    the 403 and 500 Uvicorn makes with it) with the gateway's JSON error body."""

    def reject(self, status, text):
        response = super().reject(status, text)
        body = error_body(int(status), text.strip())
        for name in ("Content-Type", "Content-Length"):
            del response.headers[name]
        response.headers["Content-Type"] = "application/json"
        response.headers["Content-Length"] = str(len(body))
        response.body = body
        return response


def limited_protocols(
    *, max_head_bytes: int, head_timeout: float, client_leg: ClientLeg | None = None
) -> tuple[type, type]:
    """The HTTP and WebSocket protocol classes for Uvicorn's ``http`` and ``ws`` settings.

    The WebSocket class is gateway/wsprotocol.py's, with ``client_leg``'s heartbeats: the
    HTTP class hands it each upgrade request as parsed. With compression on, a client that
    offers permessage-deflate is handed to Uvicorn's websockets-sansio protocol instead
    (``LimitedWebSockets`` below, gateway/clientleg.py), which negotiates it."""
    leg = client_leg or ClientLeg()

    # The websockets library parses the head of an upgrade again, a line at a time: a line
    # the HTTP stage let through must not be refused there.
    http11.MAX_LINE_LENGTH = max(http11.MAX_LINE_LENGTH, max_head_bytes)

    class LimitedWebSockets(ClientLegProtocol):
        client_leg = leg

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # Each connection negotiates its own extensions; Uvicorn's ws_per_message_deflate
            # stays off, its fixed window and memory levels are not the gateway's settings.
            self.conn = _JsonRefusals(
                extensions=leg.extensions(), max_size=self.config.ws_max_size, logger=self.conn.logger
            )

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            SERVER_COUNTS.connections.add(self)
            SERVER_COUNTS.track_tasks(self.tasks)

        def connection_lost(self, exc) -> None:
            SERVER_COUNTS.connections.discard(self)
            super().connection_lost(exc)

        def send_receive_event_to_app(self) -> None:
            # Uvicorn's own, except that invalid UTF-8 closes with 1007 and a reason (as
            # the websockets library does on its own connections) and logs no traceback.
            data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
            self.frames = []
            if self.close_sent:
                return
            if self.curr_msg_data_type == "text":
                try:
                    self.queue.put_nowait({"type": "websocket.receive", "text": data.decode()})
                except UnicodeDecodeError as exc:
                    reason = f"{exc.reason} at position {exc.start}"
                    self.logger.warning("Invalid UTF-8 sequence received from client: %s", reason)
                    self.conn.send_close(1007, reason)
                    self.handle_parser_exception()
                    return
            else:
                self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
            if not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            failed = self.conn.handshake_exc
            if self.handshake_initiated or failed is None or self.transport.is_closing():
                return
            # The library refused the head and left its answer (or none) unsent.
            if isinstance(failed, (HeaderLineTooLong, TooManyHeaders)):
                status, why = 431, f"A header line is too long or there are more than {MAX_HEADERS} headers"
            elif isinstance(failed, RequestLineTooLong):
                status, why = 414, "The request line is too long"
            else:
                status, why = 400, "Not a valid WebSocket handshake request (GET, an ASCII path, HTTP/1.1 headers)"
            self.conn.data_to_send()  # dropped: the answer is written here
            self.handshake_complete = self.close_sent = True
            self.transport.write(head_response(status, why))
            self.transport.close()

    class LimitedHttp(HttpToolsProtocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            SERVER_COUNTS.connections.add(self)
            SERVER_COUNTS.track_tasks(self.tasks)
            self._head_bytes = 0
            self._head_headers = 0
            self._head_pending = True
            self._head_too_large = False
            self._bad_host = False
            self._lingering = False
            self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(head_timeout, self._head_timed_out)

        def connection_lost(self, exc) -> None:
            SERVER_COUNTS.connections.discard(self)
            self._cancel_head_timer()
            super().connection_lost(exc)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _refuse(self, status: int, description: str) -> None:
            """Answer and close. The rest of what the client is still sending is read and
            dropped for up to LINGER_SECONDS first (its end of the connection shut for
            writing), so closing with unread data does not reset the connection and lose
            the answer before the client has read it."""
            self._cancel_head_timer()
            self._head_pending = False
            if self.transport.is_closing() or self._lingering:
                return
            self.transport.write(head_response(status, description))
            if (self.cycle is not None and not self.cycle.response_complete) or not self.transport.can_write_eof():
                # A pipelined request before this one is still being answered: closed at
                # once, as Uvicorn does, so its response is dropped rather than written
                # after the end of the stream.
                self.transport.close()
                return
            self.transport.write_eof()
            self._lingering = True
            self._head_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

        def eof_received(self):
            if self._lingering:
                self.transport.close()
            return None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self._head_pending:
                self._refuse(408, f"The request head did not arrive within {head_timeout:g} seconds")

        def _too_large(self) -> None:
            self._refuse(
                431, f"The request head is over {max_head_bytes} bytes or has more than {MAX_HEADERS} header lines"
            )

        def data_received(self, data: bytes) -> None:
            # Uvicorn's own, with the limits: the parser is fed at most one read past the
            # limit, and a head it refuses is answered with the gateway's error body.
            if self.transport.is_closing() or self._lingering:
                return  # refused: what follows is dropped
            self._unset_keepalive_if_required()
            if self._head_pending:
                self._head_bytes += len(data)
                if self._head_timer is None:
                    self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as upgrade:
                if self._should_upgrade():
                    offset = upgrade.args[0] if upgrade.args else len(data)
                    self.handle_websocket_upgrade(data[offset:])
                else:
                    self._unsupported_upgrade_warning()
                return
            except httptools.HttpParserError:
                if self._head_too_large:
                    self._too_large()
                elif self._bad_host:
                    self._refuse(400, "An HTTP/1.1 request needs exactly one Host header")
                else:
                    self._refuse(400, "The request is not valid HTTP/1.1")
                return
            if self._head_pending and self._head_bytes > max_head_bytes:
                self._too_large()

        def handle_websocket_upgrade(self, rest: bytes = b"") -> None:
            SERVER_COUNTS.connections.discard(self)  # the WebSocket protocol counts itself
            self._cancel_head_timer()
            if leg.compression and any(
                name == b"sec-websocket-extensions" and b"permessage-deflate" in value.lower()
                for name, value in self.headers
            ):
                # Negotiated by the websockets library: the head is re-serialised for it.
                self.ws_protocol_class = LimitedWebSockets
                super().handle_websocket_upgrade()
                return
            self.connections.discard(self)
            protocol = GatewayWebSocket(
                config=self.config,
                server_state=self.server_state,
                app_state=self.app_state,
                _loop=self.loop,
                ping_interval=leg.ping_interval or None,
                ping_timeout=leg.ping_timeout,
                counts=SERVER_COUNTS,
            )
            self.transport.set_protocol(protocol)  # type: ignore[arg-type]  # an asyncio protocol by its methods: compiled, it cannot subclass asyncio.Protocol
            protocol.upgrade(
                self.transport,
                self.scope["method"],
                self.url,
                self.headers,
                self.parser.get_http_version(),
                self.server,
                self.client,
                self.scheme,
                rest,
            )

        # Parser callbacks
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_headers = 0

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_headers += 1
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers) + 16
            if size > max_head_bytes or self._head_headers > MAX_HEADERS:
                self._head_too_large = True
                raise ValueError("request head too large")  # ends feed_data: answered 431
            # RFC 9112 3.2: none in an HTTP/1.1 request, or more than one in any, is a 400
            # (which Host the request meant would be the reader's guess).
            hosts = sum(1 for name, _ in self.headers if name == b"host")
            if hosts > 1 or (hosts == 0 and self.parser.get_http_version() != "1.0"):
                self._bad_host = True
                raise ValueError("no Host header, or more than one")  # ends feed_data: answered 400
            self._head_pending = False
            self._cancel_head_timer()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            # A further request on this connection: its head is counted and timed afresh
            # from its first byte (Uvicorn's keep-alive timeout covers the wait for it).
            self._head_pending = True
            self._head_bytes = 0

    return LimitedHttp, GatewayWebSocket

"""The gateway's client-facing WebSocket protocol for Uvicorn, on aiohttp's compiled frame reader.

Uvicorn's websockets-sansio protocol (gateway/clientleg.py) had the request head parsed twice
(httptools, then Uvicorn re-serialised it for the websockets library's sans-I/O parser) and
every frame parsed in pure Python. Here the head parsed once by the gateway's httptools
protocol (``LimitedHttp`` in gateway/headlimits.py) is handed over as parsed, checked here,
and frames are read by aiohttp's compiled reader (through gateway/aiohttp_frames.py, as the
backend leg does) and written by a few lines below. The application sees the same ASGI
websocket interface Uvicorn gives it (scope, events, denial responses, ``ClientDisconnected``).

What the handshake checks (each refusal with the gateway's JSON error body, then closed):
header values with control characters, a target that is not ASCII, a request body or
``Transfer-Encoding``, HTTP other than 1.1: 400; a method other than GET: 405; ``Connection``
without ``upgrade``, ``Upgrade`` other than exactly ``websocket`` or a
``Sec-WebSocket-Version`` other than 13: 426; a ``Sec-WebSocket-Key`` that is not 16 bytes
in base64, or either header missing or repeated: 400.

Frames: a message over ``ws_max_size`` (``TIDEGATE_MAX_FRAME_SIZE``) closes with 1009 from its
declared length; a text message that is not UTF-8 with 1007 and the decoder's reason (one
warning line); an unmasked client frame, a reserved bit, an unknown opcode, a close code
RFC 6455 (7.4) does not allow on the wire, a fragmented or oversized control frame with 1002.
Pings are answered, the close handshake runs both ways (a close the application sends is
awaited up to 10 s; whatever the client sends after it, a protocol error included, ends the
connection without a second close frame).
Heartbeats are gateway/clientleg.py's, unchanged. Compression (permessage-deflate) is not
implemented here: with ``TIDEGATE_CLIENT_COMPRESSION=1``, a client that offers it is handed
to the websockets-sansio class by ``LimitedHttp`` instead.

Backpressure: reading pauses while a message waits for the application (as Uvicorn does),
and ``send`` waits while the transport's write buffer is over its high-water mark.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import hashlib
import json
import logging
import random
import struct
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import unquote

from uvicorn.protocols.utils import ClientDisconnected

from gateway.aiohttp_frames import MessageSink, WebSocketReader, WSMessage, WSMessageTextBytes, WSMsgType
from gateway.asgitypes import Message, Scope
from gateway.clientleg import DEAD_CLIENT_CODE, DEAD_CLIENT_REASON, DEAD_PEERS
from gateway.looptypes import Timer, Transport

if TYPE_CHECKING:
    from uvicorn.config import Config

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
CLOSE_TIMEOUT = 10.0  # how long a close the application sent waits for the client's answer
# Control characters a header value may not hold (RFC 9110 field-value; the websockets
# library refused the same). Found by deleting them (``bytes.translate``): a regular
# expression's character class cost ten times as much per byte, over a long token.
_BAD_VALUE = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])
_H1 = struct.Struct("!BB").pack
_H2 = struct.Struct("!BBH").pack
_H3 = struct.Struct("!BBQ").pack
_CODE = struct.Struct("!H")
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_PING = WSMsgType.PING
_PONG = WSMsgType.PONG
_CLOSE = WSMsgType.CLOSE
_OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
_CONCAT_BELOW = 4096  # frames smaller than this are written as one joined buffer
# The close codes a peer may send (RFC 6455, 7.4; the websockets library's set): the assigned
# ones meant for the wire, and 3000-4999. aiohttp's reader lets 1006 and anything from 5000 on
# through (it checks only codes below 3000, against its own enum).
_WIRE_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


def error_body(status: int, description: str) -> bytes:
    phrase = HTTPStatus(status).phrase
    return json.dumps({"code": str(status), "error_message": phrase, "error_description": description}).encode()


def refusal(status: int, description: str, extra: bytes = b"") -> bytes:
    """A complete HTTP response refusing a handshake, with the gateway's JSON error body."""
    body = error_body(status, description)
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()
        + extra
        + f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        return _H1(0x80 | opcode, n) + payload
    if n < 65536:
        return _H2(0x80 | opcode, 126, n) + payload
    return _H3(0x80 | opcode, 127, n) + payload


def close_payload(code: int, reason: str) -> bytes:
    data = reason.encode()
    if len(data) > 123:  # a control frame holds 125 bytes, the code two of them
        data = data[:123].decode(errors="ignore").encode()
    return _CODE.pack(code) + data


_logger = logging.getLogger("uvicorn.error")


class _ServerState(Protocol):
    """What this protocol uses of Uvicorn's ``ServerState`` (whose ``connections`` set is
    typed for Uvicorn's own protocol classes only)."""

    connections: set[Any]
    tasks: set[asyncio.Task[None]]
    default_headers: list[tuple[bytes, bytes]]


class GatewayWebSocket:
    """One client connection after its upgrade request was parsed by ``LimitedHttp``.

    Uvicorn's ``ws`` setting names this class (rungateway); ``LimitedHttp`` builds it with
    Uvicorn's arguments, the client leg's heartbeat settings and ``counts`` (SERVER_COUNTS),
    and calls ``upgrade`` with the parsed head. Compiled (gateway/native.py): no subclasses."""

    __slots__ = (
        "ping_interval",
        "ping_timeout",
        "counts",
        "config",
        "app_state",
        "server_state",
        "loop",
        "transport",
        "scope",
        "reader",
        "sink",
        "events",
        "waiter",
        "write_waiter",
        "accept_key",
        "handshake_complete",
        "close_sent",
        "peer_closed",
        "disconnected",
        "read_paused",
        "initial_response",
        "close_timer",
        "ping_timer",
        "pong_timer",
        "pending_ping",
        "ping_sent_at",
        "last_heard",
        "mask_skip",
        "mask_head",
        "offer",
        "early",
        "pong_owed",
    )

    # Typed here, set in __init__ (the slots above).
    reader: WebSocketReader | None
    sink: MessageSink | None
    close_timer: Timer | None
    ping_timer: Timer | None
    pong_timer: Timer | None
    offer: Callable[[Message], bool] | None

    def __init__(
        self,
        config: Config,
        server_state: _ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        ping_interval: float | None = 30.0,
        ping_timeout: float = 20.0,
        counts: Any = None,
    ) -> None:
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.counts = counts  # headlimits.SERVER_COUNTS
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: Transport = None  # type: ignore[assignment]
        self.scope: Scope | None = None
        self.reader = self.sink = None
        self.events: deque[Message] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.write_waiter: asyncio.Future[None] | None = None
        self.accept_key = b""
        self.handshake_complete = self.close_sent = self.peer_closed = self.disconnected = False
        self.read_paused = False
        self.initial_response: list[Any] | None = None  # [status, headers, body so far]
        self.close_timer = self.ping_timer = self.pong_timer = None
        self.pending_ping: bytes | None = None
        self.ping_sent_at = 0.0
        self.last_heard = 0.0
        self.mask_skip = 0  # bytes of the current frame's payload still to come
        self.mask_head = b""  # the start of a frame header cut by the end of a read
        self.offer = None  # the application's "tidegate.receive.direct" callable, if it set one
        # What the client sent before the handshake was answered: read only once it is (RFC
        # 6455 4.2.2: nothing but the HTTP answer goes out before then), reading paused meanwhile.
        self.early = b""
        # The latest ping's payload, while the client reads too slowly to take pongs: one pong
        # answers it when writing resumes (RFC 6455 5.5.3), never a pong per ping buffered.
        self.pong_owed: bytes | None = None

    # The handshake

    def upgrade(
        self,
        transport: Transport,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        http_version: str,
        server: tuple[str, int | None] | None,
        client: tuple[str, int] | None,
        scheme: str | None,
        rest: bytes,
    ) -> None:
        """Take over ``transport`` with the upgrade request ``LimitedHttp`` parsed; ``rest``
        is what followed its head in the same read."""
        self.transport = transport
        self.server_state.connections.add(self)
        self.counts.connections.add(self)
        self.last_heard = self.loop.time()
        refused = self._check(method, target, headers, http_version)
        if refused is not None:
            self.handshake_complete = self.close_sent = True
            transport.write(refused)
            transport.close()
            return
        raw_path, _, query = target.partition(b"?")
        root = self.config.root_path
        subprotocols: list[str] = []
        for name, value in headers:
            if name == b"sec-websocket-protocol":
                subprotocols.extend(t.strip() for t in value.decode("latin-1").split(","))
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.config.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss" if scheme == "https" else "ws",
            "server": server,
            "client": client,
            "root_path": root,
            "path": root + unquote(raw_path.decode("ascii")),
            "raw_path": root.encode("ascii") + raw_path,
            "query_string": query,
            "headers": headers,
            "subprotocols": subprotocols,
            "state": self.app_state.copy(),
            "extensions": {
                "websocket.http.response": {},
                "tidegate.receive.direct": self._direct,
                "tidegate.send.direct": self._send_now,
            },
        }
        # aiohttp types the queue's protocol as its BaseProtocol: MessageSink only calls _message on it.
        sink = self.sink = MessageSink(self, 1 << 16, loop=self.loop)
        self.reader = WebSocketReader(sink, self.config.ws_max_size + 1, compress=False, decode_text=False)
        self.events.append({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if rest:
            self.data_received(rest)

    def _check(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], http_version: str) -> bytes | None:
        """The refusal for an upgrade request that is not a valid WebSocket handshake, or None."""
        connection: list[bytes] = []
        upgrade: list[bytes] = []
        keys: list[bytes] = []
        versions: list[bytes] = []
        body = False
        for i, (name, value) in enumerate(headers):
            stripped = value.strip(b" \t")
            if stripped is not value and stripped != value:
                headers[i] = (name, stripped)
                value = stripped
            if len(value.translate(None, _BAD_VALUE)) != len(value):
                return refusal(400, "A header value holds control characters")
            if name == b"connection":
                connection += [t.strip().lower() for t in value.split(b",")]
            elif name == b"upgrade":
                upgrade += [t.strip().lower() for t in value.split(b",")]
            elif name == b"sec-websocket-key":
                keys.append(value)
            elif name == b"sec-websocket-version":
                versions.append(value)
            elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
                body = True
        if http_version != "1.1" or not target.isascii() or body:
            return refusal(400, "Not a valid WebSocket handshake request (GET, an ASCII path, HTTP/1.1 headers)")
        if method != "GET":
            return refusal(405, "A WebSocket handshake is a GET request", b"allow: GET\r\n")
        if b"upgrade" not in connection or upgrade != [b"websocket"]:
            return refusal(426, "Upgrade: websocket and Connection: Upgrade are required", b"upgrade: websocket\r\n")
        if len(keys) != 1:
            return refusal(400, "Exactly one Sec-WebSocket-Key is required")
        try:
            raw_key = base64.b64decode(keys[0], validate=True)
        except binascii.Error:
            raw_key = b""
        if len(raw_key) != 16:
            return refusal(400, "Sec-WebSocket-Key must be 16 bytes in base64")
        if len(versions) != 1:
            return refusal(400, "Exactly one Sec-WebSocket-Version is required")
        if versions[0] != b"13":  # RFC 6455, 4.2.2: 426 and the version understood
            return refusal(426, "Sec-WebSocket-Version must be 13", b"sec-websocket-version: 13\r\n")
        self.accept_key = base64.b64encode(hashlib.sha1(keys[0] + GUID, usedforsecurity=False).digest())
        return None

    # asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        self.last_heard = self.loop.time()
        reader = self.reader
        if reader is None or self.peer_closed:
            return
        if not self.handshake_complete:
            self.early += data
            self.transport.pause_reading()
            return
        bad = self._unmasked_at(data)
        if bad >= 0:
            if bad:
                self._feed(reader, data[:bad])
            if not self.peer_closed:
                self._fail(1002, "incorrect masking")
            return
        if reader.feed_data(data)[0]:
            self._reader_failed()

    def _read_early(self) -> None:
        """Frames that came before the handshake was answered, now that it has been."""
        early, self.early = self.early, b""
        if not self.transport.is_closing():
            if not self.read_paused:
                self.transport.resume_reading()
            self.data_received(early)

    def _feed(self, reader: WebSocketReader, data: bytes) -> None:
        if reader.feed_data(data)[0]:
            self._reader_failed()

    def _reader_failed(self) -> None:
        if not self.peer_closed:
            assert self.sink is not None  # set with the reader (upgrade)
            exc = self.sink.exception()
            code = getattr(exc, "code", 1002)
            code = code if isinstance(code, int) else 1002
            if code == 1009:  # the reader's own words name the limit it was given, one over
                reason = f"Message over {self.config.ws_max_size} bytes"
            elif str(exc).startswith("Invalid close frame"):  # its words show the raw bytes
                reason = "Invalid close frame"
            else:
                reason = str(exc)
            self._fail(code, reason)

    def _unmasked_at(self, data: bytes) -> int:
        """Where in ``data`` a client frame without the mask bit starts (the reader takes
        unmasked frames, RFC 6455 requires the server to refuse them), or -1. Walks only
        the frame headers."""
        pos = self.mask_skip
        n = len(data)
        if pos >= n:
            self.mask_skip = pos - n
            return -1
        head = self.mask_head
        base = 0
        if head:
            base = len(head)
            data = head + data
            n += base
            self.mask_head = b""
        while pos < n:
            left = n - pos
            if left < 2:
                self.mask_head, self.mask_skip = data[pos:], 0
                return -1
            second = data[pos + 1]
            if not second & 0x80:
                return max(pos - base, 0)
            length = second & 0x7F
            if length == 126:
                if left < 4:
                    self.mask_head, self.mask_skip = data[pos:], 0
                    return -1
                length = (data[pos + 2] << 8) | data[pos + 3]
                pos += 8 + length
            elif length == 127:
                if left < 10:
                    self.mask_head, self.mask_skip = data[pos:], 0
                    return -1
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                pos += 14 + length
            else:
                pos += 6 + length
        self.mask_skip = pos - n
        return -1

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_keepalive()
        self._put({"type": "websocket.disconnect", "code": 1005 if self.handshake_complete else 1006})
        self.server_state.connections.discard(self)
        self.counts.connections.discard(self)
        self.handshake_complete = self.disconnected = True
        self._wake_writer()
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        if self.sink is not None:
            self.sink._protocol = None  # no cycle left behind
        if self.scope is not None:  # nor through the direct extensions
            extensions = self.scope["extensions"]
            extensions.pop("tidegate.receive.direct", None)
            extensions.pop("tidegate.send.direct", None)
        self.offer = None
        self.reader = None
        if exc is None:
            self.transport.close()

    def eof_received(self) -> None:
        pass

    def pause_writing(self) -> None:
        if self.write_waiter is None:
            self.write_waiter = self.loop.create_future()

    def resume_writing(self) -> None:
        owed = self.pong_owed
        if owed is not None:
            self.pong_owed = None
            if not (self.close_sent or self.peer_closed):
                self.transport.write(frame(_OP_PONG, owed))
        self._wake_writer()

    def _wake_writer(self) -> None:
        waiter = self.write_waiter
        if waiter is not None:
            self.write_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def shutdown(self) -> None:
        """Uvicorn's server shutdown: 1012 to an open connection, 500 to a pending handshake."""
        self._stop_keepalive()
        if self.close_sent:
            if self.close_timer is not None:
                self.close_timer.cancel()
                self.close_timer = None
            self.transport.close()
            return
        if self.handshake_complete:
            self._put({"type": "websocket.disconnect", "code": 1012})
            self.transport.write(frame(_OP_CLOSE, _CODE.pack(1012)))
        else:
            self._send_500()
        self.transport.close()

    # Frames from the client

    def _message(self, msg: WSMessage | WSMessageTextBytes) -> None:
        # The data path is written out in one function: it runs for every message.
        kind = msg[0]
        if kind is _BINARY:
            if self.close_sent or self.peer_closed:
                return  # past the application's close (or the client's): dropped
            event = {"type": "websocket.receive", "bytes": msg[1]}
        elif kind is _TEXT:
            if self.close_sent or self.peer_closed:
                return  # dropped, and not judged either
            try:
                event = {"type": "websocket.receive", "text": msg[1].decode()}
            except UnicodeDecodeError as exc:
                reason = f"{exc.reason} at position {exc.start}"
                _logger.warning("Invalid UTF-8 sequence received from client: %s", reason)
                self._fail(1007, reason)
                return
        else:
            self._control(msg)
            return
        offer = self.offer
        if offer is not None and not self.events:
            waiter = self.waiter
            if waiter is not None and not waiter.done() and offer(event):
                return  # the application took it while waiting in receive(): no task switch
        self._put(event)
        if not self.read_paused:  # until the application takes it (receive)
            self.read_paused = True
            self.transport.pause_reading()

    def _control(self, msg: WSMessage | WSMessageTextBytes) -> None:
        if self.peer_closed:
            return
        kind = msg[0]
        if kind is _PING:
            if not self.close_sent:
                if self.write_waiter is None:
                    self.transport.write(frame(_OP_PONG, bytes(msg[1])))
                else:  # the client is not reading what it is sent: answer its latest ping later
                    self.pong_owed = bytes(msg[1])
        elif kind is _PONG:
            if self.pending_ping is not None and bytes(msg[1]) == self.pending_ping:
                self.pending_ping = None
                if self.pong_timer is not None:
                    self.pong_timer.cancel()
                    self.pong_timer = None
                    self._schedule_ping()
        elif kind is _CLOSE:
            self._closed_by_peer(msg[1], cast(str, msg[2]))  # a close frame's reason: always text

    def _put(self, event: Message) -> None:
        self.events.append(event)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _closed_by_peer(self, code: int, reason: str) -> None:
        if self.close_sent:  # the client answered the application's close
            self._end_after_close()
            return
        if code and code not in _WIRE_CLOSE_CODES and not 3000 <= code < 5000:  # 0: no code sent
            self._fail(1002, f"invalid close code {code}")
            return
        self.peer_closed = True
        if self.transport.is_closing():
            return
        self._put({"type": "websocket.disconnect", "code": code or 1005, "reason": reason})
        self.transport.write(frame(_OP_CLOSE, close_payload(code, reason) if code else b""))
        self.close_sent = True
        self.transport.close()

    def _end_after_close(self) -> None:
        """The client answered (or broke the protocol after) the close the gateway sent: the
        connection ends, no second close frame (RFC 6455, 5.5.1)."""
        self.peer_closed = True
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        self.transport.close()

    def _fail(self, code: int, reason: str) -> None:
        """Close the connection for a protocol error of the client's."""
        if self.close_sent:
            self._end_after_close()
            return
        self.peer_closed = True
        if self.transport.is_closing():
            return
        self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(frame(_OP_CLOSE, close_payload(code, reason)))
        self.close_sent = True
        self.transport.close()

    # Heartbeats (gateway/clientleg.py describes them)

    def _schedule_ping(self) -> None:
        assert self.ping_interval is not None  # heartbeats run only with an interval (_handshake_reply)
        self.ping_timer = self.loop.call_later(self.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        self.ping_timer = None
        if self.close_sent or self.transport.is_closing():
            return
        if self.read_paused:  # a message of this client waits for the relay: not idle
            self._schedule_ping()
            return
        quiet = self.loop.time() - self.last_heard
        assert self.ping_interval is not None
        if quiet < self.ping_interval:  # heard from since: wait until it has been quiet long enough
            self.ping_timer = self.loop.call_later(self.ping_interval - quiet, self._ping_due)
            return
        self.pending_ping = payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.transport.write(frame(_OP_PING, payload))
        self.pong_timer = self.loop.call_later(self.ping_timeout, self._pong_overdue)

    def _pong_overdue(self) -> None:
        self.pong_timer = None
        self.pending_ping = None
        if self.read_paused or self.last_heard > self.ping_sent_at:
            # It sent something since the ping (its pong may wait behind a message the
            # relay has not taken yet): alive. Ping again after the next quiet interval.
            self._schedule_ping()
            return
        if self.close_sent or self.transport.is_closing():
            return
        DEAD_PEERS.client += 1
        # The relay reads this before the connection_lost that follows, and closes the
        # backend with it.
        self._put({"type": "websocket.disconnect", "code": DEAD_CLIENT_CODE, "reason": DEAD_CLIENT_REASON})
        self.transport.write(frame(_OP_CLOSE, close_payload(1011, "keepalive ping timeout")))
        self.close_sent = self.peer_closed = True
        self.transport.close()

    def _stop_keepalive(self) -> None:
        if self.ping_timer is not None:
            self.ping_timer.cancel()
            self.ping_timer = None
        if self.pong_timer is not None:
            self.pong_timer.cancel()
            self.pong_timer = None
        self.pending_ping = None

    # ASGI

    async def run_asgi(self) -> None:
        try:
            result = await self.config.loaded_app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            _logger.exception("Exception in ASGI application\n")
            self._send_500()
        else:
            if not self.handshake_complete and self.initial_response is None:
                _logger.error("ASGI callable returned without completing handshake.")
                self._send_500()
            elif result is not None:
                _logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None:
            self.transport.close()

    def _send_500(self) -> None:
        if self.initial_response is not None or self.handshake_complete:
            return
        self.handshake_complete = self.close_sent = True
        self.transport.write(refusal(500, "Internal Server Error"))

    def _direct(self, offer: Callable[[Message], bool] | None) -> None:
        """The "tidegate.receive.direct" extension: while the application waits in ``receive()``
        with nothing queued, each data message is first offered to ``offer(event)`` from
        ``data_received``; False queues it as usual. ``None`` withdraws the offer."""
        self.offer = offer

    def _send_now(self, data: str | bytes) -> bool:
        """The "tidegate.send.direct" extension: write a data message (text for ``str``) now,
        as ``send({"type": "websocket.send", ...})`` would, without a coroutine; False when
        that call must be awaited instead (a client not reading, or the connection not open
        for data: it waits or raises as it always did)."""
        if (
            self.write_waiter is not None
            or self.disconnected
            or self.close_sent
            or self.peer_closed
            or not self.handshake_complete
            or self.initial_response is not None
        ):
            return False
        if type(data) is str:
            self._write_message(data.encode(), _OP_TEXT)
        else:
            self._write_message(data, _OP_BINARY)  # type: ignore[arg-type]
        return True

    def _write_message(self, data: bytes, opcode: int) -> None:
        n = len(data)
        if n < _CONCAT_BELOW:
            self.transport.write((_H1(0x80 | opcode, n) if n < 126 else _H2(0x80 | opcode, 126, n)) + data)
        else:
            head = _H2(0x80 | opcode, 126, n) if n < 65536 else _H3(0x80 | opcode, 127, n)
            self.transport.writelines((head, data))

    async def receive(self) -> Message:
        events = self.events
        while not events:
            waiter = self.waiter
            if waiter is None or waiter.done():
                waiter = self.waiter = self.loop.create_future()
            await waiter
        event = events.popleft()
        if self.read_paused and not events:
            self.read_paused = False
            self.transport.resume_reading()
        return event

    async def send(self, message: Message) -> None:
        if self.write_waiter is not None:
            await self.write_waiter
        if self.disconnected:
            raise ClientDisconnected()
        kind = message["type"]
        if self.handshake_complete and self.initial_response is None:
            if self.close_sent:
                if self.peer_closed:
                    raise ClientDisconnected()
                raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")
            if self.peer_closed:
                raise ClientDisconnected()
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is not None:
                    opcode = _OP_BINARY
                else:
                    text = message.get("text")
                    if text is None:
                        return
                    data, opcode = text.encode(), _OP_TEXT
                self._write_message(data, opcode)
            elif kind == "websocket.close":
                if not self.transport.is_closing():
                    code = message.get("code", 1000)
                    reason = message.get("reason", "") or ""
                    self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
                    self.transport.write(frame(_OP_CLOSE, close_payload(code, reason)))
                    self.close_sent = True
                    if self.read_paused:
                        self.read_paused = False
                        self.transport.resume_reading()
                    self.close_timer = self.loop.call_later(CLOSE_TIMEOUT, self.transport.close)
            else:
                raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'.")
        elif self.initial_response is None:
            self._handshake_reply(message, kind)
        elif kind == "websocket.http.response.body":
            self._denial_body(message)
        else:
            raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")

    def _handshake_reply(self, message: Message, kind: str) -> None:
        if kind == "websocket.accept":
            out = [
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + self.accept_key + b"\r\n"
            ]
            for name, value in self.server_state.default_headers:
                out.append(name + b": " + value + b"\r\n")
            for name, value in message.get("headers") or ():
                out.append(bytes(name) + b": " + bytes(value) + b"\r\n")
            subprotocol = message.get("subprotocol")
            if subprotocol:
                out.append(b"Sec-WebSocket-Protocol: " + subprotocol.encode() + b"\r\n")
            out.append(b"\r\n")
            if not self.transport.is_closing():
                self.handshake_complete = True
                self.transport.write(b"".join(out))
                if self.ping_interval:
                    self._schedule_ping()
                if self.early:
                    self.loop.call_soon(self._read_early)
        elif kind == "websocket.close":
            self._put({"type": "websocket.disconnect", "code": 1006})
            self.handshake_complete = self.close_sent = True
            self.transport.write(refusal(403, ""))
            self.transport.close()
        elif kind == "websocket.http.response.start":
            status = message["status"]
            if not 100 <= status < 600:
                raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
            self.initial_response = [status, list(message.get("headers") or ()), b""]
        else:
            raise RuntimeError(
                "Expected ASGI message 'websocket.accept', 'websocket.close' "
                f"or 'websocket.http.response.start' but got '{kind}'."
            )

    def _denial_body(self, message: Message) -> None:
        response = self.initial_response
        assert response is not None
        if self.close_sent:
            return
        response[2] += message.get("body", b"")
        if message.get("more_body", False):
            return
        status, headers, body = response
        names = {bytes(n).lower() for n, _ in headers}
        out = [f"HTTP/1.1 {status} {_phrase(status)}\r\n".encode()]
        out += [bytes(n) + b": " + bytes(v) + b"\r\n" for n, v in headers]
        if b"date" not in names:
            out.append(b"Date: " + email.utils.formatdate(usegmt=True).encode() + b"\r\n")
        if b"connection" not in names:
            out.append(b"Connection: close\r\n")
        if b"content-length" not in names:
            out.append(b"Content-Length: %d\r\n" % len(body))
        if b"content-type" not in names:
            out.append(b"Content-Type: text/plain; charset=utf-8\r\n")
        out += [b"\r\n", body]
        self._put({"type": "websocket.disconnect", "code": 1006})
        self.handshake_complete = self.close_sent = True
        self.transport.write(b"".join(out))
        self.transport.close()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

"""The backend leg of a relayed WebSocket: one client connection to the API's endpoint.

It is aiohttp's compiled frame reader over a plain asyncio protocol, with the opening
handshake (RFC 6455 section 4.1) and the framing of data messages (``masked_frame``) written
here and aiohttp's writer for control frames (the key and its expected
answer come from websockets, which Uvicorn's WebSocket side already uses). aiohttp's own
``ClientSession.ws_connect`` did the same job before; measured in the benchmark's layout it
spent about a third more CPU opening a connection (request, connector and response objects
a relay never looks at) and held about 13 KiB per idle connection, against 5 KiB here
(docs/benchmarks.md). What a relay needs is small: send text or binary, receive text or
binary, answer pings, and close with a code in either direction.

aiohttp is pinned in requirements.txt; the parts used here (``WebSocketReader``, the
queues built on its ``WebSocketDataQueue``, ``WebSocketWriter``, ``websocket_mask``) are the
ones aiohttp builds its own client and server from, imported only through ``gateway/aiohttp_frames.py``, which
says why they were kept over a public API and holds the version they were tested with.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import struct
from collections.abc import Callable, Coroutine
from random import getrandbits
from typing import Any
from urllib.parse import urlsplit

from websockets.utils import accept_key, generate_key

from gateway.aiohttp_frames import (
    ClientConnectionResetError,
    EofStream,
    OfferingQueue,
    WebSocketError,
    WebSocketReader,
    WebSocketWriter,
    WSMessage,
    WSMsgType,
    websocket_mask,
)
from gateway.looptypes import Timer, Transport

# Messages queued from the backend before its socket stops being read (backpressure
# towards the backend while the client is slow; aiohttp's queue pauses at twice this,
# 512 KiB), and bytes written before a send waits for the socket to drain.
QUEUE_LIMIT = 2**18
WRITE_LIMIT = 2**18
MAX_RESPONSE_HEAD = 16 * 1024
CLOSE_WAIT = 5.0
NO_STATUS = 1005  # a close frame without a code (RFC 6455 section 7.1.5)

CLOSED = WSMessage(WSMsgType.CLOSED, None, None)

_KEY = struct.Struct("!I").pack
_HEAD1 = struct.Struct("!BB").pack
_HEAD2 = struct.Struct("!BBH").pack
_HEAD3 = struct.Struct("!BBQ").pack


def masked_frame(data: bytes, opcode: int) -> bytes:
    """One final client frame of ``data`` (RFC 6455 5.2), masked with a fresh key (5.3; a
    pseudo-random one, as aiohttp's writer does: the mask keeps intermediaries from reading
    frames as HTTP, it is not a secret)."""
    n = len(data)
    key = _KEY(getrandbits(32))
    payload = bytearray(data)
    websocket_mask(key, payload)
    if n < 126:
        head = _HEAD1(0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = _HEAD2(0x80 | opcode, 0x80 | 126, n)
    else:
        head = _HEAD3(0x80 | opcode, 0x80 | 127, n)
    return head + key + payload


@functools.cache
def default_tls() -> ssl.SSLContext:
    """Backends over wss are verified against the system's CAs (``SSL_CERT_FILE`` adds one)."""
    return ssl.create_default_context()


class HandshakeError(Exception):
    """The backend did not accept the WebSocket upgrade (the reason says how)."""


def _request(target: str, host: str, key: str, protocols, headers: dict[str, str]) -> bytes:
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(protocols)}")
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"header {name!r} cannot be forwarded")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    status = rest[:3]
    if not version.startswith("HTTP/1.") or not (status.isascii() and status.isdigit()):
        raise HandshakeError(f"not an HTTP response: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HandshakeError(f"malformed response header: {line[:80]!r}")
        name = name.lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(status), headers


class Deadline:
    """What ``asyncio.timeout`` does for the handshake's connect and the closing handshake,
    without its context manager: a timer that cancels the current task. After a
    ``CancelledError``, ``expired()`` tells whether it was this timer's (and nothing else
    cancelled the task meanwhile): then the caller raises ``TimeoutError`` instead. Always
    ``cancel()`` it when the bounded part is over."""

    __slots__ = ("_task", "_cancelling", "_fired", "_timer")

    def __init__(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None, "a Deadline bounds a task"
        self._task = task
        self._cancelling = task.cancelling()
        self._fired = False
        self._timer: Timer = asyncio.get_running_loop().call_later(seconds, self._fire)

    def _fire(self) -> None:
        self._fired = True
        self._task.cancel()

    def expired(self) -> bool:
        return self._fired and self._task.uncancel() <= self._cancelling

    def cancel(self) -> None:
        self._timer.cancel()


class BackendLeg:
    """One WebSocket connection to a backend, after ``connect`` opened it.

    ``receive()`` gives text and binary messages as aiohttp's ``WSMessage``; pings are
    answered, pongs dropped. A close from the backend is answered and given as a CLOSE
    message (code in ``data``, reason in ``extra``); a connection that ends without one
    gives CLOSED, a protocol error (a message over the size limit, invalid UTF-8) gives
    ERROR after telling the backend with the matching close code.
    """

    __slots__ = (
        "_loop",
        "transport",
        "_paused",
        "_reading_paused",
        "_drain_waiter",
        "_key",
        "_request",
        "_offered",
        "_max_msg_size",
        "_head",
        "_opened",
        "_queue",
        "_reader",
        "_writer",
        "_close_sent",
        "_receiving",
        "_done",
        "protocol",
        "close_code",
    )

    _queue: OfferingQueue
    _writer: WebSocketWriter

    def __init__(self, loop: asyncio.AbstractEventLoop, key: str, request: bytes, offered, max_msg_size: int):
        self._loop = loop
        self.transport: Transport | None = None
        # Flow control (below): writing paused by the transport, reading paused by the queue.
        self._paused = False
        self._reading_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._key = key
        self._request = request
        self._offered = offered
        self._max_msg_size = max_msg_size
        self._head = b""
        self._opened: asyncio.Future[None] = loop.create_future()
        # ``_queue`` and ``_writer`` are set by ``_upgrade``, before anything may read or send.
        self._reader: WebSocketReader | None = None
        self._close_sent = False
        self._receiving = False
        self._done: asyncio.Future[None] | None = None
        self.protocol: str | None = None
        self.close_code: int | None = None

    # -- asyncio protocol --------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self._request)
        self._request = b""

    def data_received(self, data: bytes) -> None:
        if self._reader is not None:
            self._reader.feed_data(data)  # errors land in the queue, raised by read()
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_RESPONSE_HEAD:
                self._fail(HandshakeError("response headers too large"))
            return
        head, rest = self._head[:end], self._head[end + 4 :]
        self._head = b""
        try:
            reader = self._upgrade(*_parse_head(head))
        except HandshakeError as exc:
            self._fail(exc)
            return
        if rest:
            reader.feed_data(rest)  # frames sent right behind the 101

    def eof_received(self) -> None:
        """The backend ended its stream (over TLS, always before ``connection_lost``): let the
        transport close; ``connection_lost`` follows."""
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():  # a send waiting to drain: it never will
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(ConnectionResetError(f"the backend connection was lost: {exc}"))
        if not self._opened.done():
            self._opened.set_exception(ConnectionError("the backend closed the connection during the handshake"))
        if self._reader is not None:
            self._reader.feed_eof()
        self._finish()

    def _upgrade(self, status: int, headers: dict[str, str]) -> WebSocketReader:
        if status != 101:
            raise HandshakeError(f"the backend answered {status} instead of 101")
        if headers.get("upgrade", "").lower() != "websocket":
            raise HandshakeError("the backend's response has no 'Upgrade: websocket'")
        if "upgrade" not in [token.strip().lower() for token in headers.get("connection", "").split(",")]:
            raise HandshakeError("the backend's response has no 'Connection: upgrade'")
        if headers.get("sec-websocket-accept") != accept_key(self._key):
            raise HandshakeError("the backend's Sec-WebSocket-Accept does not match the key")
        if headers.get("sec-websocket-extensions"):
            raise HandshakeError("the backend chose an extension that was not offered")
        chosen = headers.get("sec-websocket-protocol")
        if chosen is not None and chosen not in self._offered:
            raise HandshakeError(f"the backend chose subprotocol {chosen!r}, which was not offered")
        self.protocol = chosen
        self._queue = OfferingQueue(self, QUEUE_LIMIT, loop=self._loop)
        # aiohttp refuses a message of exactly its limit; the gateway's limit is the largest allowed.
        reader = self._reader = WebSocketReader(self._queue, self._max_msg_size + 1, compress=False, decode_text=True)
        assert self.transport is not None  # connection_made came first
        # aiohttp's writer takes its BaseProtocol and asyncio's Transport: of the protocol it
        # uses the flow control below, of the transport what uvloop's has.
        self._writer = WebSocketWriter(self, self.transport, use_mask=True, limit=WRITE_LIMIT)  # type: ignore[arg-type]
        self._done = self._loop.create_future()
        if not self._opened.done():  # not cancelled by a connect timeout meanwhile
            self._opened.set_result(None)
        return reader

    def _fail(self, exc: Exception) -> None:
        if not self._opened.done():
            self._opened.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def _finish(self) -> None:
        """The connection is over: release the socket and wake a waiting ``close``."""
        if self.transport is not None:
            self.transport.close()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    # -- flow control, as aiohttp's writer and queue use it ------------------------------
    # The writer reads ``_paused`` and awaits ``_drain_helper()`` once it has written past
    # its limit; the queue calls ``pause_reading``/``resume_reading`` around its own
    # limit and reads ``_reading_paused`` (aiohttp's BaseProtocol has the same names; this
    # class cannot subclass it and be compiled, gateway/native.py).

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_reading(self) -> None:
        self._reading_paused = True
        if self.transport is not None:
            try:
                self.transport.pause_reading()
            except RuntimeError:  # a transport already closing: nothing more to read anyway
                pass

    def resume_reading(self) -> None:
        self._reading_paused = False
        if self.transport is not None:
            try:
                self.transport.resume_reading()
            except RuntimeError:
                pass

    async def _drain_helper(self) -> None:
        if self.transport is None:
            raise ClientConnectionResetError("Connection lost")
        if not self._paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await waiter

    # -- what the relay uses -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._done is None or self._done.done()

    def attach(self, sink: Callable[[WSMessage], bool], wake: Callable[[], None]) -> None:
        """Offer every message from now on to ``sink`` before queueing it for ``receive()``:
        ``sink`` answers True when it took the message. ``wake`` is called whenever one was
        queued instead or the connection ended (also now, when messages already wait)."""
        queue = self._queue
        queue.sink, queue.wake = sink, wake
        if self.pending:
            wake()

    def detach(self) -> None:
        """Queue every message again (the relay is done with this leg)."""
        if self._reader is not None:
            self._queue.sink = self._queue.wake = None

    @property
    def pending(self) -> bool:
        """Whether ``receive()`` has something to give without waiting for the backend."""
        queue = self._queue
        return bool(queue._buffer) or queue.is_eof()

    @property
    def receiving(self) -> bool:
        """Whether a task is in ``receive()`` (or ``close`` reads the backend's answer)."""
        return self._receiving

    def send_now(self, data: bytes, opcode: WSMsgType) -> Coroutine[Any, Any, None] | None:
        """Write one data frame (``opcode`` TEXT with ``data`` encoded, or BINARY) now,
        without a coroutine for the common case: None when it is written; what the caller
        must await when the socket must drain first. ClientConnectionResetError (a
        ConnectionError) when the connection is closing (the gateway's close frame sent, or
        the transport going), as the writer's ``send_frame`` raises it."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ClientConnectionResetError("Cannot write to closing transport")
        if self._close_sent:  # RFC 6455 5.5.1: no data frame after this side's close frame
            raise ClientConnectionResetError("Cannot send after the close frame")
        transport.write(masked_frame(data, opcode))
        if self._paused:  # the transport's buffer is full: wait for it before the next
            return self._drain_helper()
        return None

    # For callers that await each send (the relay uses ``send_now``): plain functions
    # returning the writer's coroutine, not a coroutine of their own around it.
    def send_str(self, data: str) -> Coroutine[Any, Any, None]:
        return self._send_data(data.encode(), WSMsgType.TEXT)

    def send_bytes(self, data: bytes) -> Coroutine[Any, Any, None]:
        return self._send_data(data, WSMsgType.BINARY)

    def _send_data(self, data: bytes, opcode: WSMsgType) -> Coroutine[Any, Any, None]:
        if self._close_sent:
            raise ClientConnectionResetError("Cannot send after the close frame")
        return self._writer.send_frame(data, opcode)

    async def receive(self) -> WSMessage:
        self._receiving = True  # for the whole call: ``close`` then leaves the reading to it
        try:
            return await self._receive()
        finally:
            self._receiving = False

    async def _receive(self) -> WSMessage:
        while True:
            try:
                msg: WSMessage = await self._queue.read()  # type: ignore[assignment] # decode_text: str
            except EofStream:
                self._finish()
                return CLOSED
            except WebSocketError as exc:  # the backend broke the protocol: say why, then go
                self.close_code = exc.code
                await self._send_close(exc.code, b"")
                self._finish()
                return WSMessage(WSMsgType.ERROR, exc, None)
            kind = msg.type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                return msg
            if kind is WSMsgType.PING:
                await self._send_frame(msg.data, WSMsgType.PONG)
            elif kind is WSMsgType.CLOSE:
                code = msg.data or NO_STATUS
                self.close_code = code
                if not self._close_sent:  # the backend closes: answer with its code
                    await self._send_close(1000 if code == NO_STATUS else code, b"")
                self._finish()
                return WSMessage(WSMsgType.CLOSE, code, msg.extra)
            # PONG: nothing to do

    async def close(self, *, code: int = 1000, message: bytes = b"") -> None:
        """Start the closing handshake and wait (up to five seconds) for the backend's answer.
        The answer is read by a task already in ``receive()``, or here when there is none
        (data messages that come meanwhile still go to an attached sink)."""
        done = self._done
        if done is None or done.done():  # never opened, or over
            return
        await self._send_close(code, message)
        deadline = Deadline(CLOSE_WAIT)
        try:
            try:
                if self._receiving:
                    await asyncio.shield(done)
                else:
                    self._receiving = True  # a woken relay leaves the reading to this call
                    try:
                        while not self.closed:
                            await self._receive()
                    finally:
                        self._receiving = False
            except asyncio.CancelledError:
                if deadline.expired():
                    raise TimeoutError from None
                raise
            finally:
                deadline.cancel()
        except TimeoutError:  # no answer: drop the connection
            if self.transport is not None:
                self.transport.abort()
        self._finish()

    async def _send_close(self, code: int, message: bytes) -> None:
        if self._close_sent:
            return
        self._close_sent = True
        reason = message[:123].decode("utf-8", "ignore").encode()  # fits a control frame, whole characters
        await self._send_frame(code.to_bytes(2, "big") + reason, WSMsgType.CLOSE)

    async def _send_frame(self, payload: bytes, opcode: WSMsgType) -> None:
        try:
            await self._writer.send_frame(payload, opcode)
        except ConnectionError:  # the backend is already gone; closing goes on regardless
            pass


@functools.lru_cache(maxsize=256)
def _address(url: str) -> tuple[bool, str, int, str, str]:
    """Whether ``url`` is wss, the host to connect to, its port, the request target and
    the Host header: parsed once per backend URL, not per connection."""
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a WebSocket URL: {url!r}")
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return secure, parts.hostname, port, target, parts.netloc.rpartition("@")[2]


async def connect(
    url: str,
    *,
    protocols=(),
    headers: dict[str, str],
    max_msg_size: int,
    ssl_context: ssl.SSLContext | None,
) -> BackendLeg:
    """Open a WebSocket to ``url`` (ws or wss). Raises HandshakeError, OSError (refused,
    unreachable, TLS) or ValueError (a URL or header that cannot be sent); the caller bounds
    the time it may take."""
    secure, hostname, port, target, host = _address(url)
    key = generate_key()
    request = _request(target, host, key, protocols, headers)
    loop = asyncio.get_running_loop()
    if secure and ssl_context is None:
        ssl_context = default_tls()
    leg = BackendLeg(loop, key, request, tuple(protocols), max_msg_size)
    try:
        await loop.create_connection(  # type: ignore[type-var]  # an asyncio protocol by its methods
            lambda: leg,
            hostname,
            port,
            ssl=ssl_context if secure else None,
            server_hostname=hostname if secure else None,
        )
        await leg._opened
    except BaseException:
        if leg.transport is not None:
            leg.transport.abort()
        raise
    return leg

"""The one place the gateway reaches into aiohttp's internals: its compiled WebSocket frame
reader and its frame writer, which ``gateway/upstream.py`` runs over a plain asyncio protocol.

Why not a public API: the websockets library's sans-I/O ``Protocol`` (public, documented, the
parser Uvicorn uses on the client's side) was put in its place and measured with the same
benchmark in the same run (docs/benchmarks.md, "The backend leg's frame reader"): it cost the
gateway 24-31 % more CPU per 16 KiB message and 10-33 % more per pipelined one, far over the
5 % the restructure allowed. aiohttp's ``ClientSession.ws_connect``
is public too, but costs a third more CPU per handshake and more than twice the memory per
idle connection (gateway/upstream.py).

``WebSocketDataQueue`` lives in the private ``aiohttp._websocket.reader``, ``websocket_mask``
(the compiled XOR of a payload with its mask key) in ``aiohttp._websocket.helpers``;
``WebSocketReader``, ``WebSocketWriter`` and ``EofStream`` are importable from public modules
but undocumented (the backend leg, gateway/upstream.py, has the flow control aiohttp's
``BaseProtocol`` gives the writer and queue). All of them are read here only, against the
aiohttp this module was tested with (``TESTED_WITH``, the pin in requirements.txt). ``tests/test_upstream.py`` fails when the pin
moves without this constant: upgrade aiohttp, run that file and the gateway tests, then bump it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import WSMessage, WSMsgType
from aiohttp._websocket.helpers import websocket_mask
from aiohttp._websocket.reader import WebSocketDataQueue
from aiohttp.client_exceptions import ClientConnectionResetError
from aiohttp.http_websocket import WebSocketError, WebSocketReader, WebSocketWriter, WSMessageTextBytes
from aiohttp.streams import EofStream

TESTED_WITH = "3.14.5"


class MessageSink(WebSocketDataQueue):
    """A reader's destination that keeps nothing: each message goes straight to the
    protocol's ``_message`` (the compiled reader calls this override, so it never stalls).
    Here, not in gateway/wsprotocol.py: a subclass of aiohttp's compiled queue cannot itself
    be compiled (gateway/native.py)."""

    # aiohttp types the queue's protocol as its own BaseProtocol; here it is the
    # GatewayWebSocket this sink feeds (None once the connection is lost), read only below.
    _protocol: Any

    def __init__(self, protocol: Any, limit: int, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(protocol, limit, loop=loop)

    def feed_data(self, data: WSMessage | WSMessageTextBytes, size: int) -> None:
        self._protocol._message(data)


class OfferingQueue(WebSocketDataQueue):
    """aiohttp's message queue, which first offers each message to ``sink`` (set by
    ``BackendLeg.attach``): one the sink takes is never queued, so a relay that hands it on
    at once needs no task waiting in ``receive()``. A message the sink leaves (or any,
    while messages wait) is queued as before, and ``wake`` is called; so is it when the
    connection ends. Queued messages keep aiohttp's backpressure: past its limit the
    backend's socket is no longer read."""

    __slots__ = ("sink", "wake")

    def __init__(self, protocol: Any, limit: int, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(protocol, limit, loop=loop)
        self.sink: Callable[[WSMessage], bool] | None = None
        self.wake: Callable[[], None] | None = None

    # aiohttp types the queue for both reader modes (WSMessageTextBytes: text left as bytes);
    # this leg's reader decodes text (decode_text=True), so only a WSMessage arrives here.
    def feed_data(self, data: WSMessage, size: int) -> None:  # type: ignore[override]
        sink = self.sink
        if sink is not None and not self._buffer and sink(data):
            return
        WebSocketDataQueue.feed_data(self, data, size)
        if self.wake is not None:
            self.wake()

    def feed_eof(self) -> None:
        super().feed_eof()
        if self.wake is not None:
            self.wake()

    def set_exception(self, *args: Any) -> None:
        super().set_exception(*args)
        if self.wake is not None:
            self.wake()


__all__ = [
    "TESTED_WITH",
    "ClientConnectionResetError",
    "EofStream",
    "MessageSink",
    "OfferingQueue",
    "WSMessage",
    "WSMessageTextBytes",
    "WSMsgType",
    "WebSocketDataQueue",
    "WebSocketError",
    "WebSocketReader",
    "WebSocketWriter",
    "websocket_mask",
]

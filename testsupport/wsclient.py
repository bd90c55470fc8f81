"""WebSocket exchanges for synchronous tests, safe over wss.

websockets' threading client (``websockets.sync``) reads in a thread of its own from the
moment the connection opens, while the caller's thread sends. Over TLS both threads then
use one OpenSSL connection at the same time, which CPython does not serialise and OpenSSL
does not allow: the TLS 1.3 session tickets a server sends right after the handshake are
being read while the handshake request is written, and now and then the request never
leaves the client (it waits for an answer; the gateway answers 408 after
``TIDEGATE_HEAD_TIMEOUT``, 10 s) or the TLS state breaks (``SSLError: LENGTH_MISMATCH``).
The exchanges here run websockets' asyncio client instead, where the event loop's one
thread does all the TLS work."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Callable

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def echo(
    url: str,
    message: str | bytes,
    *,
    headers: dict | None = None,
    ssl: ssl_module.SSLContext | None = None,
    timeout: float = 30,
) -> str | bytes:
    """Open ``url``, send ``message`` and return the first message that comes back;
    ``timeout`` bounds the opening handshake and the wait for the answer each."""
    return exchange(url, [message], headers=headers, ssl=ssl, timeout=timeout)[0]


def exchange(
    url: str,
    messages: list[str | bytes],
    *,
    headers: dict | None = None,
    ssl: ssl_module.SSLContext | None = None,
    timeout: float = 30,
    compression: str | None = "deflate",
) -> list[str | bytes]:
    """Open ``url`` and, for each of ``messages`` in turn, send it and take the next message
    that comes back; returns those. ``timeout`` bounds the handshake and each wait."""

    async def run() -> list[str | bytes]:
        async with connect(
            url, additional_headers=headers, ssl=ssl, proxy=None, open_timeout=timeout, compression=compression
        ) as ws:
            answers = []
            for message in messages:
                await ws.send(message)
                answers.append(await asyncio.wait_for(ws.recv(), timeout))
            return answers

    return asyncio.run(run())


def close_code_after(
    url: str,
    action: Callable[[], object],
    *,
    headers: dict | None = None,
    ssl: ssl_module.SSLContext | None = None,
    timeout: float = 10,
) -> int | None:
    """Open ``url``, run ``action`` (blocking code, in a worker thread) while the connection
    is open, and return the close code the server then closes it with (None: no close frame)
    within ``timeout`` seconds."""

    async def exchange() -> int | None:
        async with connect(url, additional_headers=headers, ssl=ssl, proxy=None, open_timeout=timeout) as ws:
            await asyncio.to_thread(action)
            try:
                message = await asyncio.wait_for(ws.recv(), timeout)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            raise AssertionError(f"a message instead of the close: {message!r}")

    return asyncio.run(exchange())

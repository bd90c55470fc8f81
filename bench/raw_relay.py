"""The floor the gateway is built on: a bare ASGI WebSocket relay with no gateway logic.

The configuration the performance baseline measured fastest for Python (Uvicorn with
websockets-sansio, uvloop and httptools; aiohttp to the backend, one ``ClientSession`` with
``TCPConnector(limit=0, force_close=True)``). No routing, token, subscription, limits,
analytics or logging. ``make bench`` runs it beside the gateway so every report shows what
the gateway's own work costs against the architecture itself, in the same run.

    RAW_RELAY_BACKEND=ws://127.0.0.1:9000 python -m uvicorn bench.raw_relay:app --ws websockets-sansio
"""

from __future__ import annotations

import asyncio
import os

import aiohttp

BACKEND = os.environ.get("RAW_RELAY_BACKEND", "")
_session: aiohttp.ClientSession | None = None


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "websocket":
        await _relay(scope, receive, send)


async def _lifespan(receive, send):
    global _session
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _session.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _relay(scope, receive, send):
    await receive()  # websocket.connect
    backend = await _session.ws_connect(BACKEND + scope["path"], max_msg_size=0)
    await send({"type": "websocket.accept"})

    async def client_to_backend():
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                await backend.close()
                return
            if message.get("text") is not None:
                await backend.send_str(message["text"])
            else:
                await backend.send_bytes(message["bytes"])

    async def backend_to_client():
        async for message in backend:
            if message.type == aiohttp.WSMsgType.TEXT:
                await send({"type": "websocket.send", "text": message.data})
            elif message.type == aiohttp.WSMsgType.BINARY:
                await send({"type": "websocket.send", "bytes": message.data})
        await send({"type": "websocket.close"})

    tasks = [asyncio.ensure_future(client_to_backend()), asyncio.ensure_future(backend_to_client())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        task.exception()  # a client gone mid-send is the end of the relay, not an error to report

"""The ASGI shapes the gateway's apps take (the spec's dicts, as ``asgiref.typing`` words them loosely),
and the one reading of a scope's headers they share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# The send of the servers the gateway runs under (Uvicorn's protocols, gateway/wsprotocol.py,
# Daphne): an ``async def``, whose coroutine the relay may drive by hand (``send(None)``).
CoroutineSend = Callable[[Message], Coroutine[Any, Any, None]]


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as text, names lower-case (ASGI gives bytes, latin-1 as HTTP/1.1
    carries them); a header sent twice keeps its last value."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

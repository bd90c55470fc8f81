""" "Test connection" for a backend endpoint: try a WebSocket handshake and say what happened.

Creators point APIs at their own backends, which are usually on private networks, so this
check may reach private addresses; it is open to creators and publishers only, performs
the opening handshake and nothing more, and is bounded in time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from publisher.services import validate_endpoint

TIMEOUT = 5.0


@dataclass(frozen=True)
class EndpointCheck:
    url: str
    ok: bool
    status_code: int  # 101 when the handshake succeeded, else the HTTP status or 0
    status_message: str
    error: str
    millis: int

    def as_dict(self) -> dict:
        return {
            "url": self.url,
            "statusCode": self.status_code,
            "statusMessage": self.status_message,
            "error": self.error or None,
            "isValid": self.ok,
            "timeMs": self.millis,
        }


async def _handshake(url: str) -> tuple[int, str, str]:
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.ws_connect(url, autoping=False) as ws:
                await ws.close()
                return 101, "Switching Protocols", ""
        except aiohttp.WSServerHandshakeError as exc:
            return (
                exc.status,
                exc.message or "",
                f"the server answered HTTP {exc.status} instead of a WebSocket upgrade",
            )
        except aiohttp.ClientConnectorError as exc:
            return 0, "", f"cannot connect: {exc.os_error.strerror if exc.os_error else exc}"
        except TimeoutError:
            return 0, "", f"no answer within {TIMEOUT:.0f} s"
        except aiohttp.ClientError as exc:
            return 0, "", f"{type(exc).__name__}: {exc}"


def check_endpoint(url: str) -> EndpointCheck:
    problems = validate_endpoint(url, "endpointUrl")
    if problems:
        return EndpointCheck(url, False, 0, "", problems[0]["message"], 0)
    started = time.monotonic()
    code, message, error = asyncio.run(_handshake(url))
    return EndpointCheck(url, code == 101, code, message, error, round((time.monotonic() - started) * 1000))

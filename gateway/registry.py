"""Open connections, so that they can be re-judged when the world changes.

Each relayed connection registers a ``LiveConnection`` with what it was admitted on (its
path, query, verified token, API and application). When a new snapshot arrives the gateway
re-judges every connection and closes the ones no longer allowed with the brief's codes;
a sweeper closes connections whose token expired (4001).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.decisions import State, rejudge
from gateway.tokens import VerifiedToken

log = logging.getLogger("tidegate.gateway")
# Connection ids: unique across gateway processes (a random prefix per process) without
# reading the system's random source for every handshake.
_ID_PREFIX = uuid.uuid4().hex[:16]
_ids = itertools.count(1)


@dataclass(eq=False, slots=True)
class LiveConnection:
    path: str
    query: str
    token: VerifiedToken | None
    api_id: str
    app_id: str | None
    close: Callable[[int, str], Awaitable[None]]
    app_in_snapshot: bool = True  # False for applications named only by a self-contained token
    app_name: str = ""
    topic: str = ""
    id: str = field(default_factory=lambda: f"{_ID_PREFIX}{next(_ids):x}")
    opened: float = field(default_factory=time.monotonic)
    opened_at: float = field(default_factory=time.time)
    last_activity: float = field(default_factory=time.monotonic)  # any frame, either direction
    closing: bool = False
    close_code: int | None = None
    # Counted per frame by the relay (in: client to backend, out: backend to client) ...
    frames_in: int = 0
    bytes_in: int = 0
    throttled_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    throttled_out: int = 0
    # ... and what of it analytics has already taken.
    reported: list[int] = field(default_factory=lambda: [0] * 6)

    @property
    def expires(self) -> float | None:
        exp = self.token.claims.get("exp") if self.token else None
        return float(exp) if isinstance(exp, (int, float)) else None

    def pending(self, direction: str) -> tuple[int, int, int]:
        """Frames, bytes and throttled frames counted since analytics last took them."""
        base = 0 if direction == "in" else 3
        now = (
            (self.frames_in, self.bytes_in, self.throttled_in)
            if direction == "in"
            else (self.frames_out, self.bytes_out, self.throttled_out)
        )
        return tuple(v - self.reported[base + i] for i, v in enumerate(now))

    def counted(self, direction: str) -> tuple[int, int, int]:
        """``pending``, and mark it taken."""
        delta = self.pending(direction)
        base = 0 if direction == "in" else 3
        for i, v in enumerate(delta):
            self.reported[base + i] += v
        return delta

    def describe(self) -> dict:
        return {
            "id": self.id,
            "apiId": self.api_id,
            "applicationId": self.app_id or "",
            "applicationName": self.app_name,
            "topic": self.topic,
            "since": self.opened_at,
            "framesIn": self.frames_in,
            "framesOut": self.frames_out,
        }


class Registry:
    def __init__(self) -> None:
        self._connections: set[LiveConnection] = set()
        self._per_app: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._connections)

    def add(self, conn: LiveConnection) -> None:
        self._connections.add(conn)
        if conn.app_id:
            self._per_app[conn.app_id] = self._per_app.get(conn.app_id, 0) + 1

    def discard(self, conn: LiveConnection) -> None:
        if conn in self._connections:
            self._connections.remove(conn)
            if conn.app_id:
                left = self._per_app[conn.app_id] - 1
                if left:
                    self._per_app[conn.app_id] = left
                else:
                    del self._per_app[conn.app_id]

    def count_for_application(self, app_id: str) -> int:
        return self._per_app.get(app_id, 0)

    def verdicts(self, state: State, now: float | None = None) -> list[tuple[LiveConnection, int, str]]:
        """Every open connection the new state no longer allows, with its close code."""
        out = []
        for conn in list(self._connections):
            if conn.closing:
                continue
            if conn.id in state.disconnect:
                out.append((conn, 1008, "Disconnected by the API publisher"))
                continue
            app_id = conn.app_id if conn.app_in_snapshot else None
            verdict = rejudge(state, conn.path, conn.query, conn.token, conn.api_id, app_id, now)
            if verdict is not None:
                out.append((conn, *verdict))
        return out

    def expired(
        self, now: float, *, idle_timeout: float = 0, max_lifetime: float = 0, clock: float | None = None
    ) -> list[tuple[LiveConnection, int, str]]:
        """Connections whose token expired (4001), that sat idle too long or lived too long
        (1001). ``now`` is wall time (token ``exp``), ``clock`` monotonic time."""
        clock = time.monotonic() if clock is None else clock
        out = []
        for conn in list(self._connections):
            if conn.closing:
                continue
            if conn.expires is not None and conn.expires <= now:
                out.append((conn, 4001, "Access token expired"))
            elif idle_timeout and clock - conn.last_activity >= idle_timeout:
                out.append((conn, 1001, "Idle timeout"))
            elif max_lifetime and clock - conn.opened >= max_lifetime:
                out.append((conn, 1001, "Maximum connection lifetime reached"))
        return out

    async def close_all(self, items: list[tuple[LiveConnection, int, str]]) -> None:
        for conn, _, _ in items:
            conn.closing = True
        results = await asyncio.gather(
            *(conn.close(code, reason) for conn, code, reason in items), return_exceptions=True
        )
        for (conn, code, reason), result in zip(items, results, strict=True):
            if isinstance(result, Exception):
                log.debug("closing a connection failed: %r", result)
            log.info("closed connection on %s with %s (%s)", conn.path, code, reason)

    def all(self) -> list[LiveConnection]:
        return list(self._connections)

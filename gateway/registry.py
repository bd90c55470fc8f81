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
from gateway.deny import Address
from gateway.payloads import TopicPayloads
from gateway.refusals import Close
from gateway.tokens import VerifiedToken, expires_at

log = logging.getLogger("tidegate.gateway")
# Connection ids: unique across gateway processes (a random prefix per process) without
# reading the system's random source for every handshake.
_ID_PREFIX = uuid.uuid4().hex[:16]
_ids = itertools.count(1)

DISCONNECTED = Close(1008, "Disconnected by the API publisher")
TOKEN_EXPIRED = Close(4001, "Access token expired")
IDLE = Close(1001, "Idle timeout")
TOO_OLD = Close(1001, "Maximum connection lifetime reached")
SHUTTING_DOWN = Close(1001, "Gateway shutting down")
Closing = tuple["LiveConnection", Close]  # an open connection and how to close it


@dataclass(slots=True)
class Counts:
    """Frames, payload bytes and throttled (dropped) frames of one direction."""

    frames: int = 0
    bytes: int = 0
    throttled: int = 0


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
    client: Address | None = None  # the peer's address, for deny policies
    id: str = field(default_factory=lambda: f"{_ID_PREFIX}{next(_ids):x}")
    opened: float = field(default_factory=time.monotonic)
    opened_at: float = field(default_factory=time.time)
    last_activity: float = field(default_factory=time.monotonic)  # any frame, either direction
    polled_at: float = 0.0  # the busy poller's clock at this connection's last frame (busypoll.py)
    closing: bool = False
    close_code: int | None = None
    # Counted per frame by the relay (in: client to backend, out: backend to client) ...
    frames_in: int = 0
    bytes_in: int = 0
    throttled_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    throttled_out: int = 0
    # ... and what of it the frame counters have already taken, per direction.
    reported_in: Counts = field(default_factory=Counts)
    reported_out: Counts = field(default_factory=Counts)
    # Payload validation (gateway/payloads.py): how this topic validates, None when it does
    # not; messages judged, valid/invalid/unvalidated client messages then backend ones, and
    # what of them the frame counters have taken.
    payloads: TopicPayloads | None = None
    validated: list[int] = field(default_factory=lambda: [0] * 6)
    validated_reported: list[int] = field(default_factory=lambda: [0] * 6)

    @property
    def expires(self) -> float | None:
        return expires_at(self.token.claims) if self.token else None

    def pending(self, direction: str) -> Counts:
        """What was counted in ``direction`` ("in" or "out") since the frame counters last took it."""
        if direction == "in":
            taken = self.reported_in
            return Counts(
                self.frames_in - taken.frames, self.bytes_in - taken.bytes, self.throttled_in - taken.throttled
            )
        taken = self.reported_out
        return Counts(
            self.frames_out - taken.frames, self.bytes_out - taken.bytes, self.throttled_out - taken.throttled
        )

    def counted(self, direction: str) -> Counts:
        """``pending``, and mark it taken."""
        delta = self.pending(direction)
        taken = self.reported_in if direction == "in" else self.reported_out
        taken.frames += delta.frames
        taken.bytes += delta.bytes
        taken.throttled += delta.throttled
        return delta

    def describe(self) -> dict[str, str | int | float]:
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

    def verdicts(self, state: State, now: float | None = None) -> list[Closing]:
        """Every open connection the new state no longer allows, with its close."""
        out: list[Closing] = []
        for conn in list(self._connections):
            if conn.closing:
                continue
            if conn.id in state.disconnect:
                out.append((conn, DISCONNECTED))
                continue
            app_id = conn.app_id if conn.app_in_snapshot else None
            close = rejudge(state, conn.path, conn.query, conn.token, conn.api_id, app_id, now, conn.client)
            if close is not None:
                out.append((conn, close))
        return out

    def expired(
        self,
        now: float,
        *,
        idle_timeout: float = 0,
        max_lifetime: float = 0,
        leeway: float = 0,
        clock: float | None = None,
    ) -> list[Closing]:
        """Connections whose token expired (4001; ``exp + leeway <= now``, the rule of
        ``tokens.expired``), that sat idle too long or lived too long (1001). ``now`` is
        wall time (token ``exp``), ``clock`` monotonic time."""
        clock = time.monotonic() if clock is None else clock
        out: list[Closing] = []
        for conn in list(self._connections):
            if conn.closing:
                continue
            expires = conn.expires
            if expires is not None and expires + leeway <= now:
                out.append((conn, TOKEN_EXPIRED))
            elif idle_timeout and clock - conn.last_activity >= idle_timeout:
                out.append((conn, IDLE))
            elif max_lifetime and clock - conn.opened >= max_lifetime:
                out.append((conn, TOO_OLD))
        return out

    async def close_all(self, items: list[Closing]) -> None:
        for conn, _ in items:
            conn.closing = True
        results = await asyncio.gather(*[conn.close(*close) for conn, close in items], return_exceptions=True)
        for (conn, close), result in zip(items, results, strict=True):
            if isinstance(result, Exception):
                log.debug("closing a connection failed: %r", result)
            log.info("closed connection on %s with %s (%s)", conn.path, close.code, close.reason)

    def all(self) -> list[LiveConnection]:
        return list(self._connections)

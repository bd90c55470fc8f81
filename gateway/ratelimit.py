"""Per-frame rate limits: fixed windows over counters behind a small backend interface.

Policies are data (``PolicyConfig``: N events or bytes per window). A connection gets a
``FrameLimiter`` at its handshake with the policies that apply, in WSO2's order: API-level,
then the subscription's plan (only when it stops on quota), then the application's. Every
text or binary frame, in either direction, is one event; bandwidth limits count payload
bytes. The clock is injectable so tests can move time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gateway_sync.snapshot import PolicyConfig

THROTTLED_MESSAGE = "Error code: 4003 reason: Websocket frame throttled out"
THROTTLE_CLOSE_CODE = 4003


# ``try_consume`` answers this when it cannot decide without asking a shared store.
NEED_LEASE = -2


class CounterBackend(Protocol):
    clock: Callable[[], float]

    def try_consume(self, checks: list[tuple[str, int, int, int]]) -> int:
        """``checks`` are (key, window seconds, limit, cost). Consume from every counter only
        if all have room; return -1 then, the index of the first check that is full, or
        NEED_LEASE when a shared backend must be asked first (``refill``)."""

    async def refill(self, checks: list[tuple[str, int, int, int]]) -> int:
        """Fetch what ``try_consume`` lacked; the index of a check that cannot be met, else -1."""

    def window_end(self, window: int) -> float: ...


class InMemoryCounters:
    """Counters of one process (the embedded default). Fixed windows aligned to the clock."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._counts: dict[str, list[int]] = {}  # key -> [window slot, used]

    def try_consume(self, checks: list[tuple[str, int, int, int]]) -> int:
        now = self.clock()
        entries = []
        for i, (key, window, limit, cost) in enumerate(checks):
            slot = int(now // window)
            entry = self._counts.get(key)
            if entry is None or entry[0] != slot:
                entry = self._counts[key] = [slot, 0]
            if entry[1] + cost > limit:
                return i
            entries.append((entry, cost))
        for entry, cost in entries:
            entry[1] += cost
        return -1

    async def refill(self, checks) -> int:  # never needed: everything is local
        return -1

    def window_end(self, window: int) -> float:
        return (int(self.clock() // window) + 1) * window


def payload_size(payload: str | bytes) -> int:
    """A frame's payload in bytes, as bandwidth limits and analytics count it. Text is
    encoded only when it is not ASCII (for ASCII, characters are bytes)."""
    if isinstance(payload, str) and not payload.isascii():
        return len(payload.encode())
    return len(payload)


@dataclass(frozen=True)
class Limit:
    key: str
    policy: PolicyConfig


def limits_for(*, snapshot, api, subscription, application) -> list[Limit]:
    """The limits one connection is subject to, in the order they are checked."""
    out = []
    if api.api_policy:
        policy = snapshot.policy("advanced", api.api_policy)
        if policy and not policy.unlimited:
            out.append(Limit(f"api:{api.id}", policy))
    if subscription is not None:
        policy = snapshot.policy("subscription", subscription.policy)
        if policy and not policy.unlimited and policy.stop_on_quota_reach:
            out.append(Limit(f"sub:{subscription.id}", policy))
    if application is not None:
        policy = snapshot.policy("application", application.policy)
        if policy and not policy.unlimited:
            out.append(Limit(f"app:{application.id}", policy))
    return out


class FrameLimiter:
    """Judges each frame of one connection. ``check`` returns None to pass the frame, or
    the policy that refused it."""

    __slots__ = ("_backend", "_limits", "_counts_bytes", "_event_checks", "notified_until")

    def __init__(self, backend: CounterBackend, limits: list[Limit]):
        self._backend = backend
        self._limits = limits
        self._counts_bytes = any(lim.policy.limit_type == "BANDWIDTHLIMIT" for lim in limits)
        # Without bandwidth limits every frame costs one per limit: the checks never change.
        self._event_checks = [(lim.key, lim.policy.window, lim.policy.limit, 1) for lim in limits]
        self.notified_until = 0.0

    def __bool__(self) -> bool:
        return bool(self._limits)

    def _checks(self, payload: str | bytes) -> list[tuple[str, int, int, int]]:
        if not self._counts_bytes:
            return self._event_checks
        nbytes = payload_size(payload)
        return [
            (lim.key, lim.policy.window, lim.policy.limit, nbytes if lim.policy.limit_type == "BANDWIDTHLIMIT" else 1)
            for lim in self._limits
        ]

    def check(self, payload: str | bytes) -> PolicyConfig | None | int:
        """Count one frame against every limit: None when it may pass, the policy that
        refused it, or NEED_LEASE when ``check_shared`` must be awaited to decide."""
        refused = self._backend.try_consume(self._checks(payload))
        if refused == NEED_LEASE:
            return NEED_LEASE
        return None if refused < 0 else self._limits[refused].policy

    async def check_shared(self, payload: str | bytes) -> PolicyConfig | None:
        """The slow path of ``check``: lease more from the shared store, then decide."""
        checks = self._checks(payload)
        refused = await self._backend.refill(checks)
        if refused < 0:
            refused = self._backend.try_consume(checks)
        if refused == NEED_LEASE:  # the window turned over while we waited; judge it next time
            return None
        return None if refused < 0 else self._limits[refused].policy

    def should_notify(self, policy: PolicyConfig) -> bool:
        """``notify`` tells the client once per throttle window, not once per dropped frame."""
        now = self._backend.clock()
        if now < self.notified_until:
            return False
        self.notified_until = self._backend.window_end(policy.window)
        return True

"""Per-frame rate limits: fixed windows over counters behind a small backend interface.

Policies are data (``PolicyConfig``: N events or bytes per window). A connection gets a
``FrameLimiter`` at its handshake with the policies that apply, in WSO2's order: API-level,
then the subscription's plan (only when it stops on quota), then the application's. Every
text or binary frame, in either direction, is one event; bandwidth limits count payload
bytes. The clock is injectable so tests can move time.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from gateway_contract.snapshot import ApiConfig, ApplicationConfig, PolicyConfig, Snapshot, SubscriptionConfig

THROTTLED_MESSAGE = "Error code: 4003 reason: Websocket frame throttled out"
THROTTLE_CLOSE_CODE = 4003


class Verdict(enum.Enum):
    """What counting one frame against a connection's counters decided."""

    PASS = "pass"  # every counter had room; the frame is counted in all of them
    THROTTLE = "throttle"  # a counter is full; nothing was counted
    NEED_LEASE = "need-lease"  # undecided until a shared store is asked (``refill``)


NEED_LEASE: Literal[Verdict.NEED_LEASE] = Verdict.NEED_LEASE


@dataclass(frozen=True, slots=True)
class Check:
    """One counter a frame is counted in: ``limit`` per ``window`` seconds, a frame costing
    one (event limits) or its payload bytes (``per_byte``, bandwidth limits). Built once per
    connection: counting a frame allocates nothing."""

    key: str
    window: int
    limit: int
    per_byte: bool = False


@dataclass(frozen=True, slots=True)
class Consumed:
    """A counter backend's answer: the verdict, and for THROTTLE the first check that was full."""

    verdict: Verdict
    full: Check | None = None


PASSED = Consumed(Verdict.PASS)
ASK_SHARED = Consumed(Verdict.NEED_LEASE)


class CounterBackend(Protocol):
    clock: Callable[[], float]

    def try_consume(self, checks: Sequence[Check], nbytes: int) -> Consumed:
        """Count a frame of ``nbytes`` payload bytes in every counter only if all have room
        (PASS), else in none (THROTTLE, naming the first full check), or NEED_LEASE when a
        shared store must be asked first (``refill``)."""
        ...

    async def refill(self, checks: Sequence[Check], nbytes: int) -> Consumed:
        """Fetch what ``try_consume`` lacked: PASS, or THROTTLE with a check that cannot be met."""
        ...

    def window_end(self, window: int) -> float: ...


@dataclass(slots=True)
class Window:
    """What one counter used of its current fixed window (``slot`` = time // window)."""

    slot: int
    used: int = 0


def limit_share(limit: int, index: int, workers: int) -> int:
    """What worker ``index`` of ``workers`` (rungateway --workers N) may pass of ``limit``
    when the workers do not share counters (no Redis): ``limit // workers``, the remainder
    going one each to the first workers, so the shares add up to the limit exactly (10 over
    2 workers: 5 and 5; over 3: 4, 3, 3; 1 over 2: 1 and 0). An approximation, documented in
    docs/gateway.md: a client whose connections all land on one worker gets only that
    worker's share, and a limit smaller than the number of workers leaves some with none."""
    base, extra = divmod(limit, workers)
    return base + (1 if index < extra else 0)


class InMemoryCounters:
    """Counters of one process (the embedded default). Fixed windows aligned to the clock.
    ``share`` (worker index, workers): this process is one of several workers and counts
    against its ``limit_share`` of each limit only. A counter's ``Window`` is the same
    object for the life of the process (a new window resets it in place), so a
    ``FrameLimiter`` may hold its counters (``cells``) and count a frame in them without
    looking them up."""

    def __init__(self, clock: Callable[[], float] = time.time, share: tuple[int, int] = (0, 1)):
        self.clock = clock
        self._counts: dict[str, Window] = {}
        self.share = share

    def limit(self, check: Check) -> int:
        """What this process may count of ``check``'s limit (its share of it)."""
        index, workers = self.share
        return check.limit if workers == 1 else limit_share(check.limit, index, workers)

    def cells(self, checks: Sequence[Check]) -> tuple[tuple[Window, int], ...]:
        """The counter of each of ``checks`` (created empty when new) and ``limit`` of it."""
        counts = self._counts
        return tuple(
            (counts.get(check.key) or counts.setdefault(check.key, Window(-1)), self.limit(check)) for check in checks
        )

    def try_consume(self, checks: Sequence[Check], nbytes: int) -> Consumed:
        now = self.clock()
        counts = self._counts
        for check in checks:
            slot = int(now // check.window)
            entry = counts.get(check.key)
            if entry is None:
                entry = counts[check.key] = Window(slot)
            elif entry.slot != slot:
                entry.slot, entry.used = slot, 0
            if entry.used + (nbytes if check.per_byte else 1) > self.limit(check):
                return Consumed(Verdict.THROTTLE, check)
        for check in checks:  # all had room: count it in each
            counts[check.key].used += nbytes if check.per_byte else 1
        return PASSED

    async def refill(self, checks: Sequence[Check], nbytes: int) -> Consumed:  # everything is local
        return PASSED

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


def limits_for(
    *,
    snapshot: Snapshot,
    api: ApiConfig,
    subscription: SubscriptionConfig | None,
    application: ApplicationConfig | None,
) -> list[Limit]:
    """The limits one connection is subject to, in the order they are checked."""
    out: list[Limit] = []
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


class LimitPlan:
    """What every connection with the same limits shares: the limits, their checks and
    policies, built once (``State.limit_plan`` keeps one per API, subscription and
    application for the snapshot it was built from) instead of at each handshake. With
    counters of this process only (``InMemoryCounters``, whose ``Window`` objects live as
    long as the process), the counters themselves are kept too."""

    __slots__ = ("limits", "policies", "checks", "counts_bytes", "_cells_of", "_cells")

    def __init__(self, limits: list[Limit]):
        self.limits = limits
        self.policies = {lim.key: lim.policy for lim in limits}
        self.checks = tuple(
            Check(lim.key, lim.policy.window, lim.policy.limit, lim.policy.limit_type == "BANDWIDTHLIMIT")
            for lim in limits
        )
        self.counts_bytes = any(check.per_byte for check in self.checks)
        self._cells_of: CounterBackend | None = None
        self._cells: tuple[tuple[Window, int, bool], ...] | None = None

    def cells(self, backend: CounterBackend) -> tuple[tuple[Window, int, bool], ...] | None:
        """(counter, this process's limit, per_byte) per check, or None when ``backend``
        has no counters of its own to count in directly (or there is nothing to count)."""
        if backend is self._cells_of:
            return self._cells
        cells = getattr(backend, "cells", None)
        found = (
            tuple(
                (cell, limit, check.per_byte)
                for (cell, limit), check in zip(cells(self.checks), self.checks, strict=True)
            )
            if cells is not None and self.checks
            else None
        )
        self._cells_of, self._cells = backend, found
        return found


class FrameLimiter:
    """Judges each frame of one connection. ``check`` returns None to pass the frame, the
    policy that refused it, or NEED_LEASE when ``check_shared`` must be awaited to decide."""

    __slots__ = (
        "_backend",
        "_limits",
        "_policies",
        "_counts_bytes",
        "_checks",
        "_cells",
        "_clock",
        "_since",
        "_until",
        "notified_until",
    )

    def __init__(self, backend: CounterBackend, limits: list[Limit] | LimitPlan):
        plan = limits if isinstance(limits, LimitPlan) else LimitPlan(limits)
        self._backend = backend
        self._limits = plan.limits
        self._policies = plan.policies
        self._checks = plan.checks
        self._counts_bytes = plan.counts_bytes
        # The fast path (counters of this process only): (counter, this process's limit,
        # per_byte) per check, valid while the clock is within every check's current window [since, until).
        self._cells = plan.cells(backend)
        self._clock = backend.clock
        self._since = self._until = 0.0
        self.notified_until = 0.0

    def __bool__(self) -> bool:
        return bool(self._limits)

    def _size(self, payload: str | bytes) -> int:
        """What a frame costs a bandwidth limit; without one, its size is never needed."""
        return payload_size(payload) if self._counts_bytes else 1

    def _throttled_by(self, consumed: Consumed) -> PolicyConfig:
        assert consumed.full is not None, "a THROTTLE names its full check"
        return self._policies[consumed.full.key]

    def check(self, payload: str | bytes) -> PolicyConfig | None | Literal[Verdict.NEED_LEASE]:
        """Count one frame against every limit: None when it may pass, the policy that
        refused it, or NEED_LEASE when ``check_shared`` must be awaited to decide."""
        cells = self._cells
        if cells is not None and self._since <= self._clock() < self._until:
            # Every counter is in the window the last full check saw: no lookups, no windows
            # to turn over. A counter without room sends the frame to the full check.
            nbytes = payload_size(payload) if self._counts_bytes else 1
            for cell, limit, per_byte in cells:
                if cell.used + (nbytes if per_byte else 1) > limit:
                    break
            else:
                for cell, _, per_byte in cells:
                    cell.used += nbytes if per_byte else 1
                return None
        consumed = self._backend.try_consume(self._checks, self._size(payload))
        verdict = consumed.verdict
        if verdict is Verdict.PASS:
            if cells is not None:
                self._window_bounds()
            return None
        if verdict is Verdict.NEED_LEASE:
            return NEED_LEASE
        return self._throttled_by(consumed)

    def _window_bounds(self) -> None:
        """The span of time in which every counter stays in the window it is now in (a
        check just passed, so each is in the current one)."""
        assert self._cells is not None
        starts = [cell.slot * check.window for (cell, _, _), check in zip(self._cells, self._checks, strict=True)]
        self._since = float(max(starts))
        self._until = float(min(start + check.window for start, check in zip(starts, self._checks, strict=True)))

    async def check_shared(self, payload: str | bytes) -> PolicyConfig | None:
        """The slow path of ``check``: lease more from the shared store, then decide."""
        checks, nbytes = self._checks, self._size(payload)
        consumed = await self._backend.refill(checks, nbytes)
        if consumed.verdict is Verdict.PASS:
            consumed = self._backend.try_consume(checks, nbytes)
        if consumed.verdict is Verdict.THROTTLE:
            return self._throttled_by(consumed)
        return None  # passed, or the window turned over while we waited: judged next time

    def should_notify(self, policy: PolicyConfig) -> bool:
        """``notify`` tells the client once per throttle window, not once per dropped frame."""
        now = self._backend.clock()
        if now < self.notified_until:
            return False
        self.notified_until = self._backend.window_end(policy.window)
        return True

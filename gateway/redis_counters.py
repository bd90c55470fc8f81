"""Rate-limit counters shared by every gateway process through Redis, exact and cheap.

Exact: a process may only count against a limit what it leased from Redis first, and the
lease script never grants more than the window has left, so all processes together never
pass more than the limit. Cheap: leases are a share of what is left (so most frames are
counted locally, with a Redis round trip every few hundred frames); they shrink to single
units near the limit, where exactness matters. A key known to be exhausted refuses
locally until its window ends.

If Redis is unreachable, counting falls back to this process's own counters (the limit
then holds per process) and Redis is tried again a few seconds later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis.asyncio as redis
from redis.exceptions import RedisError

from gateway.ratelimit import ASK_SHARED, PASSED, Check, Consumed, InMemoryCounters, Verdict

log = logging.getLogger("tidegate.gateway")

# KEYS[1] counter of one window; ARGV: limit, cost (the least worth granting), share
# divisor, cap, ttl. Grants min(left, max(cost, min(cap, left // divisor))), or 0.
LEASE_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local left = tonumber(ARGV[1]) - used
local cost = tonumber(ARGV[2])
if left < cost then return 0 end
local grant = math.min(left, math.max(cost, math.min(tonumber(ARGV[4]), math.floor(left / tonumber(ARGV[3])))))
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], ARGV[5])
return grant
"""

RETRY_AFTER = 5.0


@dataclass(slots=True)
class Lease:
    """Units of one counter's current window (``slot``) this process may still count."""

    slot: int
    left: int = 0
    exhausted: bool = False  # Redis said this window is used up


class RedisCounters:
    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        share_divisor: int = 16,
        max_lease: int = 500,
        prefix: str = "tidegate:rl:",
        share: tuple[int, int] = (0, 1),
    ):
        self.clock = clock
        self.share_divisor = share_divisor
        self.max_lease = max_lease
        self.prefix = prefix
        self._redis = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(LEASE_SCRIPT)
        self._leases: dict[str, Lease] = {}
        # While Redis is away: this process's own counters, its share of each limit when it
        # is one of several workers (the workers of one host still pass the limit together;
        # separate gateway hosts each pass it whole until Redis is back).
        self._fallback = InMemoryCounters(clock, share)
        self._down_until = 0.0

    def try_consume(self, checks: Sequence[Check], nbytes: int) -> Consumed:
        now = self.clock()
        if now < self._down_until:
            return self._fallback.try_consume(checks, nbytes)
        leases = []
        for check in checks:
            lease = self._leases.get(check.key)
            if lease is None or lease.slot != int(now // check.window):
                return ASK_SHARED
            cost = nbytes if check.per_byte else 1
            if lease.left < cost:
                if lease.exhausted:
                    return Consumed(Verdict.THROTTLE, check)
                return ASK_SHARED
            leases.append((lease, cost))
        for lease, cost in leases:
            lease.left -= cost
        return PASSED

    async def refill(self, checks: Sequence[Check], nbytes: int) -> Consumed:
        now = self.clock()
        try:
            for check in checks:
                window, cost = check.window, nbytes if check.per_byte else 1
                slot = int(now // window)
                lease = self._leases.get(check.key)
                if lease is None or lease.slot != slot:
                    lease = self._leases[check.key] = Lease(slot)
                if lease.left >= cost or lease.exhausted:
                    if lease.left < cost:
                        return Consumed(Verdict.THROTTLE, check)
                    continue
                ttl = int(window - now % window) + 5
                grant = int(
                    await self._script(
                        keys=[f"{self.prefix}{check.key}:{slot}"],
                        args=[check.limit, cost - lease.left, self.share_divisor, self.max_lease, ttl],
                    )
                )
                if grant == 0:
                    lease.exhausted = True
                    return Consumed(Verdict.THROTTLE, check)
                lease.left += grant
        except (RedisError, OSError) as exc:
            log.warning("Redis unreachable for rate limits, counting locally for %.0f s: %s", RETRY_AFTER, exc)
            self._down_until = now + RETRY_AFTER  # try_consume now counts locally
        return PASSED

    def window_end(self, window: int) -> float:
        return (int(self.clock() // window) + 1) * window

    async def close(self) -> None:
        await self._redis.aclose()

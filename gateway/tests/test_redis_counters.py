"""Shared rate-limit counters over a real Redis: exact across processes, local fallback."""

import pytest

from gateway.ratelimit import NEED_LEASE, FrameLimiter, Limit
from gateway.redis_counters import RedisCounters
from gateway_contract.snapshot import PolicyConfig


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


async def _check(limiter, payload="x"):
    refused = limiter.check(payload)
    if refused == NEED_LEASE:
        refused = await limiter.check_shared(payload)
    return refused


@pytest.fixture
def policy():
    return PolicyConfig(level="subscription", name="10", limit=10, window=60)


async def test_two_processes_together_pass_exactly_the_limit(redis_url, policy):
    clock = Clock(120_000.0)
    a = RedisCounters(redis_url, clock=clock, prefix="t1:")
    b = RedisCounters(redis_url, clock=clock, prefix="t1:")
    la, lb = FrameLimiter(a, [Limit("sub:s", policy)]), FrameLimiter(b, [Limit("sub:s", policy)])
    passed = 0
    for i in range(30):
        if await _check(la if i % 3 else lb) is None:
            passed += 1
    assert passed == 10
    clock.now += 60  # a new window
    assert await _check(la) is None
    await a.close()
    await b.close()


async def test_large_limits_are_leased_in_batches_not_per_frame(redis_url):
    policy = PolicyConfig(level="advanced", name="big", limit=100_000, window=60)
    counters = RedisCounters(redis_url, clock=Clock(240_000.0), prefix="t2:")
    limiter = FrameLimiter(counters, [Limit("api:a", policy)])
    trips = 0
    for _ in range(2000):
        if limiter.check("x") == NEED_LEASE:
            trips += 1
            assert await limiter.check_shared("x") is None
    assert trips <= 5  # 500-unit leases: a Redis round trip every few hundred frames
    await counters.close()


async def test_redis_away_falls_back_to_local_counting(policy):
    counters = RedisCounters("redis://127.0.0.1:1/0", clock=Clock(360_000.0), prefix="t3:")
    limiter = FrameLimiter(counters, [Limit("sub:s", policy)])
    results = [await _check(limiter) for _ in range(12)]
    assert results[:10] == [None] * 10 and results[10] is policy
    await counters.close()


async def test_workers_split_the_limit_while_redis_is_away(policy):
    # Each of two workers fell back to counting the whole limit: 20 frames of a 10 passed.
    workers = [
        RedisCounters("redis://127.0.0.1:1/0", clock=Clock(360_000.0), prefix="t4:", share=(i, 2)) for i in range(2)
    ]
    limiters = [FrameLimiter(c, [Limit("sub:s", policy)]) for c in workers]
    passed = [sum([await _check(limiter) is None for _ in range(12)]) for limiter in limiters]
    assert passed == [5, 5]
    for counters in workers:
        await counters.close()

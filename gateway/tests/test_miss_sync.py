"""Pulls on a handshake miss: concurrent misses share one pull, each miss waits for a pull
that starts after it, and misses start at most one pull per interval (an injected clock)."""

import asyncio

from gateway.sync import MissSync


class Clock:
    """Time that moves only when the code under test sleeps (or the test moves it)."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class Portal:
    """Counts pulls and the clock reading at which each started; ``gate`` holds them open."""

    def __init__(self, clock, result=True):
        self.clock = clock
        self.starts: list[float] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.result = result

    async def pull(self) -> bool:
        self.starts.append(self.clock())
        await self.gate.wait()
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


async def _passes(n: int = 20) -> None:
    """Let the event loop run everything that is ready, ``n`` times over (no wall time)."""
    for _ in range(n):
        await asyncio.sleep(0)


def _sync(clock, portal, interval=0.1):
    return MissSync(portal.pull, min_interval=interval, clock=clock, sleep=clock.sleep)


def test_concurrent_misses_share_one_pull():
    async def run():
        clock = Clock()
        portal = Portal(clock)
        portal.gate.clear()
        sync = _sync(clock, portal)
        waiting = [asyncio.create_task(sync()) for _ in range(50)]
        await _passes()  # every miss has reached the sync and waits
        portal.gate.set()
        return portal, await asyncio.gather(*waiting)

    portal, results = asyncio.run(run())
    assert len(portal.starts) == 1
    assert results == [True] * 50


def test_a_miss_during_a_pull_waits_for_the_next_one_not_the_stale_answer():
    async def run():
        clock = Clock()
        portal = Portal(clock)
        portal.gate.clear()
        sync = _sync(clock, portal)
        first = asyncio.create_task(sync())
        await _passes()  # the first pull is on its way to the portal
        assert len(portal.starts) == 1
        noticed_at = clock()
        second = asyncio.create_task(sync())
        await _passes()
        assert not second.done()
        portal.gate.set()
        await asyncio.gather(first, second)
        return portal, noticed_at

    portal, noticed_at = asyncio.run(run())
    assert len(portal.starts) == 2
    assert portal.starts[1] >= noticed_at
    assert portal.starts[1] - portal.starts[0] >= 0.1 - 1e-9  # and no sooner than the interval allows


def test_a_flood_of_misses_starts_at_most_one_pull_per_interval():
    async def run():
        clock = Clock()
        portal = Portal(clock, result=False)  # nothing new: every handshake stays refused
        sync = _sync(clock, portal, interval=0.1)
        start = clock()
        tasks = []
        for _ in range(300):  # a miss every 5 ms of (simulated) time, for 1.5 s
            tasks.append(asyncio.create_task(sync()))
            await clock.sleep(0.005)
        results = await asyncio.gather(*tasks)
        return portal, results, clock() - start

    portal, results, elapsed = asyncio.run(run())
    assert results == [False] * 300
    assert 1 < len(portal.starts) <= int(elapsed / 0.1) + 1
    gaps = [b - a for a, b in zip(portal.starts, portal.starts[1:], strict=False)]
    assert min(gaps) >= 0.1 - 1e-9


def test_a_failed_pull_leaves_the_refusal_and_the_next_miss_pulls_again():
    async def run():
        clock = Clock()
        portal = Portal(clock, result=OSError("portal away"))
        sync = _sync(clock, portal)
        failed = await sync()
        portal.result = True
        clock.now += 1
        return portal, failed, await sync()

    portal, failed, recovered = asyncio.run(run())
    assert (failed, recovered, len(portal.starts)) == (False, True, 2)

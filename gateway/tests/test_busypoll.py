"""The busy poller on a real event loop with a clock the test moves: it keeps the loop
turning for its window after each frame, then parks until the next one."""

import asyncio

import pytest

from gateway.busypoll import BusyPoller


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _turns(n: int = 5) -> None:
    """Let the loop make ``n`` passes (each runs the poller's ready callback once)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_it_spins_for_its_window_after_a_frame_then_parks():
    clock = Clock()
    poller = BusyPoller(window_us=100_000, clock=clock)
    poller.start()
    try:
        assert not poller.parked and poller.windows == 1  # starting counts as activity
        await _turns()
        assert not poller.parked and poller.passes >= 4  # polling: a pass every loop turn
        clock.now += 0.2
        await _turns()
        assert poller.parked  # no frame for longer than the window: asleep
        parked_at = poller.passes
        await _turns()
        assert poller.passes == parked_at  # parked: no passes until the next frame
        poller.touch()
        assert not poller.parked and poller.windows == 2
        for _ in range(5):  # frames within the window keep it open
            clock.now += 0.05
            await _turns()
            poller.touch()
            assert not poller.parked
        assert poller.windows == 2
    finally:
        poller.stop()
    await _turns()
    assert poller.parked  # stopped: the window ends at once
    poller.touch()
    assert poller.parked  # and frames after stop() do not reopen it


def test_a_negative_window_is_refused():
    with pytest.raises(ValueError, match="0 \\(off\\) or more microseconds"):
        BusyPoller(window_us=-1)

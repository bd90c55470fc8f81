"""The busy poller on a real event loop: it keeps the loop turning for its window after
each frame, then parks until the next one."""

import asyncio

import pytest

from gateway.busypoll import BusyPoller


async def test_it_spins_for_its_window_after_a_frame_then_parks():
    poller = BusyPoller(window_us=100_000)
    poller.start()
    try:
        assert not poller.parked  # starting counts as activity
        await asyncio.sleep(0.2)
        assert poller.parked  # no frame since: the window closed
        poller.touch()
        await asyncio.sleep(0.01)
        assert not poller.parked
        await asyncio.sleep(0.15)
        assert poller.parked
        poller.touch()  # a frame resumes it, and frames within the window keep it going
        for _ in range(5):
            await asyncio.sleep(0.05)
            poller.touch()
            assert not poller.parked
    finally:
        poller.stop()
    await asyncio.sleep(0.01)
    assert poller.parked  # stopped: the window ends at once
    poller.touch()
    assert poller.parked  # and frames after stop() do not reopen it


def test_a_negative_window_is_refused():
    with pytest.raises(ValueError, match="0 \\(off\\) or more microseconds"):
        BusyPoller(window_us=-1)

"""The busy poller on a real event loop with a clock the test moves: a window keeps the loop
turning after a frame, then it parks until the next one; adaptive, a window opens only while
frames come closer together than the threshold."""

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.busypoll import BusyPoller
from gateway.config import GatewayConfig


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _turns(n: int = 5) -> None:
    """Let the loop make ``n`` passes (each runs the poller's ready callback once)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_on_it_spins_for_its_window_after_every_frame_then_parks():
    clock = Clock()
    poller = BusyPoller(window_us=100_000, mode="on", clock=clock)
    poller.start()
    try:
        assert poller.parked and poller.windows == 0  # nothing came yet: asleep
        clock.now += 60  # a frame after a minute's silence still opens a window
        poller.touch()
        assert not poller.parked and poller.windows == 1
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
        assert poller.windows == 2 and poller.skipped == 0
    finally:
        poller.stop()
    await _turns()
    assert poller.parked  # stopped: the window ends at once
    poller.touch()
    assert poller.parked  # and frames after stop() do not reopen it


async def test_adaptive_frames_further_apart_than_the_threshold_leave_the_loop_asleep():
    clock = Clock()
    poller = BusyPoller(window_us=200, gap_us=300, clock=clock)
    poller.start()
    try:
        for _ in range(400):  # a steady trickle, one frame a millisecond
            clock.now += 0.001
            poller.touch()
            await _turns(2)
            assert poller.parked
        assert poller.windows == 0 and poller.passes == 0 and poller.skipped == 400
        assert poller.gap == pytest.approx(0.001, rel=0.05)  # what /metrics shows it judged by
    finally:
        poller.stop()


async def test_adaptive_frames_close_together_open_a_window_within_a_few_hundred_frames_even_after_a_long_idle():
    clock = Clock()
    poller = BusyPoller(window_us=200, gap_us=300, clock=clock)
    poller.start()
    try:
        clock.now += 3600  # an hour without a frame
        opened_at = None
        for n in range(1, 301):  # then back-to-back round trips: a frame every 100 µs
            poller.touch()
            if opened_at is None and not poller.parked:
                opened_at = n
            clock.now += 0.0001
            await _turns(1)
        # The long gap counts as four thresholds at most, so some two hundred close frames
        # bring the mean below the threshold, not millions.
        assert opened_at is not None and opened_at <= 250
        assert poller.windows == 1 and not poller.parked  # one window, kept open by the stream
        assert poller.skipped == opened_at - 1
        # A pause longer than the window closes it.
        clock.now += 0.0005
        await _turns()
        assert poller.parked
        passes = poller.passes
        await _turns()
        assert poller.passes == passes
        # The next close frame reopens it at once: the mean is still below the threshold.
        poller.touch()
        assert not poller.parked and poller.windows == 2
    finally:
        poller.stop()


async def test_adaptive_a_burst_in_a_trickle_opens_no_window():
    clock = Clock()
    poller = BusyPoller(window_us=200, gap_us=300, clock=clock)
    poller.start()
    try:
        for _ in range(10):
            for _ in range(50):  # a frame a millisecond...
                clock.now += 0.001
                poller.touch()
                await _turns(2)
            for _ in range(10):  # ...then ten at once (a sender that was held up)
                clock.now += 0.000_005
                poller.touch()
                await _turns(1)
        assert poller.windows == 0 and poller.passes == 0 and poller.skipped == 600
    finally:
        poller.stop()


async def test_adaptive_a_stream_that_slows_down_stops_opening_windows():
    clock = Clock()
    poller = BusyPoller(window_us=200, gap_us=300, clock=clock)
    poller.start()
    try:
        for _ in range(300):  # fast: a window
            clock.now += 0.0001
            poller.touch()
            await _turns(1)
        assert poller.windows == 1
        for _ in range(30):  # then one frame every 2 ms: each finds the loop asleep after the window
            clock.now += 0.002
            await _turns(2)  # the pass sees the quiet and parks
            assert poller.parked
            poller.touch()
        # The first few slow gaps lift the mean above the threshold: the loop sleeps between them.
        assert 1 < poller.windows <= 20
        windows = poller.windows
        for _ in range(20):
            clock.now += 0.002
            await _turns(2)
            poller.touch()
        assert poller.windows == windows and poller.parked
    finally:
        poller.stop()


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"busy_poll": "sometimes"}, "TIDEGATE_BUSY_POLL"),
        ({"busy_poll_us": -1}, "TIDEGATE_BUSY_POLL_US"),
        ({"busy_poll_gap_us": 0}, "TIDEGATE_BUSY_POLL_GAP_US"),
    ],
)
def test_a_config_with_an_impossible_busy_poll_setting_is_refused_naming_it(changes, setting):
    config = GatewayConfig(portal_url="http://127.0.0.1:1", token="t", testkey_path=Path("k"))
    assert (config.busy_poll, config.busy_poll_us > 0) == ("adaptive", True)  # on by default, adaptive
    with pytest.raises(ValueError, match=setting + " must be"):
        replace(config, **changes)

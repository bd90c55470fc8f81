"""Busy polling (TIDEGATE_BUSY_POLL_US) in a real gateway process: frames pass as usual, the
loop polls instead of sleeping while they flow, and parks once they stop. Judged by what the
loop did (its /metrics counters), not by CPU time, which a loaded machine would skew."""

import pytest
from websockets.sync.client import connect

from testsupport.stack import free_port, metric, wait_until

pytestmark = pytest.mark.e2e


def test_busy_polling_relays_polls_while_frames_flow_and_parks_when_they_stop(stack, chat):
    port = free_port()
    # A window of half a second: long enough that a frame and its echo share one window.
    gw = stack.spawn_gateway("busypoll", port, env={"TIDEGATE_BUSY_POLL_US": "500000"})
    http = f"http://127.0.0.1:{port}"

    def sample(name: str) -> float:
        value = metric(http, name)
        assert value is not None, f"{name} not in the gateway's /metrics"
        return value

    def parked() -> bool:
        return sample("tidegate_busy_polling") == 0

    try:
        wait_until(parked, 15, what="start-up's polling window to close")
        windows, passes = sample("tidegate_busy_poll_windows_total"), sample("tidegate_busy_poll_passes_total")
        assert sample("tidegate_busy_poll_passes_total") == passes  # parked: the loop sleeps
        with connect(f"ws://127.0.0.1:{port}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
            ws.send("through a polling gateway")
            assert ws.recv(timeout=5) == "through a polling gateway"
            # The frame opened a window, and the loop polled through it instead of sleeping.
            assert sample("tidegate_busy_poll_windows_total") > windows
            wait_until(parked, 15, what="the window to close with no frames")
            polled = sample("tidegate_busy_poll_passes_total")
            assert polled > passes
            assert sample("tidegate_busy_poll_passes_total") == polled  # connection open, no frames: asleep
            ws.send("and again")
            assert ws.recv(timeout=5) == "and again"
            assert sample("tidegate_busy_poll_passes_total") > polled
    finally:
        gw.stop()

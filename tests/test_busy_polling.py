"""Busy polling (TIDEGATE_BUSY_POLL_US) in a real gateway process: frames pass as usual, the
process keeps its core while they flow and sleeps once they stop."""

import time

import pytest
from websockets.sync.client import connect

from tests.stack import cpu_seconds, free_port

pytestmark = pytest.mark.e2e


def _cpu_during(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def test_busy_polling_relays_spins_while_frames_flow_and_sleeps_when_they_stop(stack, chat):
    port = free_port()
    # A window of half a second, wide enough to watch from outside.
    gw = stack.spawn_gateway("busypoll", port, env={"TIDEGATE_BUSY_POLL_US": "500000"})
    try:
        time.sleep(0.7)  # start-up traffic's window closes
        asleep_before = _cpu_during(gw.popen.pid, 1.0)
        with connect(f"ws://127.0.0.1:{port}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
            ws.send("through a polling gateway")
            assert ws.recv(timeout=5) == "through a polling gateway"
            spinning = _cpu_during(gw.popen.pid, 0.3)  # inside the window after that frame
            time.sleep(0.5)
            asleep_after = _cpu_during(gw.popen.pid, 1.0)  # connection open, no frames
            ws.send("and again")
            assert ws.recv(timeout=5) == "and again"
    finally:
        gw.stop()
    # Sleeping: a few snapshot polls and sweeps a second. Spinning: most of a core.
    assert asleep_before < 0.1 and asleep_after < 0.1, (asleep_before, asleep_after)
    assert spinning > 0.15, spinning

"""Busy polling (TIDEGATE_BUSY_POLL, _US, _GAP_US) in a real gateway process: frames pass as
usual; adaptive (the default) polls only while frames come close together, on polls after
every frame, off never. Judged by what the loop did (its /metrics counters), not by CPU time
or latency, which a loaded machine would skew: the thresholds here are far above any gap the
test's own frames could have."""

import pytest
from websockets.sync.client import connect

from testsupport.stack import free_port, gateway_start_refused, metric, wait_until

pytestmark = pytest.mark.e2e


class Gateway:
    def __init__(self, stack, name: str, env: dict[str, str]):
        self.port = free_port()
        self.proc = stack.spawn_gateway(name, self.port, env=env)
        self.http = f"http://127.0.0.1:{self.port}"

    def sample(self, name: str) -> float:
        value = metric(self.http, name)
        assert value is not None, f"{name} not in the gateway's /metrics"
        return value

    def parked(self) -> bool:
        return self.sample("tidegate_busy_polling") == 0

    def connect(self, chat):
        return connect(f"ws://127.0.0.1:{self.port}/chat/1.0.0/plain", additional_headers=chat["headers"])


def adaptive(stack, name: str, conn_gap_us: str) -> Gateway:
    """An adaptive gateway (the default: no TIDEGATE_BUSY_POLL) with a window of half a
    second, frames counting as close together below a mean gap of one second, and the
    given gap between a connection's own frames."""
    env = {
        "TIDEGATE_BUSY_POLL_US": "500000",
        "TIDEGATE_BUSY_POLL_GAP_US": "1000000",
        "TIDEGATE_BUSY_POLL_CONN_GAP_US": conn_gap_us,
    }
    return Gateway(stack, name, env)


def test_adaptive_is_the_default_a_lone_frame_leaves_the_loop_asleep_and_a_stream_polls(stack, chat):
    # No TIDEGATE_BUSY_POLL: adaptive. A window of half a second, and frames count as close
    # together below a mean gap of one second (the default is 250 µs): the test's frames are
    # close together whatever the machine's load, and a lone frame is not.
    gw = adaptive(stack, "busypoll-adaptive", conn_gap_us="1000000")
    try:
        assert gw.sample("tidegate_busy_poll_gap_threshold_seconds") == 1.0
        assert gw.sample("tidegate_busy_poll_connection_gap_threshold_seconds") == 1.0
        assert gw.parked() and gw.sample("tidegate_busy_poll_windows_total") == 0  # nothing came: asleep
        with gw.connect(chat) as ws:
            ws.send("a lone frame")
            assert ws.recv(timeout=5) == "a lone frame"
            # The handshake, the frame and its echo, the first after a long quiet: no window.
            assert gw.sample("tidegate_busy_poll_windows_total") == 0
            assert gw.sample("tidegate_busy_poll_skipped_total") == 3
            assert gw.sample("tidegate_busy_poll_passes_total") == 0
            assert gw.parked()
            for n in range(150):  # back-to-back round trips: the mean gap falls below the threshold
                ws.send(f"stream {n}")
                assert ws.recv(timeout=5) == f"stream {n}"
            assert gw.sample("tidegate_busy_poll_windows_total") >= 1
            assert gw.sample("tidegate_busy_poll_frame_gap_seconds") < 1.0
            wait_until(gw.parked, 15, what="the window to close with no frames")
            polled = gw.sample("tidegate_busy_poll_passes_total")
            assert polled > 0
            assert gw.sample("tidegate_busy_poll_passes_total") == polled  # connection open, no frames: asleep
    finally:
        gw.proc.stop()


def test_adaptive_leaves_the_loop_asleep_while_each_connections_frames_are_far_apart(stack, chat):
    # Frames close together overall (below a mean gap of one second), but a connection's own
    # frames may be at most 1 µs apart, which no round trip is: the loop is never polled.
    gw = adaptive(stack, "busypoll-connection-gap", conn_gap_us="1")
    try:
        with gw.connect(chat) as ws:
            for n in range(150):
                ws.send(f"stream {n}")
                assert ws.recv(timeout=5) == f"stream {n}"
            assert gw.sample("tidegate_busy_poll_frame_gap_seconds") < 1.0  # close together overall
            assert gw.sample("tidegate_busy_poll_connection_gap_seconds") > 1e-6
            assert gw.sample("tidegate_busy_poll_windows_total") == 0
            assert gw.sample("tidegate_busy_poll_passes_total") == 0
            assert gw.sample("tidegate_busy_poll_skipped_total") == 301  # the handshake and every frame
    finally:
        gw.proc.stop()


def test_busy_polling_on_polls_after_every_frame_and_parks_when_they_stop(stack, chat):
    # A window of half a second: long enough that a frame and its echo share one window.
    gw = Gateway(stack, "busypoll-on", {"TIDEGATE_BUSY_POLL": "on", "TIDEGATE_BUSY_POLL_US": "500000"})
    try:
        assert gw.sample("tidegate_busy_poll_gap_threshold_seconds") == float("inf")  # no threshold
        wait_until(gw.parked, 15, what="the loop to sleep before any frame")
        windows, passes = gw.sample("tidegate_busy_poll_windows_total"), gw.sample("tidegate_busy_poll_passes_total")
        assert gw.sample("tidegate_busy_poll_passes_total") == passes  # parked: the loop sleeps
        with gw.connect(chat) as ws:
            ws.send("through a polling gateway")
            assert ws.recv(timeout=5) == "through a polling gateway"
            # The first frame after a quiet opened a window, and the loop polled through it.
            assert gw.sample("tidegate_busy_poll_windows_total") > windows
            wait_until(gw.parked, 15, what="the window to close with no frames")
            polled = gw.sample("tidegate_busy_poll_passes_total")
            assert polled > passes
            assert gw.sample("tidegate_busy_poll_passes_total") == polled  # connection open, no frames: asleep
            ws.send("and again")
            assert ws.recv(timeout=5) == "and again"
            assert gw.sample("tidegate_busy_poll_passes_total") > polled
    finally:
        gw.proc.stop()


def test_busy_polling_off_never_polls_whatever_the_window(stack, chat):
    gw = Gateway(stack, "busypoll-off", {"TIDEGATE_BUSY_POLL": "off", "TIDEGATE_BUSY_POLL_US": "500000"})
    try:
        with gw.connect(chat) as ws:
            for n in range(10):
                ws.send(f"off {n}")
                assert ws.recv(timeout=5) == f"off {n}"
        # No poller at all: no busy-polling series.
        assert metric(gw.http, "tidegate_busy_poll_passes_total") is None
        assert metric(gw.http, "tidegate_busy_polling") is None
    finally:
        gw.proc.stop()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TIDEGATE_BUSY_POLL", "sometimes"),
        ("TIDEGATE_BUSY_POLL_US", "-1"),
        ("TIDEGATE_BUSY_POLL_US", "200us"),
        ("TIDEGATE_BUSY_POLL_GAP_US", "0"),
        ("TIDEGATE_BUSY_POLL_GAP_US", "fast"),
        ("TIDEGATE_BUSY_POLL_CONN_GAP_US", "0"),
    ],
)
def test_a_gateway_with_an_impossible_busy_poll_setting_refuses_to_start_naming_it(stack, setting, value):
    assert f"{setting} must be" in gateway_start_refused({**stack.env, setting: value})

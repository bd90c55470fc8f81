"""Adaptive busy polling's rule (gateway/busypoll.py), frame by frame on an injected clock:
which streams of frames open a polling window. The gateway-level behaviour (settings,
/metrics, the loop actually polling) is in test_busy_polling.py."""

import asyncio

from gateway.busypoll import BusyPoller


class Connection:
    polled_at = 0.0


def windows(connections: int, gap_us: float, frames: int = 2000) -> tuple[int, int]:
    """Frames ``gap_us`` apart, taking turns over ``connections``: the windows adaptive
    polling opened and the frames it let sleep. A window, once open, is closed again before
    the next frame (as after a pause longer than the window), so each frame is judged."""

    async def run() -> tuple[int, int]:
        now = [100.0]
        poller = BusyPoller(200, 250, "adaptive", clock=lambda: now[0])  # the default connection gap
        poller.start()
        conns = [Connection() for _ in range(connections)]
        for n in range(frames):
            now[0] += gap_us / 1e6
            poller.touch(conns[n % connections])
            poller._spinning = False  # judged afresh at the next frame
        poller.stop()
        return poller.windows, poller.skipped

    return asyncio.run(run())


def test_back_to_back_round_trips_on_one_connection_poll():
    opened, skipped = windows(connections=1, gap_us=80)  # a 160 µs round trip
    assert opened > 1500 and opened + skipped == 2000


def test_a_few_connections_exchanging_large_messages_poll():
    opened, _ = windows(connections=10, gap_us=40)  # each connection's frames 400 µs apart
    assert opened > 1500


def test_many_connections_adding_up_to_a_fast_stream_each_waiting_long_sleep():
    # Fifty clients, frames 25 µs apart overall, each connection's 1.25 ms apart.
    opened, skipped = windows(connections=50, gap_us=25)
    assert opened == 0 and skipped == 2000


def test_a_trickle_sleeps():
    opened, _ = windows(connections=1, gap_us=1000)  # 1,000 frames a second
    assert opened == 0


def test_a_connections_first_frame_is_measured_from_its_handshake():
    async def run() -> float:
        now = [100.0]
        poller = BusyPoller(200, 250, "adaptive", clock=lambda: now[0])  # the default connection gap
        poller.start()
        conns = [Connection() for _ in range(3000)]
        for conn in conns:  # short exchanges: a handshake, then one frame 100 µs later
            now[0] += 100e-6
            poller.touch()
            poller.opened(conn)
            now[0] += 100e-6
            poller.touch(conn)
        return poller.conn_gap

    assert asyncio.run(run()) < 150e-6  # not the 2.8 ms a gap counts at most


def test_a_handshake_counts_as_a_frame_of_a_new_connection():
    async def run() -> int:
        now = [100.0]
        poller = BusyPoller(200, 250, "adaptive", clock=lambda: now[0])  # the default connection gap
        poller.start()
        for _ in range(2000):  # handshakes 100 µs apart, no frames
            now[0] += 100e-6
            poller.touch()
            poller._spinning = False
        return poller.windows

    assert asyncio.run(run()) > 1500

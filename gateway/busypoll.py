"""Busy polling: while frames keep coming, the event loop polls its sockets without
sleeping, for up to a set window after the last frame.

A gateway waiting for the next frame sleeps in the kernel's poll, and its core goes idle;
each frame that arrives then costs a wake-up: the sender's core interrupts this one (an
inter-processor interrupt, a VM exit on virtual machines) and this core leaves its idle
state before the frame is read. Under a steady stream these wake-ups are a large part of
what a proxy adds to a message's round trip (on the benchmark machine, a 2-vCPU VM: about
5 µs of the client's and backend's core per 16 KiB round trip, and their core idles while
messages wait in the gateway). Polling with a zero timeout while traffic flows removes
them: nothing sleeps, so nothing needs waking.

The price is CPU: while a window is open this process keeps its core fully busy. The window
closes after ``window_us`` without a frame, and the loop sleeps as before.

Three modes (``TIDEGATE_BUSY_POLL``):

- ``adaptive`` (the default): a window opens only while frames come close together, that is
  while the mean gap between frames (an exponentially weighted mean over about the last
  128) is below ``gap_us``, and while each connection's own frames follow each other
  closely, that is while the mean gap between two frames of the same connection is below
  ``conn_gap_us``. A frame that arrives shortly after the previous one would find the loop
  asleep and pay the wake-up; one that arrives after a long pause pays it anyway, and a
  window opened for it would mostly spin for nothing. So a steady trickle (a frame every
  millisecond or more) sleeps between frames as with polling off. The second mean tells
  the exchanges a wake-up slows noticeably from those it does not: a client waiting for
  each answer over one connection or a few sends its next frame within a few hundred
  microseconds, and the ~0.1 ms that wake-ups add to its round trip is a large part of it;
  fifty clients whose frames add up to a fast stream but each wait milliseconds for their
  answers (queued behind one another on their own side) gain a few per cent from polling,
  while the gateway would spin through every pause between their frames.
- ``on``: every frame opens a window (HAProxy's ``busy-polling``): the lowest latency, a
  core kept busy whenever frames come less than a window apart.
- ``off``: the loop always sleeps (no poller at all: ``Gateway.poller`` is None).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Polled(Protocol):
    """What the poller keeps on a connection: when its last frame was seen."""

    polled_at: float


MODES = ("adaptive", "on", "off")
# The defaults (TIDEGATE_BUSY_POLL_US, TIDEGATE_BUSY_POLL_GAP_US, _CONN_GAP_US), chosen from the paced
# measurements in docs/gateway.md "Busy polling" (python -m bench.paced).
BUSY_POLL_US = 200
BUSY_POLL_GAP_US = 250
BUSY_POLL_CONN_GAP_US = 700

# Weight of the newest gap in the mean: about the last 128 frames count (some 60 ms at 1,000
# messages a second, 2,000 frames). The gaps are seen when the loop handles the frames, so a
# loop held up for a moment (the core shared, a slow callback) sees the frames that waited
# as a burst of tiny gaps; with the last eight or 32 frames counting, such bursts in a steady
# 1,000 messages a second opened windows on 5-11 % of the frames, at a third more CPU than
# busy polling off (docs/gateway.md "Busy polling").
GAP_WEIGHT = 1 / 128
# A gap counts at most this many thresholds: after an idle minute, frames that come close
# together bring the mean back below the threshold within about 180 frames (4 × (127/128)¹⁷⁷
# < 1, for gaps near nothing; some 90 back-to-back round trips, tens of milliseconds),
# instead of thousands; a larger cap would pull a slow stream's mean down.
GAP_CAP = 4.0


class BusyPoller:
    """``start()`` on the gateway's event loop, ``touch()`` on each frame (and handshake).

    While a window is open a callback of this poller is always ready to run, so the loop
    polls its sockets with a zero timeout; each pass checks whether a frame came since the
    last one. A plain callback, not a task: it runs on every pass of a busy loop, where a
    task's step would cost several times as much.

    ``touch()`` reads the clock once and updates the mean gap with float arithmetic only; a
    pass reads the clock only when no frame came since the previous pass.
    """

    __slots__ = (
        "mode",
        "window",
        "threshold",
        "ticks",
        "windows",
        "passes",
        "skipped",
        "gap",
        "_cap",
        "_last",
        "_seen",
        "_spinning",
        "_loop",
        "_clock",
        "conn_gap",
        "conn_threshold",
        "_conn_cap",
    )

    def __init__(
        self,
        window_us: int,
        gap_us: int = BUSY_POLL_GAP_US,
        mode: str = "adaptive",
        clock: Callable[[], float] | None = None,
        conn_gap_us: int = BUSY_POLL_CONN_GAP_US,
    ):
        check(mode, window_us, gap_us, conn_gap_us)
        if mode == "off" or not window_us:
            raise ValueError("a BusyPoller polls: with busy polling off the gateway makes none")
        self.mode = mode
        self.window = window_us / 1e6
        # "on": every gap is below an infinite threshold, so every frame opens a window.
        self.threshold = gap_us / 1e6 if mode == "adaptive" else float("inf")
        self._cap = self.threshold * GAP_CAP if mode == "adaptive" else 1.0
        self.conn_threshold = conn_gap_us / 1e6 if mode == "adaptive" else float("inf")
        self._conn_cap = self.conn_threshold * GAP_CAP if mode == "adaptive" else 1.0
        self.ticks = 0
        self.windows = 0  # windows opened: a frame came while the loop slept (/metrics)
        self.passes = 0  # loop passes made polling instead of sleeping (/metrics)
        self.skipped = 0  # frames that found the loop asleep and left it so: too far apart (/metrics)
        self.gap = self._cap  # the mean gap between frames, seconds (/metrics); idle at first
        self.conn_gap = self._conn_cap  # the mean gap between a connection's frames (/metrics)
        self._seen = 0
        self._spinning = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # The loop's own clock has millisecond steps under uvloop; tests pass their own.
        self._clock = clock or time.monotonic
        self._last = self._clock()

    @property
    def parked(self) -> bool:
        """Sleeping with the loop until the next frame (the window has closed)."""
        return not self._spinning

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._last = self._clock()

    def stop(self) -> None:
        self._loop = None  # the next pass ends the window for good

    def touch(self, conn: Polled | None = None) -> None:
        """A frame of ``conn`` (None: a handshake, which counts as its connection's first
        frame, as close to the previous one as frames are overall)."""
        now = self._clock()
        gap = now - self._last
        self._last = now
        self.ticks += 1
        if gap > self._cap:
            gap = self._cap
        self.gap += (gap - self.gap) * GAP_WEIGHT
        if conn is not None:
            own = now - conn.polled_at
            conn.polled_at = now
            if own > self._conn_cap:
                own = self._conn_cap
        else:
            own = gap
        self.conn_gap += (own - self.conn_gap) * GAP_WEIGHT
        if self._spinning or self._loop is None:
            return
        if self.gap < self.threshold and self.conn_gap < self.conn_threshold:
            self._spinning = True
            self.windows += 1
            self._seen = self.ticks
            self._loop.call_soon(self._pass)
        else:
            self.skipped += 1

    def opened(self, conn: Polled) -> None:
        """``conn`` was admitted: its first frame is measured from its handshake (the
        latest frame seen), not counted as a connection's longest gap."""
        conn.polled_at = self._last

    def _pass(self) -> None:
        self.passes += 1
        loop = self._loop
        if loop is None:  # stopped
            self._spinning = False
            return
        if self.ticks != self._seen:  # a frame came: the window runs from it (touch() noted when)
            self._seen = self.ticks
        elif self._clock() - self._last > self.window:
            self._spinning = False
            return
        loop.call_soon(self._pass)


def check(mode: str, window_us: int, gap_us: int, conn_gap_us: int = BUSY_POLL_CONN_GAP_US) -> None:
    """Refuse settings that make no sense, naming the setting (the gateway does not start)."""
    if mode not in MODES:
        raise ValueError(f"TIDEGATE_BUSY_POLL must be one of {', '.join(MODES)}, not {mode!r}")
    if window_us < 0:
        raise ValueError(f"TIDEGATE_BUSY_POLL_US must be 0 (off) or more microseconds, not {window_us}")
    if gap_us <= 0:
        raise ValueError(f"TIDEGATE_BUSY_POLL_GAP_US must be more than 0 microseconds, not {gap_us}")
    if conn_gap_us <= 0:
        raise ValueError(f"TIDEGATE_BUSY_POLL_CONN_GAP_US must be more than 0 microseconds, not {conn_gap_us}")

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

The price is CPU: while frames arrive less than a window apart, this process keeps its core
fully busy. The window closes after ``window_us`` without a frame, and an idle gateway
sleeps as before. Off by default (``TIDEGATE_BUSY_POLL_US=0``), as HAProxy's
``busy-polling`` is: switch it on where the gateway has its cores to itself and latency
matters more than CPU figures (and not where autoscaling reads CPU usage).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class BusyPoller:
    """``start()`` on the gateway's event loop, ``touch()`` on each frame.

    While a window is open a callback of this poller is always ready to run, so the loop
    polls its sockets with a zero timeout; each pass checks whether a frame came since the
    last one. A plain callback, not a task: it runs on every pass of a busy loop, where a
    task's step would cost several times as much.
    """

    __slots__ = ("window", "ticks", "windows", "passes", "_seen", "_quiet_since", "_spinning", "_loop", "_clock")

    def __init__(self, window_us: int, clock: Callable[[], float] | None = None):
        if window_us < 0:
            raise ValueError(f"busy polling takes a window of 0 (off) or more microseconds, not {window_us}")
        self.window = window_us / 1e6
        self.ticks = 0
        self.windows = 0  # windows opened: a frame came while the loop slept
        self.passes = 0  # loop passes made polling instead of sleeping (/metrics)
        self._seen = 0
        self._quiet_since = 0.0
        self._spinning = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # The loop's own clock has millisecond steps under uvloop; tests pass their own.
        self._clock = clock or time.monotonic

    @property
    def parked(self) -> bool:
        """Sleeping with the loop until the next frame (the window has closed)."""
        return not self._spinning

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.touch()

    def stop(self) -> None:
        self._loop = None  # the next pass ends the window for good

    def touch(self) -> None:
        self.ticks += 1
        if not self._spinning and self._loop is not None:
            self._spinning = True
            self.windows += 1
            self._seen, self._quiet_since = self.ticks, self._clock()
            self._loop.call_soon(self._pass)

    def _pass(self) -> None:
        self.passes += 1
        loop = self._loop
        if loop is None:  # stopped
            self._spinning = False
            return
        if self.ticks != self._seen:
            self._seen, self._quiet_since = self.ticks, self._clock()
        elif self._clock() - self._quiet_since > self.window:
            self._spinning = False
            return
        loop.call_soon(self._pass)

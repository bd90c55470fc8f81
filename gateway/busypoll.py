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


class BusyPoller:
    """``touch()`` on each frame; ``run()`` as a task of the gateway's event loop."""

    __slots__ = ("window", "ticks", "_parked")

    def __init__(self, window_us: int):
        if window_us < 0:
            raise ValueError(f"busy polling takes a window of 0 (off) or more microseconds, not {window_us}")
        self.window = window_us / 1e6
        self.ticks = 0
        self._parked: asyncio.Future | None = None

    @property
    def parked(self) -> bool:
        """Sleeping with the loop until the next frame (the window has closed)."""
        return self._parked is not None and not self._parked.done()

    def touch(self) -> None:
        self.ticks += 1
        parked = self._parked
        if parked is not None and not parked.done():
            parked.set_result(None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        clock = time.monotonic  # the loop's own clock has millisecond steps under uvloop
        while True:
            seen, quiet_since = self.ticks, clock()
            while True:
                # One pass of the loop with a zero poll timeout: another task is ready (this one).
                await asyncio.sleep(0)
                if self.ticks != seen:
                    seen, quiet_since = self.ticks, clock()
                elif clock() - quiet_since > self.window:
                    break
            self._parked = loop.create_future()
            try:
                await self._parked
            finally:
                self._parked = None

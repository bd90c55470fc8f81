"""Read your writes at the gateway: a handshake refused only because this gateway has not
yet seen a change (keys, a subscription, a deployment) makes it pull before refusing.

``MissSync`` coalesces those pulls and rate-limits them: every miss waits for a pull that
starts after it was noticed (so a change committed before the handshake is seen), all
misses waiting at that moment share that one pull, and pulls for misses start at most once
per ``min_interval`` seconds, so a flood of refused handshakes cannot hammer the portal.
The clock and the sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

log = logging.getLogger("tidegate.gateway")

# Why a gateway pulled: its timer, a handshake it could not otherwise admit, a push through
# Redis, its start, or the report right after applying a new version (see Gateway.sync_once).
PULL_CAUSES = ("interval", "miss", "push", "start", "confirm")


class MissSync:
    def __init__(
        self,
        pull: Callable[[], Awaitable[bool]],
        *,
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self._pull = pull
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._pending: asyncio.Future[bool] | None = None  # the next pull, not started yet
        self._last_start: float | None = None
        self.pulls = 0

    async def __call__(self) -> bool:
        """Wait for a pull that starts from now on; True if it applied a new version."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().create_task(self._run(self._pending))
        return await asyncio.shield(self._pending)

    async def _run(self, future: asyncio.Future[bool]) -> None:
        changed = False
        try:
            if self._last_start is not None:
                wait = self._last_start + self.min_interval - self._clock()
                if wait > 0:
                    await self._sleep(wait)
            # From here on a new miss waits for the next pull: this one may have been sent
            # before that miss's change was committed.
            self._pending = None
            self._last_start = self._clock()
            self.pulls += 1
            changed = await self._pull()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed pull only means the refusal stands
            log.warning("pull on a handshake miss failed: %s", exc)
        finally:
            if self._pending is future:
                self._pending = None
            if not future.done():
                future.set_result(changed)


class SyncMetrics:
    """``tidegate_sync_pulls_total{cause}`` and ``tidegate_config_apply_seconds`` (the time
    from a change in the portal to this gateway applying it), on the gateway's /metrics."""

    def __init__(self, registry: CollectorRegistry):
        self.pulls = dict.fromkeys(PULL_CAUSES, 0)
        self.misses = 0
        self.apply_seconds = Histogram(
            "tidegate_config_apply_seconds",
            "Seconds from a configuration change in the portal to this gateway applying it",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.last_apply_seconds: float | None = None
        registry.register(self)

    def applied(self, seconds: float) -> None:
        seconds = max(0.0, seconds)  # the portal's clock may be a little ahead
        self.last_apply_seconds = seconds
        self.apply_seconds.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        pulls = CounterMetricFamily(
            "tidegate_sync_pulls", "Snapshot pulls from the portal, by what caused them", labels=["cause"]
        )
        for cause, n in self.pulls.items():
            pulls.add_metric([cause], n)
        yield pulls
        yield CounterMetricFamily(
            "tidegate_sync_misses",
            "Handshakes that asked for a pull before being refused (unknown keys, subscription or API)",
            value=self.misses,
        )

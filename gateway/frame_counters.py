"""The gateway's frame counters: counted per connection, folded into per-minute aggregates,
shipped to the portal's analytics app in batches, and exposed to Prometheus.

The per-frame cost is two attribute increments on the connection record. Every
``interval`` seconds the collector folds what each open connection counted since the last
fold into rows keyed by (minute, API, application, topic, kind, label) and posts them; a
closing connection folds its remainder at once. When the collector cannot be reached,
batches wait in a bounded queue and the oldest are dropped (and counted) when it is full:
relaying never waits for analytics.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway import native
from gateway.payloads import RESULTS
from gateway.registry import Counts

if TYPE_CHECKING:
    from gateway.process import Gateway
    from gateway.registry import LiveConnection

Batch = dict[str, Any]  # one POST to the portal's /internal/gateway/analytics
RowKey = tuple[str, ...]  # (minute, API, application id, application name, topic, kind, label)

log = logging.getLogger("tidegate.gateway")
MAX_QUEUED_BATCHES = 120
LATENCY_SAMPLE_EVERY = 64  # one frame in this many is timed for the relay-latency histogram


@functools.lru_cache(maxsize=4)
def _minute_of(start: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(start))


def _minute(ts: float) -> str:
    return _minute_of(int(ts - ts % 60))


class FrameCounters:
    def __init__(self, gateway: Gateway, *, enabled: bool, url: str, token: str, interval: float):
        self.gateway = gateway
        self.enabled = enabled
        self.url = url
        self.token = token
        self.interval = interval
        self.gateway_id = f"{socket.gethostname()}:{os.getpid()}"
        self._rows: dict[RowKey, list[int]] = {}  # [count, total]
        self._queue: deque[Batch] = deque(maxlen=MAX_QUEUED_BATCHES)
        self.dropped_batches = 0
        # Process-lifetime totals for Prometheus.
        self.frames = {"in": 0, "out": 0}
        self.bytes = {"in": 0, "out": 0}
        self.throttled = {"in": 0, "out": 0}
        self.handshakes: dict[str, int] = {}
        # Messages judged by payload validation: (API id, topic, direction, result) -> count.
        self.validated: dict[tuple[str, str, str, str], int] = {}
        self.registry = CollectorRegistry()
        self.relay_latency = Histogram(
            "tidegate_relay_latency_seconds",
            "Time to hand one frame to the client (sampled)",
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 1.0),
            registry=self.registry,
        )
        self.registry.register(_Metrics(self))

    # -- counting ---------------------------------------------------------------------------
    def _add(
        self, ts: float, conn_key: tuple[str, str, str, str], kind: str, label: str, count: int, total: int
    ) -> None:
        key = (_minute(ts), *conn_key, kind, label)
        row = self._rows.get(key)
        if row is None:
            self._rows[key] = [count, total]
        else:
            row[0] += count
            row[1] += total

    def handshake(self, *, api_id: str, app_id: str, app_name: str, topic: str, status: int, ms: float) -> None:
        self.handshakes[str(status)] = self.handshakes.get(str(status), 0) + 1
        if api_id:
            self._add(time.time(), (api_id, app_id, app_name, topic), "handshake", str(status), 1, int(ms))

    def fold(self, conn: LiveConnection, now: float | None = None) -> None:
        """Move what ``conn`` counted since its last fold into the rows and the totals."""
        now = time.time() if now is None else now
        key = (conn.api_id, conn.app_id or "", conn.app_name, conn.topic)
        for direction in ("in", "out"):
            delta = conn.counted(direction)
            if delta.frames:
                self._add(now, key, "frame", direction, delta.frames, delta.bytes)
                self.frames[direction] += delta.frames
                self.bytes[direction] += delta.bytes
            if delta.throttled:
                self._add(now, key, "frame", f"{direction}-throttled", delta.throttled, 0)
                self.throttled[direction] += delta.throttled
        if conn.payloads is not None:
            for i, (direction, result, n) in enumerate(_validated_pending(conn)):
                if n:
                    conn.validated_reported[i] += n
                    self._add(now, key, "validation", f"{direction}-{result}", n, 0)
                    total = (conn.api_id, conn.topic, direction, result)
                    self.validated[total] = self.validated.get(total, 0) + n

    def closed(self, conn: LiveConnection) -> None:
        self.fold(conn)
        duration_ms = int((time.monotonic() - conn.opened) * 1000)
        key = (conn.api_id, conn.app_id or "", conn.app_name, conn.topic)
        self._add(time.time(), key, "close", str(conn.close_code or 1006), 1, duration_ms)

    # -- shipping ---------------------------------------------------------------------------
    def batch(self) -> Batch:
        for conn in self.gateway.registry.all():
            self.fold(conn)
        rows = [[*key, count, total] for key, (count, total) in self._rows.items()]
        self._rows = {}
        return {
            "gatewayId": self.gateway_id,
            "rows": rows,
            "connections": [conn.describe() for conn in self.gateway.registry.all()],
            "droppedBatches": self.dropped_batches,
        }

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            batch = self.batch()
            if not self.enabled:
                continue
            if len(self._queue) == self._queue.maxlen:
                self.dropped_batches += 1  # the oldest goes: memory stays bounded
            self._queue.append(batch)
            await self._ship()

    async def _ship(self) -> None:
        session = self.gateway.control_session
        while self._queue and session is not None:
            batch = self._queue[0]
            batch["droppedBatches"] = self.dropped_batches
            try:
                async with session.post(
                    self.url,
                    json=batch,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as resp:
                    resp.raise_for_status()
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.debug("analytics collector unreachable, %d batches waiting: %s", len(self._queue), exc)
                return
            self._queue.popleft()


def _validated_pending(conn: LiveConnection) -> Iterator[tuple[str, str, int]]:
    """What payload validation judged on ``conn`` since the counters last took it."""
    for i, n in enumerate(conn.validated):
        yield ("in" if i < 3 else "out"), RESULTS[i % 3], n - conn.validated_reported[i]


class _Metrics:
    """Prometheus metrics read from the gateway's own counters at scrape time, so relaying
    pays nothing for them."""

    def __init__(self, counters: FrameCounters):
        self.c = counters

    def collect(self) -> Iterator[Metric]:
        gw = self.c.gateway
        yield GaugeMetricFamily("tidegate_open_connections", "WebSocket connections open now", value=len(gw.registry))
        handshakes = CounterMetricFamily("tidegate_handshakes", "Handshakes by HTTP status", labels=["status"])
        for status, n in sorted(self.c.handshakes.items()):
            handshakes.add_metric([status], n)
        yield handshakes
        live = {"in": Counts(), "out": Counts()}
        for conn in gw.registry.all():
            for direction, total in live.items():
                pending = conn.pending(direction)
                total.frames += pending.frames
                total.bytes += pending.bytes
                total.throttled += pending.throttled
        for name, doc, source, field in (
            ("tidegate_frames", "Frames relayed", self.c.frames, "frames"),
            ("tidegate_bytes", "Payload bytes relayed", self.c.bytes, "bytes"),
            ("tidegate_throttled_frames", "Frames dropped by rate limits", self.c.throttled, "throttled"),
        ):
            family = CounterMetricFamily(name, doc, labels=["direction"])
            for direction in ("in", "out"):
                family.add_metric([direction], source[direction] + getattr(live[direction], field))
            yield family
        validated = dict(self.c.validated)
        for conn in gw.registry.all():
            if conn.payloads is not None:
                for direction, result, n in _validated_pending(conn):
                    if n:
                        key = (conn.api_id, conn.topic, direction, result)
                        validated[key] = validated.get(key, 0) + n
        family = CounterMetricFamily(
            "tidegate_messages_validated",
            "Messages judged by payload validation (in: from clients, out: from backends)",
            labels=["api", "topic", "direction", "result"],
        )
        for labels, n in sorted(validated.items()):
            family.add_metric(list(labels), n)
        yield family
        snap = gw.state.snapshot if gw.state else None
        yield GaugeMetricFamily(
            "tidegate_snapshot_version", "Version of the configuration served", value=snap.version if snap else 0
        )
        yield GaugeMetricFamily(
            "tidegate_snapshot_age_seconds",
            "Seconds since the snapshot was last confirmed",
            value=time.time() - gw.synced_at if gw.synced_at else -1,
        )
        poller = gw.poller
        if poller is not None:
            yield CounterMetricFamily(
                "tidegate_busy_poll_windows", "Busy-polling windows opened by a frame", value=poller.windows
            )
            yield CounterMetricFamily(
                "tidegate_busy_poll_passes", "Loop passes made polling instead of sleeping", value=poller.passes
            )
            yield GaugeMetricFamily(
                "tidegate_busy_polling", "1 while a busy-polling window is open", value=0 if poller.parked else 1
            )
            # Why adaptive polling opened windows or not: frames it let sleep, the mean gap
            # between frames it judges by, and the threshold that gap must be below.
            yield CounterMetricFamily(
                "tidegate_busy_poll_skipped",
                "Frames that found the loop asleep and left it asleep (further apart than the threshold)",
                value=poller.skipped,
            )
            yield GaugeMetricFamily(
                "tidegate_busy_poll_frame_gap_seconds", "Mean gap between recent frames", value=poller.gap
            )
            yield GaugeMetricFamily(
                "tidegate_busy_poll_gap_threshold_seconds",
                "Windows open only while the mean gap is below this (+Inf: busy polling on)",
                value=poller.threshold,
            )
            yield GaugeMetricFamily(
                "tidegate_busy_poll_connection_gap_seconds",
                "Mean gap between two recent frames of the same connection",
                value=poller.conn_gap,
            )
            yield GaugeMetricFamily(
                "tidegate_busy_poll_connection_gap_threshold_seconds",
                "Windows open only while the mean gap between a connection's frames is below this (+Inf: busy polling on)",
                value=poller.conn_threshold,
            )
        yield GaugeMetricFamily(
            "tidegate_gateway_compiled",
            "1 when the per-frame modules run compiled (make compile), 0 when from source",
            value=1 if native.compiled() else 0,
        )
        yield GaugeMetricFamily(
            "tidegate_analytics_pending_batches",
            "Analytics batches waiting for the collector",
            value=len(self.c._queue),
        )
        yield CounterMetricFamily(
            "tidegate_analytics_dropped_batches",
            "Analytics batches dropped (collector away)",
            value=self.c.dropped_batches,
        )

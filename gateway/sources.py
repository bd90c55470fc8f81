"""Where the one ``Gateway`` gets what it enforces: a snapshot source.

A source answers ``fetch`` with what it has now (``NewSnapshot``, ``Current``, ``Refused``)
and, in ``watch``, notices changes on its own and asks the gateway to sync. The gateway
applies what it is given the same way whatever the source.

- ``PortalSource``: pulls ``GET /internal/gateway/snapshot`` from the portal (full snapshots
  or deltas, conditional on the version held), and syncs at once on a push through the
  Channels layer (Redis) when there is one.
- ``gateway.standalone.ArchiveSource``: standalone mode, the API project archives deployed
  to the gateway's adapter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from gateway.config import GatewayConfig
from gateway.sync import SyncMetrics
from gateway_contract.deltas import snapshot_apply
from gateway_contract.snapshot import Snapshot, snapshot_from_dict, snapshot_to_dict
from gateway_contract.wire import (
    CONFIG_GROUP,
    GATEWAY_HEADER,
    INTERVAL_HEADER,
    SNAPSHOT_PATH,
    VERSION_TIME_HEADER,
    snapshot_etag,
)

log = logging.getLogger("tidegate.gateway")

Sync = Callable[[str], Awaitable[bool]]  # Gateway.sync_once: fetch and apply, for a cause


@dataclass(frozen=True, slots=True)
class NewSnapshot:
    """A version the gateway does not hold yet."""

    snapshot: Snapshot
    # Applied to the snapshot held: the gateway keeps its routes, keys and token cache.
    delta: bool = False
    raw: dict[str, Any] | None = None  # the JSON to keep on disk as received (None: the snapshot's)
    version_time: float | None = None  # when the source made this version (seconds since the epoch)


@dataclass(frozen=True, slots=True)
class Current:
    """What the gateway holds is what the source has."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The source answered but refused this gateway: a setting disagrees between the two."""

    status: int
    reason: str


Fetched = NewSnapshot | Current | Refused | None  # None: not fetched (the gateway is stopping)


class SnapshotSource(Protocol):
    name: str  # /health's snapshotSource once something was fetched
    confirms: bool  # fetch again right after applying a new version (the source learns it)
    may_lag: bool  # a handshake refusal may be for a change not fetched yet: fetch first
    push_connected: bool

    async def open(self, session: aiohttp.ClientSession) -> None: ...

    async def fetch(self, held: Snapshot | None, cause: str) -> Fetched:
        """What the source has now. Errors it cannot read (a failed request, a misshapen
        answer) are raised; the gateway keeps serving what it holds."""
        ...

    async def watch(self, sync: Sync) -> None:
        """Runs for the gateway's life, calling ``sync(cause)`` when a change may be there."""
        ...


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


# The portal's answers that no retry will change: the two sides' settings disagree. Pulls
# then come every REFUSED_RETRY seconds until it answers otherwise.
REFUSED_RETRY = 2.0
PORTAL_REFUSALS = {
    400: (
        "the portal does not accept the host name in TIDEGATE_PORTAL_URL ({portal_url}): add that host to "
        "the portal's TIDEGATE_ALLOWED_HOSTS, or point TIDEGATE_PORTAL_URL at a host name it allows"
    ),
    401: (
        "the portal does not accept this gateway's TIDEGATE_GATEWAY_TOKEN: it must be the same in the "
        "portal's environment and the gateway's"
    ),
}


class PortalSource:
    """The portal: pulled every ``sync_interval`` with the version held, pushed through Redis."""

    name = "portal"
    confirms = True
    may_lag = True

    def __init__(self, config: GatewayConfig, *, gateway_id: str, metrics: SyncMetrics):
        self.portal_url = config.portal_url.rstrip("/")
        self.token = config.token
        self.environments = list(config.environments)
        self.interval = config.sync_interval
        self.gateway_id = gateway_id
        self.metrics = metrics
        self.session: aiohttp.ClientSession | None = None
        self.push_connected = False
        self.refused = False  # the last answer was a refusal: pull less often

    async def open(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def fetch(self, held: Snapshot | None, cause: str) -> Fetched:
        self.metrics.pulls[cause] = self.metrics.pulls.get(cause, 0) + 1
        headers = {
            "Authorization": f"Bearer {self.token}",
            # The version held (If-None-Match) reaches the portal with these: what this
            # gateway enforces, and how often it asks (the portal's notion of "reported lately").
            GATEWAY_HEADER: self.gateway_id,
            INTERVAL_HEADER: str(self.interval),
        }
        params = {"environments": ",".join(self.environments)}
        if held is not None:
            headers["If-None-Match"] = snapshot_etag(held.version)
            params["since"] = str(held.version)
        if self.session is None:  # stopped
            return None
        self.refused = False
        async with self.session.get(
            f"{self.portal_url}{SNAPSHOT_PATH}", params=params, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            if resp.status == 304:
                # What we hold is current: the portal answered, and what we serve is
                # what it has (a snapshot loaded from disk included).
                return Current()
            if resp.status in PORTAL_REFUSALS:
                self.refused = True
                return Refused(resp.status, PORTAL_REFUSALS[resp.status].format(portal_url=self.portal_url))
            resp.raise_for_status()
            data = await resp.json()
            version_time = _float_or_none(resp.headers.get(VERSION_TIME_HEADER))
        if "deltas" in data and held is not None and data.get("since") == held.version:
            # Small changes, applied to what we hold.
            snapshot = snapshot_apply(held, data["deltas"], int(data["version"]))
            return NewSnapshot(snapshot, delta=True, raw=snapshot_to_dict(snapshot), version_time=version_time)
        return NewSnapshot(snapshot_from_dict(data), raw=data, version_time=version_time)

    async def watch(self, sync: Sync) -> None:
        await asyncio.gather(self._pull_loop(sync), self._push_loop(sync))

    async def _pull_loop(self, sync: Sync) -> None:
        while True:
            # Refused for a setting that disagrees: no retry soon will change that, so ask
            # (and fill the portal's log) every few seconds, not four times a second.
            await asyncio.sleep(max(self.interval, REFUSED_RETRY) if self.refused else self.interval)
            await sync("interval")

    async def _push_loop(self, sync: Sync) -> None:
        """With a Channels layer (Redis), fetch the snapshot as soon as the portal says it
        changed. Any failure falls back to the periodic pull and is retried."""
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        while True:
            try:
                channel = await layer.new_channel()
                await layer.group_add(CONFIG_GROUP, channel)
                self.push_connected = True
                log.info("receiving configuration pushes through the channel layer")
                while True:
                    await layer.receive(channel)
                    await sync("push")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: keep pulling, try again
                if self.push_connected:
                    log.warning("configuration push unavailable, pulling every %.2f s: %s", self.interval, exc)
                self.push_connected = False
                await asyncio.sleep(2)

"""The gateway process: its current ``State``, the source it gets snapshots from (the portal,
or archives in standalone mode: gateway/sources.py), the test-key issuer, and the tasks that
keep the snapshot current."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import ssl
import time
from typing import Any

import aiohttp
from joserfc.errors import JoseError

from gateway.accesslog import ACCESS
from gateway.backend_jwt import BackendJwtSigner
from gateway.busypoll import BusyPoller
from gateway.config import GatewayConfig
from gateway.decisions import State
from gateway.frame_counters import FrameCounters
from gateway.jwks import JwksCache
from gateway.ratelimit import CounterBackend, InMemoryCounters
from gateway.registry import SHUTTING_DOWN, Registry
from gateway.sources import Current, NewSnapshot, PortalSource, Refused, SnapshotSource
from gateway.sync import MissSync, SyncMetrics
from gateway.testkey import TestKeyIssuer
from gateway.tickets import Tickets
from gateway_contract.datadir import write_private_file
from gateway_contract.snapshot import Snapshot, snapshot_from_dict, snapshot_to_dict

log = logging.getLogger("tidegate.gateway")


def settle_heap() -> None:
    """Once started, move everything loaded so far (Django, the libraries, the first
    snapshot) out of the garbage collector's sight. Full collections otherwise walk those
    hundreds of thousands of objects again and again while connections come and go: with
    them, handshakes paused for tens of milliseconds at p99 and the gateway spent about 15 %
    more CPU per handshake (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


def _counters(redis_url: str, fixed_time: float | None = None, share: tuple[int, int] = (0, 1)) -> CounterBackend:
    """Shared counters through Redis when it is configured, else this process's own (its
    ``share`` of each limit when it is one of several workers; so too while Redis is
    unreachable); on the wall clock, or at
    ``fixed_time`` (TIDEGATE_RATE_LIMIT_CLOCK, for tests)."""
    clock = time.time if fixed_time is None else (lambda: fixed_time)
    if not redis_url:
        return InMemoryCounters(clock, share)
    from gateway.redis_counters import RedisCounters

    return RedisCounters(redis_url, clock=clock, share=share)


class Gateway:
    """One gateway process, built from its ``GatewayConfig`` (read from settings once) and
    fed by a ``SnapshotSource``: the portal unless another is given (standalone mode's
    archives)."""

    def __init__(self, config: GatewayConfig, source: SnapshotSource | None = None):
        self.config = config
        self.portal_url = config.portal_url.rstrip("/")
        self.environments = list(config.environments)
        self.testkey = TestKeyIssuer(
            issuer=config.testkey_issuer,
            key_path=config.testkey_path,
            users=config.testkey_users,
            validity=config.token_validity,
        )
        # Signs the backend JWT of APIs that send one; its public key is at /.well-known/jwks.json.
        self.backend_jwt = BackendJwtSigner(key_path=config.backend_jwt_key_path, issuer=config.backend_jwt_issuer)
        self.max_frame_size = config.max_frame_size
        self.connect_timeout = config.connect_timeout
        self.drain_seconds = config.drain_seconds
        self.idle_timeout = config.idle_timeout
        self.max_lifetime = config.max_lifetime
        self.token_leeway = config.token_leeway
        self.poller = (
            BusyPoller(
                config.busy_poll_us, config.busy_poll_gap_us, config.busy_poll, conn_gap_us=config.busy_poll_conn_gap_us
            )
            if config.busy_poll != "off" and config.busy_poll_us
            else None
        )
        self.state: State | None = None
        self.registry = Registry()
        self.jwks = JwksCache(min_interval=config.jwks_min_refresh)
        self.frame_counters = FrameCounters(
            self,
            enabled=config.analytics,
            url=config.analytics_url or f"{self.portal_url}/internal/gateway/analytics",
            token=config.token,
            interval=config.analytics_interval,
        )
        self._analytics_task: asyncio.Task[None] | None = None
        self.snapshot_source = ""  # the source's name ("portal", "archives"), or "disk"
        self.last_update = ""  # "full" or "delta"
        self.snapshot_path = config.snapshot_path
        self._sync_lock = asyncio.Lock()
        self.rate_counters = _counters(config.redis_url, config.rate_limit_clock, (config.worker_index, config.workers))
        # Connect tickets (POST /tickets, ?ticket=): shared through Redis when it is configured.
        self.tickets = Tickets.build(config.redis_url, config.ticket_validity, config.tickets_per_token)
        self.draining = False
        # The portal (pulls, analytics) and issuers' JWKS: kept-alive connections, so polling the
        # snapshot four times a second does not open (and leave in TIME_WAIT) a TCP connection each time.
        self.control_session: aiohttp.ClientSession | None = None
        # Backend legs (gateway/upstream.py) over wss verify against the system's CAs.
        self.backend_ssl: ssl.SSLContext | None = None
        self.synced_at: float | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self._sync_failing = False
        # Why the source refuses this gateway (a setting that disagrees), or None.
        self.control_plane_error: str | None = None
        # Read your writes: a handshake refused for something this gateway may not have seen
        # yet pulls first (coalesced, at most one such pull per miss_sync_interval).
        self.sync_metrics = SyncMetrics(self.frame_counters.registry)
        self.miss_sync = MissSync(lambda: self.sync_once(cause="miss"), min_interval=config.miss_sync_interval)
        self.source: SnapshotSource = (
            source
            if source is not None
            else PortalSource(config, gateway_id=self.gateway_id, metrics=self.sync_metrics)
        )

    @property
    def gateway_id(self) -> str:
        """How this process names itself to the portal (host:pid), in pulls and analytics."""
        return self.frame_counters.gateway_id

    @classmethod
    def from_settings(cls) -> Gateway:
        return cls(GatewayConfig.from_settings())

    def _running(self) -> bool:
        return self._watch_task is not None

    async def ensure_started(self) -> None:
        if self._running():
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._running():  # another request started it while this one waited
                return
            self.control_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit_per_host=4, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=30, connect=self.connect_timeout),
            )
            await self.source.open(self.control_session)
            await self.sync_once(cause="start")
            if self.state is None:
                self.load_from_disk()
            self._watch_task = asyncio.create_task(self.source.watch(self.sync_once))
            self._sweep_task = asyncio.create_task(self._sweep_loop())  # token expiry, idle, lifetime
            self._analytics_task = asyncio.create_task(self.frame_counters.run())  # ships when enabled
            self.started()

    def started(self) -> None:
        """The last step of starting, in either mode: busy polling when configured, then the
        start-up heap frozen."""
        if self.poller is not None:
            self.poller.start()
        settle_heap()

    async def stop(self) -> None:
        ACCESS.flush()
        for task in (self._watch_task, self._sweep_task, self._analytics_task):
            if task:
                task.cancel()
        self._watch_task = self._sweep_task = self._analytics_task = None
        if self.poller is not None:
            self.poller.stop()
        if self.control_session:
            await self.control_session.close()
        self.control_session = None

    async def sync_once(self, cause: str = "interval") -> bool:
        """Fetch from the source and apply what is new; keep serving the last snapshot on any
        failure. Pulls, pushes, misses and deploys to the adapter all land here, one at a time,
        so an older answer never replaces a newer one. Once a new version is applied, a source
        that ``confirms`` is asked once more (a conditional pull): the portal then learns at
        once which version this gateway enforces, and a deploy that waits for gateways
        (``deploy-revision?wait=true``) need not wait for the next pull."""
        async with self._sync_lock:
            changed = await self._sync_once(cause)
            if changed and self.state is not None and self.source.confirms:
                await self._sync_once("confirm")
            return changed

    async def sync_on_miss(self) -> bool:
        """A handshake is about to be refused for something this gateway may not know yet:
        wait for a pull that starts after now (shared with concurrent misses, rate-limited);
        True if it applied a new version. False at once from a source that is always current."""
        if not self.source.may_lag:
            return False
        self.sync_metrics.misses += 1
        return await self.miss_sync()

    async def _sync_once(self, cause: str) -> bool:
        try:
            fetched = await self.source.fetch(self.state.snapshot if self.state else None, cause)
            if isinstance(fetched, NewSnapshot):
                if fetched.delta and self.state is not None:
                    state = self.state.with_snapshot(fetched.snapshot)  # routes, keys and token cache stay
                else:
                    state = self.build_state(fetched.snapshot)
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError, JoseError) as exc:
            if not self._sync_failing or self.control_plane_error:
                log.warning("snapshot sync failed, serving the last known configuration: %s", exc)
            self._sync_failing = True
            self.control_plane_error = None
            return False
        if fetched is None:  # stopped
            return False
        if isinstance(fetched, Current):
            # The source answered, and what we serve is what it has (a snapshot loaded from
            # disk included).
            self.synced_at = time.time()
            self.snapshot_source = self.source.name
            self._recovered()
            return False
        if isinstance(fetched, Refused):
            self._source_refused(fetched)
            return False
        self.last_update = "delta" if fetched.delta else "full"
        self._save(fetched.raw if fetched.raw is not None else snapshot_to_dict(fetched.snapshot))
        self.snapshot_source = self.source.name
        applied = await self._apply(state)
        if fetched.version_time is not None:
            self.sync_metrics.applied(time.time() - fetched.version_time)
        return applied

    def build_state(self, snapshot: Snapshot) -> State:
        """A full snapshot plus this gateway's own trust: its /testkey issuer and JWKS cache."""
        return State.build(
            snapshot, extra_issuers=[self.testkey.issuer_config()], remote_keys=self.jwks, leeway=self.token_leeway
        )

    def _save(self, data: dict[str, Any]) -> None:
        """Keep the last good snapshot on disk, to start from when the portal is away."""
        if self.snapshot_path is None:
            return
        try:
            self.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
            write_private_file(self.snapshot_path, json.dumps(data))
        except OSError as exc:
            log.warning("could not keep the snapshot on disk: %s", exc)

    def load_from_disk(self) -> bool:
        """Serve the snapshot kept on disk (the portal is unreachable at start)."""
        if self.snapshot_path is None or not self.snapshot_path.exists():
            return False
        try:
            data = json.loads(self.snapshot_path.read_text())
            self.state = self.build_state(snapshot_from_dict(data))
        except (OSError, ValueError, KeyError, TypeError, JoseError) as exc:
            log.warning("the snapshot on disk is unusable: %s", exc)
            return False
        self.snapshot_source = "disk"
        log.warning(
            "portal unreachable: serving snapshot version %s from %s", self.state.snapshot.version, self.snapshot_path
        )
        return True

    def _recovered(self) -> None:
        if self._sync_failing:
            log.info("snapshot sync recovered")
        self._sync_failing = False
        self.control_plane_error = None

    def _source_refused(self, refused: Refused) -> None:
        """The portal answered but refused this gateway: a setting disagrees between the two.
        Said once (naming the settings), not at every pull; /health tells it meanwhile."""
        if refused.reason != self.control_plane_error:
            log.error("the portal refused this gateway's snapshot pull (HTTP %s): %s", refused.status, refused.reason)
        self._sync_failing = True
        self.control_plane_error = refused.reason

    async def _apply(self, state: State) -> bool:
        self._recovered()
        previous = self.state.snapshot.version if self.state else None
        self.state = state
        self.synced_at = time.time()
        log.info(
            "snapshot version %s applied (was %s): %d APIs", state.snapshot.version, previous, len(state.snapshot.apis)
        )
        # Live enforcement: every open connection is judged again against what changed.
        verdicts = self.registry.verdicts(state)
        if verdicts:
            await self.registry.close_all(verdicts)
        return True

    async def refresh_issuer(self, issuer: str) -> bool:
        """Fetch an external issuer's keys again (rate-limited); True if they changed."""
        config = self.state.verifier.issuers.get(issuer) if self.state else None
        if config is None or not config[0].jwks_url or self.control_session is None:
            return False
        return await self.jwks.refresh(self.control_session, issuer, config[0].jwks_url)

    async def _sweep_loop(self) -> None:
        """Four times a second: close connections whose token expired (4001), idle or too old (1001)."""
        while True:
            await asyncio.sleep(0.25)
            expired = self.registry.expired(
                time.time(), idle_timeout=self.idle_timeout, max_lifetime=self.max_lifetime, leeway=self.token_leeway
            )
            if expired:
                await self.registry.close_all(expired)

    async def drain(self) -> None:
        """Stop accepting, then close open connections with 1001 in batches spread over
        ``drain_seconds``, so clients do not all reconnect at the same instant."""
        self.draining = True
        connections = self.registry.all()
        if not connections:
            return
        batches = max(1, min(len(connections), int(self.drain_seconds * 10)))
        size = -(-len(connections) // batches)
        pause = self.drain_seconds / batches if batches > 1 else 0
        log.info("draining %d connections over %.1f s", len(connections), self.drain_seconds)
        for start in range(0, len(connections), size):
            await self.registry.close_all([(c, SHUTTING_DOWN) for c in connections[start : start + size]])
            if pause:
                await asyncio.sleep(pause)

    def health(self) -> dict[str, Any]:
        snap = self.state.snapshot if self.state else None
        return {
            "status": "UP" if snap else "STARTING",
            "snapshotVersion": snap.version if snap else None,
            "snapshotAgeSeconds": round(time.time() - self.synced_at, 3) if self.synced_at else None,
            "controlPlaneReachable": not self._sync_failing,
            "controlPlaneError": self.control_plane_error,
            "snapshotSource": self.snapshot_source,
            "lastUpdate": self.last_update,
            "pushConnected": self.source.push_connected,
            "apis": len(snap.apis) if snap else 0,
            "openConnections": len(self.registry),
            "tasks": len(asyncio.all_tasks()),
            "draining": self.draining,
            "environments": self.environments,
        }

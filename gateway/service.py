"""One gateway process: its current ``State``, the backend HTTP session, the test-key
issuer, and the loop that keeps the snapshot current."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from pathlib import Path

import aiohttp
from django.conf import settings
from joserfc.errors import JoseError

from gateway.analytics import Collector
from gateway.decisions import State
from gateway.jwks import JwksCache
from gateway.ratelimit import CounterBackend, InMemoryCounters
from gateway.registry import Registry
from gateway.testkey import TestKeyIssuer
from gateway_sync.snapshot import snapshot_from_dict

log = logging.getLogger("tidegate.gateway")


def _counters(redis_url: str) -> CounterBackend:
    """Shared counters through Redis when it is configured, else this process's own."""
    if not redis_url:
        return InMemoryCounters()
    from gateway.redis_counters import RedisCounters

    return RedisCounters(redis_url)


class Gateway:
    def __init__(
        self,
        *,
        portal_url: str,
        token: str,
        environments: list[str],
        interval: float,
        testkey: TestKeyIssuer,
        max_frame_size: int,
        connect_timeout: float,
        drain_seconds: float = 5.0,
        idle_timeout: float = 0,
        max_lifetime: float = 0,
        counters: CounterBackend | None = None,
        jwks_min_refresh: float = 30.0,
        analytics: bool = True,
        analytics_url: str = "",
        analytics_interval: float = 5.0,
    ):
        self.portal_url = portal_url.rstrip("/")
        self.token = token
        self.environments = environments
        self.interval = interval
        self.testkey = testkey
        self.max_frame_size = max_frame_size
        self.connect_timeout = connect_timeout
        self.drain_seconds = drain_seconds
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.state: State | None = None
        self.registry = Registry()
        self.jwks = JwksCache(min_interval=jwks_min_refresh)
        self.analytics = Collector(
            self,
            enabled=analytics,
            url=analytics_url or f"{self.portal_url}/internal/gateway/analytics",
            token=token,
            interval=analytics_interval,
        )
        self._analytics_task: asyncio.Task | None = None
        self.counters = counters or InMemoryCounters()
        self.draining = False
        self.session: aiohttp.ClientSession | None = None
        self.backend_ssl: ssl.SSLContext | bool = True
        self.synced_at: float | None = None
        self._sync_task: asyncio.Task | None = None
        self._sweep_task: asyncio.Task | None = None
        self._start_lock: asyncio.Lock | None = None
        self._sync_failing = False

    @classmethod
    def from_settings(cls) -> Gateway:
        conf = settings.TIDEGATE
        return cls(
            portal_url=conf["PORTAL_URL"],
            token=conf["GATEWAY_TOKEN"],
            environments=conf["GATEWAY_ENVIRONMENTS"],
            interval=conf["SYNC_INTERVAL"],
            testkey=TestKeyIssuer(
                issuer=conf["TESTKEY_ISSUER"],
                key_path=Path(settings.DATA_DIR) / "gateway" / "testkey-jwk.json",
                users=conf["TESTKEY_USERS"],
                validity=conf["TOKEN_VALIDITY"],
            ),
            max_frame_size=conf["MAX_FRAME_SIZE"],
            connect_timeout=conf["BACKEND_CONNECT_TIMEOUT"],
            drain_seconds=conf["DRAIN_SECONDS"],
            idle_timeout=conf["IDLE_TIMEOUT"],
            max_lifetime=conf["MAX_CONNECTION_LIFETIME"],
            counters=_counters(conf["REDIS_URL"]),
            jwks_min_refresh=conf["JWKS_MIN_REFRESH"],
            analytics=conf["ANALYTICS"],
            analytics_url=conf["ANALYTICS_URL"],
            analytics_interval=conf["ANALYTICS_INTERVAL"],
        )

    async def ensure_started(self) -> None:
        if self._sync_task is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._sync_task is not None:
                return
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self.connect_timeout, sock_connect=self.connect_timeout
                ),
            )
            await self.sync_once()
            self._sync_task = asyncio.create_task(self._sync_loop())
            self._sweep_task = asyncio.create_task(self._sweep_loop())
            self._analytics_task = asyncio.create_task(self.analytics.run())

    async def stop(self) -> None:
        for task in (self._sync_task, self._sweep_task, self._analytics_task):
            if task:
                task.cancel()
        self._sync_task = self._sweep_task = self._analytics_task = None
        if self.session:
            await self.session.close()
            self.session = None

    async def sync_once(self) -> bool:
        """Fetch the snapshot if its version moved; keep serving the last one on any failure."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.state is not None:
            headers["If-None-Match"] = f'"{self.state.snapshot.version}"'
        url = f"{self.portal_url}/internal/gateway/snapshot"
        try:
            async with self.session.get(
                url,
                params={"environments": ",".join(self.environments)},
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                if resp.status == 304:
                    self.synced_at = time.time()
                    return False
                resp.raise_for_status()
                data = await resp.json()
            state = State.build(
                snapshot_from_dict(data), extra_issuers=[self.testkey.issuer_config()], remote_keys=self.jwks
            )
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError, JoseError) as exc:
            if not self._sync_failing:
                log.warning("snapshot sync failed, serving the last known configuration: %s", exc)
            self._sync_failing = True
            return False
        if self._sync_failing:
            log.info("snapshot sync recovered")
        self._sync_failing = False
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

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sync_once()

    async def refresh_issuer(self, issuer: str) -> bool:
        """Fetch an external issuer's keys again (rate-limited); True if they changed."""
        config = self.state.verifier.issuers.get(issuer) if self.state else None
        if config is None or not config[0].jwks_url:
            return False
        return await self.jwks.refresh(self.session, issuer, config[0].jwks_url)

    async def _sweep_loop(self) -> None:
        """Four times a second: close connections whose token expired (4001), idle or too old (1001)."""
        while True:
            await asyncio.sleep(0.25)
            expired = self.registry.expired(time.time(), idle_timeout=self.idle_timeout, max_lifetime=self.max_lifetime)
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
            await self.registry.close_all(
                [(c, 1001, "Gateway shutting down") for c in connections[start : start + size]]
            )
            if pause:
                await asyncio.sleep(pause)

    def health(self) -> dict:
        snap = self.state.snapshot if self.state else None
        return {
            "status": "UP" if snap else "STARTING",
            "snapshotVersion": snap.version if snap else None,
            "snapshotAgeSeconds": round(time.time() - self.synced_at, 3) if self.synced_at else None,
            "controlPlaneReachable": not self._sync_failing,
            "apis": len(snap.apis) if snap else 0,
            "openConnections": len(self.registry),
            "tasks": len(asyncio.all_tasks()),
            "draining": self.draining,
            "environments": self.environments,
        }

"""What one gateway process is configured with, read from ``settings.TIDEGATE`` once.

``Gateway`` (gateway/process.py) is built from a ``GatewayConfig``; tests and standalone
mode make one with ``dataclasses.replace``. The settings are described in docs/gateway.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.busypoll import BUSY_POLL_CONN_GAP_US, BUSY_POLL_GAP_US, BUSY_POLL_US
from gateway.busypoll import check as check_busy_poll
from gateway.tickets import DEFAULT_VALIDITY, MAX_TICKET_VALIDITY, MAX_TICKETS_PER_TOKEN

# Set by ``rungateway --workers N``'s supervisor (gateway/workers.py) for each worker.
WORKER_INDEX_ENV = "TIDEGATE_WORKER_INDEX"
WORKER_COUNT_ENV = "TIDEGATE_WORKER_COUNT"
WORKER_DIR_ENV = "TIDEGATE_WORKER_DIR"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    # The control plane.
    portal_url: str
    token: str  # TIDEGATE_GATEWAY_TOKEN, shared with the portal
    testkey_path: Path  # the /testkey issuer's signing key (JWK), made on first run
    environments: tuple[str, ...] = ("Default",)
    sync_interval: float = 0.25  # seconds between snapshot pulls
    miss_sync_interval: float = 0.1  # at most one read-your-writes pull per this many seconds
    snapshot_path: Path | None = None  # the last good snapshot, kept to start from
    # The test-key issuer (POST /testkey).
    testkey_issuer: str = "https://localhost:9095/testkey"
    testkey_users: str = ""
    token_validity: int = 3600
    # The backend JWT (gateway/backend_jwt.py): its signing key (a JWK, made on first run;
    # None: one of this process's own) and its issuer.
    backend_jwt_key_path: Path | None = None
    backend_jwt_issuer: str = "wso2.org/products/am"
    # Tokens.
    token_leeway: float = 0  # seconds of clock skew on exp and nbf, everywhere (tokens.py)
    jwks_min_refresh: float = 30.0
    # Connections.
    max_frame_size: int = 1024 * 1024
    connect_timeout: float = 5.0
    drain_seconds: float = 5.0
    idle_timeout: float = 0
    max_lifetime: float = 0
    # Busy polling (gateway/busypoll.py): the mode, the window after a frame (µs; 0: off) and,
    # adaptive, the mean gaps between frames and between a connection's own frames (µs)
    # below which windows open.
    busy_poll: str = "adaptive"
    busy_poll_us: int = BUSY_POLL_US
    busy_poll_gap_us: int = BUSY_POLL_GAP_US
    busy_poll_conn_gap_us: int = BUSY_POLL_CONN_GAP_US
    redis_url: str = ""  # shared rate-limit counters; empty: this process's own
    ticket_validity: float = DEFAULT_VALIDITY  # seconds a connect ticket (POST /tickets) may wait for its handshake
    tickets_per_token: int = MAX_TICKETS_PER_TOKEN  # tickets one token is given per 30 s (tickets.py)
    rate_limit_clock: float | None = None  # tests only (debug): rate-limit windows at this fixed time
    # rungateway --workers N: this process is worker ``worker_index`` of ``workers``. Without
    # Redis, each enforces its share of every rate limit (gateway/ratelimit.py, limit_share).
    workers: int = 1
    worker_index: int = 0
    # Frame counters shipped to the portal's analytics app.
    analytics: bool = True
    analytics_url: str = ""  # empty: the portal's /internal/gateway/analytics
    analytics_interval: float = 5.0

    def __post_init__(self) -> None:
        check_busy_poll(self.busy_poll, self.busy_poll_us, self.busy_poll_gap_us, self.busy_poll_conn_gap_us)
        if not 0 < self.ticket_validity <= MAX_TICKET_VALIDITY:  # also refuses NaN
            raise ValueError(
                f"TIDEGATE_TICKET_VALIDITY must be more than 0 and at most {MAX_TICKET_VALIDITY:g} seconds, "
                f"not {self.ticket_validity:g}"
            )
        if self.tickets_per_token < 1:
            raise ValueError(f"TIDEGATE_TICKETS_PER_TOKEN must be 1 or more, not {self.tickets_per_token}")

    @classmethod
    def from_settings(cls, conf: dict[str, Any] | None = None, data_dir: Path | None = None) -> GatewayConfig:
        """The gateway's part of ``settings.TIDEGATE`` (and where it keeps its files)."""
        if conf is None or data_dir is None:
            from django.conf import settings

            # Read as Any, field by field below: django-stubs types settings.TIDEGATE as the
            # union of all its values.
            tidegate: dict[str, Any] = settings.TIDEGATE
            conf = tidegate if conf is None else conf
            data_dir = Path(settings.DATA_DIR) if data_dir is None else data_dir
        environments = tuple(conf["GATEWAY_ENVIRONMENTS"])
        return cls(
            portal_url=conf["PORTAL_URL"],
            token=conf["GATEWAY_TOKEN"],
            environments=environments,
            sync_interval=conf["SYNC_INTERVAL"],
            miss_sync_interval=conf["MISS_SYNC_INTERVAL"],
            snapshot_path=data_dir / "gateway" / f"snapshot-{'+'.join(environments)}.json",
            testkey_issuer=conf["TESTKEY_ISSUER"],
            testkey_path=data_dir / "gateway" / "testkey-jwk.json",
            testkey_users=conf["TESTKEY_USERS"],
            token_validity=conf["TOKEN_VALIDITY"],
            backend_jwt_key_path=data_dir / "gateway" / "backend-jwt-jwk.json",
            backend_jwt_issuer=conf.get("BACKEND_JWT_ISSUER") or "wso2.org/products/am",
            token_leeway=conf["TOKEN_LEEWAY"],
            jwks_min_refresh=conf["JWKS_MIN_REFRESH"],
            max_frame_size=conf["MAX_FRAME_SIZE"],
            connect_timeout=conf["BACKEND_CONNECT_TIMEOUT"],
            drain_seconds=conf["DRAIN_SECONDS"],
            idle_timeout=conf["IDLE_TIMEOUT"],
            max_lifetime=conf["MAX_CONNECTION_LIFETIME"],
            busy_poll=conf.get("BUSY_POLL", "adaptive"),
            busy_poll_us=conf["BUSY_POLL_US"],
            busy_poll_gap_us=conf.get("BUSY_POLL_GAP_US", BUSY_POLL_GAP_US),
            busy_poll_conn_gap_us=conf.get("BUSY_POLL_CONN_GAP_US", BUSY_POLL_CONN_GAP_US),
            redis_url=conf["REDIS_URL"],
            ticket_validity=conf.get("TICKET_VALIDITY", DEFAULT_VALIDITY),
            tickets_per_token=conf.get("TICKETS_PER_TOKEN", MAX_TICKETS_PER_TOKEN),
            rate_limit_clock=conf.get("RATE_LIMIT_CLOCK"),
            workers=int(os.environ.get(WORKER_COUNT_ENV, 1)),
            worker_index=int(os.environ.get(WORKER_INDEX_ENV, 0)),
            analytics=conf["ANALYTICS"],
            analytics_url=conf["ANALYTICS_URL"],
            analytics_interval=conf["ANALYTICS_INTERVAL"],
        )

"""How the two sides find each other: the snapshot endpoint, its ETag, the headers a pull
carries, and the Channels group a change is pushed through."""

from __future__ import annotations

# Where gateways pull the snapshot from the portal (``?environments=A,B&since=<version>``),
# with ``Authorization: Bearer <TIDEGATE_GATEWAY_TOKEN>`` and ``If-None-Match``.
SNAPSHOT_PATH = "/internal/gateway/snapshot"
# Sent with each pull: which gateway asks (host:pid) and how often it pulls.
GATEWAY_HEADER = "X-Tidegate-Gateway"
INTERVAL_HEADER = "X-Tidegate-Sync-Interval"
# Answered with a new version: when that version was made (seconds since the epoch).
VERSION_TIME_HEADER = "X-Tidegate-Version-Time"
# The Channels group (Redis) the portal tells of each change: ``{"type": "config.changed", "version": n}``.
CONFIG_GROUP = "tidegate.config"


def snapshot_etag(version: int) -> str:
    """The ETag the snapshot of ``version`` goes by."""
    return f'"{version}"'

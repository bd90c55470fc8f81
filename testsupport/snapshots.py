"""Gateway snapshots for tests that feed a gateway directly (in process, or from the file a
gateway keeps on disk) instead of through the portal."""

from __future__ import annotations

import json
from pathlib import Path

from gateway_contract.snapshot import ApiConfig, Snapshot, TopicConfig, snapshot_to_dict

_API_DEFAULTS = {
    "id": "api-1",
    "name": "Chat",
    "context": "/chat",
    "version": "1.0.0",
    "lifecycle_status": "PUBLISHED",
    "revision": 1,
}


def api_config(**fields) -> ApiConfig:
    """A published API (``/chat/1.0.0`` unless told otherwise) with the fields a test gives."""
    return ApiConfig(**{**_API_DEFAULTS, **fields})


def open_and_secure_apis(endpoint: str, *, secure_scopes: tuple[str, ...] = (), room_mapping: str = "") -> tuple:
    """Two APIs in front of ``endpoint``: ``/open/1.0.0`` without security and
    ``/secure/1.0.0`` with, each with the topics ``/ws`` and ``/rooms/{room}``."""
    return tuple(
        api_config(
            id=f"api-{name}",
            name=name,
            context=f"/{name}",
            production_endpoint=endpoint,
            topics=(
                TopicConfig(name="/ws", secured=secured, publish_scopes=secure_scopes if secured else ()),
                TopicConfig(name="/rooms/{room}", uri_mapping=room_mapping, secured=secured),
            ),
        )
        for name, secured in (("open", False), ("secure", True))
    )


def snapshot_json(*apis: ApiConfig) -> str:
    """The serialized snapshot of ``apis`` in the Default environment, as a gateway keeps it."""
    return json.dumps(snapshot_to_dict(Snapshot(version=1, environments=("Default",), apis=tuple(apis))))


def write_gateway_snapshot(data_dir: Path, *apis: ApiConfig) -> Path:
    """Where a gateway with ``data_dir`` looks for its last snapshot, holding ``apis``."""
    path = Path(data_dir) / "gateway" / "snapshot-Default.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(snapshot_json(*apis))
    return path

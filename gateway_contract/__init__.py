"""The contract between the control plane (the portal's apps) and the gateway: the only
code both sides import, and it imports nothing of either (nor Django).

- ``snapshot``: the ``Snapshot`` a gateway enforces and its JSON (``SCHEMA_VERSION``).
- ``deltas``: the small changes applied to a held snapshot, one type per kind.
- ``wire``: the snapshot endpoint, its ETag and headers, the push group.
- ``archives``: standalone mode's archive reader and its refusal.
- ``datadir``: the modes of the shared data directory's secrets.

docs/architecture.md, "The gateway contract".
"""

from gateway_contract.deltas import (
    Delta,
    SubscriptionChanged,
    SubscriptionRemoved,
    TokensRevoked,
    apply_deltas,
    delta_from_dict,
    delta_to_dict,
    deltas_from_list,
    snapshot_apply,
)
from gateway_contract.snapshot import (
    SCHEMA_VERSION,
    ApiConfig,
    ApplicationConfig,
    DenyConditionConfig,
    IssuerConfig,
    PolicyConfig,
    Snapshot,
    SnapshotError,
    SubscriptionConfig,
    TopicConfig,
    snapshot_from_dict,
    snapshot_to_dict,
)

__all__ = [
    "SCHEMA_VERSION",
    "ApiConfig",
    "ApplicationConfig",
    "Delta",
    "DenyConditionConfig",
    "IssuerConfig",
    "PolicyConfig",
    "Snapshot",
    "SnapshotError",
    "SubscriptionChanged",
    "SubscriptionConfig",
    "SubscriptionRemoved",
    "TokensRevoked",
    "TopicConfig",
    "apply_deltas",
    "delta_from_dict",
    "delta_to_dict",
    "deltas_from_list",
    "snapshot_apply",
    "snapshot_from_dict",
    "snapshot_to_dict",
]

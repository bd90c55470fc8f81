"""The one typed, versioned value a gateway enforces, and how it travels as JSON.

The control plane builds a ``Snapshot`` (``tidegate.snapshot.builder.snapshot_build``); gateways
read it back with ``snapshot_from_dict`` and never read the ORM. Every field is checked on
the way in: anything of another shape is a ``SnapshotError``.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints

# 3: a topic's scopes per operation (publish_scopes, subscribe_scopes), both enforced.
# 4: an API's Origin allow-list and backend JWT (an older gateway would ignore them, letting
#    in handshakes the API refuses: it refuses this schema instead and keeps its last one).
# 5: deny policies (``deny``), for the same reason. A schema-4 snapshot (one a gateway kept on
#    disk) still reads, with no deny policies.
# 6: API keys: an API's credential kinds (``security_schemes``) and the applications API keys
#    name (``api_key_applications``); an older gateway would let a bearer token into an
#    API-key-only API. Schema 4 and 5 snapshots still read (OAuth2 only, no API keys).
SCHEMA_VERSION = 6
READABLE_SCHEMAS = (4, 5, 6)


@dataclass(frozen=True)
class TopicConfig:
    """One topic. A handshake opens both of its operations, so a token needs one scope of
    each operation that lists scopes: ``publish_scopes`` and ``subscribe_scopes``."""

    name: str
    publish_scopes: tuple[str, ...] = ()
    subscribe_scopes: tuple[str, ...] = ()
    uri_mapping: str = ""
    secured: bool = True
    # The payload schema of each direction's messages, bundled to stand alone (JSON Schema
    # draft-07); None where the API does not validate that direction or its messages are not JSON.
    publish_schema: dict[str, Any] | None = None
    subscribe_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class ApiConfig:
    id: str
    name: str
    context: str
    version: str
    lifecycle_status: str
    revision: int
    production_endpoint: str
    sandbox_endpoint: str = ""
    authorization_header: str = "Authorization"
    topics: tuple[TopicConfig, ...] = ()
    api_policy: str = ""  # the API-level (advanced) rate limit, "" or "Unlimited" for none
    # Live settings of the API row, not of the revision (docs/gateway.md, "Origin allow-list"):
    # origins a handshake's Origin must be on (gateway_contract.origins; empty: any), and
    # whether a handshake without one is refused ("browsers only").
    allowed_origins: tuple[str, ...] = ()
    origin_required: bool = False
    # The header the gateway puts its signed backend JWT in; empty: no backend JWT.
    backend_jwt_header: str = ""
    # The credential kinds a secured topic accepts (WSO2's securityScheme): "oauth2", "api_key".
    security_schemes: tuple[str, ...] = ("oauth2",)
    # Payload validation (docs/gateway.md): off | client | both; a client message that fails:
    # error (an error frame, the message dropped) | close (1007); a backend one: drop | close (1011).
    payload_validation: str = "off"
    payload_client_failure: str = "error"
    payload_backend_failure: str = "drop"


@dataclass(frozen=True)
class SubscriptionConfig:
    id: str
    api_id: str
    policy: str
    status: str


@dataclass(frozen=True)
class ApplicationConfig:
    """An application as seen through one of its consumer keys."""

    id: str
    name: str
    owner: str
    policy: str
    key_type: str
    subscriptions: tuple[SubscriptionConfig, ...] = ()
    # Built from a self-contained token's claims rather than found in the snapshot.
    self_contained: bool = False

    def subscription_for(self, api_id: str) -> SubscriptionConfig | None:
        for sub in self.subscriptions:
            if sub.api_id == api_id:
                return sub
        return None


@dataclass(frozen=True)
class IssuerConfig:
    issuer: str
    jwks: dict[str, Any]
    # Tokens of an issuer that does not validate subscriptions (the /testkey issuer) need none.
    validate_subscription: bool = True
    consumer_key_claim: str = "azp"
    # External issuers publish their keys at a JWKS URL the gateway fetches and caches.
    jwks_url: str = ""


@dataclass(frozen=True)
class PolicyConfig:
    """A rate limit as data: ``limit`` events (or bytes, for BANDWIDTHLIMIT) per ``window`` seconds."""

    level: str  # advanced | subscription | application
    name: str
    limit_type: str = "EVENTCOUNTLIMIT"
    limit: int = 0  # 0: unlimited
    window: int = 60
    stop_on_quota_reach: bool = True
    action: str = "notify"  # notify | drop | close
    max_connections: int = 0  # application policies: concurrent connections, 0: no limit

    @property
    def unlimited(self) -> bool:
        return self.limit <= 0


@dataclass(frozen=True)
class DenyConditionConfig:
    """An enabled deny policy (WSO2: a blocking condition). ``kind`` is API (``value``:
    ``/<context>/<version>``), APPLICATION (``value``: ``owner:name``), USER (``value``: a
    username), IP (``start_ip``) or IP_RANGE (``start_ip`` to ``end_ip``, both included);
    ``invert`` makes an IP condition match every address but those."""

    id: str
    kind: str
    value: str = ""
    start_ip: str = ""
    end_ip: str = ""
    invert: bool = False


@dataclass(frozen=True)
class Snapshot:
    version: int
    environments: tuple[str, ...]
    apis: tuple[ApiConfig, ...] = ()
    applications: dict[str, ApplicationConfig] = field(default_factory=dict)  # by consumer key
    issuers: tuple[IssuerConfig, ...] = ()
    policies: dict[str, PolicyConfig] = field(default_factory=dict)  # by "level:name"
    revoked: tuple[str, ...] = ()  # jti of revoked tokens that have not expired yet
    application_ids: tuple[str, ...] = ()  # every application that exists, keys or not
    disconnect: tuple[str, ...] = ()  # ids of live connections a publisher asked to cut
    deny: tuple[DenyConditionConfig, ...] = ()  # enabled deny policies
    # Applications that hold live API keys, by application id (an API key names its
    # application, not a consumer key): their subscriptions are checked like a token's.
    api_key_applications: dict[str, ApplicationConfig] = field(default_factory=dict)

    def policy(self, level: str, name: str) -> PolicyConfig | None:
        return self.policies.get(f"{level}:{name}")


class SnapshotError(ValueError):
    """A snapshot or delta that does not have the shape this gateway reads: the gateway
    keeps serving what it has (it catches ValueError) and says so in its log."""


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    data = asdict(snapshot)
    data["schema"] = SCHEMA_VERSION
    return data


def read_as(tp: Any, value: Any, where: str) -> Any:
    """``value`` (decoded JSON) as the type ``tp`` of a snapshot or delta field, checked all
    the way down: :class:`SnapshotError` naming ``where`` for anything of another shape."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Union or origin is types.UnionType:  # X | None
        if value is None and type(None) in get_args(tp):
            return None
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return read_as(inner, value, where)
    if tp is bool or tp is str:
        if not isinstance(value, tp):
            raise SnapshotError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise SnapshotError(f"{where}: expected int, got {type(value).__name__}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise SnapshotError(f"{where}: expected a list, got {type(value).__name__}")
        item = get_args(tp)[0]
        return tuple(read_as(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(value).__name__}")
        item = get_args(tp)[1]
        for key in value:
            if not isinstance(key, str):
                raise SnapshotError(f"{where}: keys must be text")
        return {k: read_as(item, v, f"{where}.{k}") for k, v in value.items()}
    if is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(value).__name__}")
        hints = get_type_hints(tp)
        out = {}
        for f in fields(tp):
            if f.name in value:
                out[f.name] = read_as(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is MISSING and f.default_factory is MISSING:
                raise SnapshotError(f"{where}: {f.name} is missing")
        return tp(**out)  # keys this version does not know are left out
    raise SnapshotError(f"{where}: cannot read {tp!r}")  # pragma: no cover - a field type added without a reader


def snapshot_from_dict(data: Any) -> Snapshot:
    """The snapshot the portal sent (or the gateway kept on disk), every field checked:
    :class:`SnapshotError` (a ValueError) for anything of another shape."""
    if not isinstance(data, dict):
        raise SnapshotError(f"a snapshot is an object, not {type(data).__name__}")
    if data.get("schema") not in READABLE_SCHEMAS:
        raise SnapshotError(f"unsupported snapshot schema {data.get('schema')!r}")
    snapshot: Snapshot = read_as(Snapshot, data, "snapshot")
    return snapshot

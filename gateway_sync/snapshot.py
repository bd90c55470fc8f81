"""The one typed, versioned value a gateway enforces, built in one place.

``snapshot_build`` reads the control plane's database and returns a ``Snapshot``;
``snapshot_to_dict``/``snapshot_from_dict`` carry it over the wire. Gateways hold a
``Snapshot`` and never read the ORM.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

# 3: a topic's scopes per operation (publish_scopes, subscribe_scopes), both enforced.
SCHEMA_VERSION = 3
# Where gateways pull the snapshot from the portal, and the ETag a version goes by there.
SNAPSHOT_PATH = "/internal/gateway/snapshot"


def snapshot_etag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True)
class TopicConfig:
    """One topic. A handshake opens both of its operations, so a token needs one scope of
    each operation that lists scopes: ``publish_scopes`` and ``subscribe_scopes``."""

    name: str
    publish_scopes: tuple[str, ...] = ()
    subscribe_scopes: tuple[str, ...] = ()
    uri_mapping: str = ""
    secured: bool = True


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

    def policy(self, level: str, name: str) -> PolicyConfig | None:
        return self.policies.get(f"{level}:{name}")


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    data = asdict(snapshot)
    data["schema"] = SCHEMA_VERSION
    return data


class SnapshotError(ValueError):
    """A snapshot or delta that does not have the shape this gateway reads: the gateway
    keeps serving what it has (it catches ValueError) and says so in its log."""


def _read(tp: Any, value: Any, where: str) -> Any:
    """``value`` (decoded JSON) as the type ``tp`` of a snapshot field, checked all the way down."""
    origin = get_origin(tp)
    if tp is Any:
        return value
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
        return tuple(_read(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(value).__name__}")
        item = get_args(tp)[1]
        for key in value:
            if not isinstance(key, str):
                raise SnapshotError(f"{where}: keys must be text")
        return {k: _read(item, v, f"{where}.{k}") for k, v in value.items()}
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(value).__name__}")
        hints = get_type_hints(tp)
        out = {}
        for f in fields(tp):
            if f.name in value:
                out[f.name] = _read(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is MISSING and f.default_factory is MISSING:
                raise SnapshotError(f"{where}: {f.name} is missing")
        return tp(**out)  # keys this version does not know are left out
    raise SnapshotError(f"{where}: cannot read {tp!r}")  # pragma: no cover - a field type added without a reader


def snapshot_from_dict(data: dict[str, Any]) -> Snapshot:
    """The snapshot the portal sent (or the gateway kept on disk), every field checked:
    :class:`SnapshotError` (a ValueError) for anything of another shape."""
    if not isinstance(data, dict):
        raise SnapshotError(f"a snapshot is an object, not {type(data).__name__}")
    if data.get("schema") != SCHEMA_VERSION:
        raise SnapshotError(f"unsupported snapshot schema {data.get('schema')!r}")
    return _read(Snapshot, data, "snapshot")


def snapshot_apply(snapshot: Snapshot, deltas: list[dict], version: int) -> Snapshot:
    """``snapshot`` with small changes applied: revocations and subscription changes.
    :class:`SnapshotError` for a delta of another shape, and nothing is applied."""
    from dataclasses import replace

    version = _read(int, version, "version")
    deltas = _read(tuple[Any, ...], deltas, "deltas")
    revoked = list(snapshot.revoked)
    applications = dict(snapshot.applications)
    for i, delta in enumerate(deltas):
        where = f"deltas[{i}]"
        if not isinstance(delta, dict):
            raise SnapshotError(f"{where}: expected an object, got {type(delta).__name__}")
        kind = delta.get("kind")
        if kind == "revoke":
            jtis = _read(tuple[str, ...], delta.get("jtis"), f"{where}.jtis")
            revoked.extend(j for j in jtis if j not in revoked)
        elif kind in ("subscription", "unsubscribe"):
            app_id = _read(str, delta.get("application"), f"{where}.application")
            if kind == "subscription":
                sub = _read(SubscriptionConfig, delta.get("subscription"), f"{where}.subscription")
                sub_id = sub.id
            else:
                sub, sub_id = None, _read(str, delta.get("subscription"), f"{where}.subscription")
            for key, app in applications.items():
                if app.id == app_id:
                    kept = tuple(s for s in app.subscriptions if s.id != sub_id)
                    applications[key] = replace(app, subscriptions=kept + ((sub,) if sub else ()))
        else:
            raise SnapshotError(f"unknown delta {str(kind)[:40]!r}")
    return replace(snapshot, version=version, revoked=tuple(revoked), applications=applications)


def topic_configs(definition: dict[str, Any]) -> tuple[TopicConfig, ...]:
    """What the gateway enforces of an AsyncAPI document's channels."""
    from publisher import asyncapi

    return tuple(
        TopicConfig(
            name=t.name,
            publish_scopes=t.publish_scopes,
            subscribe_scopes=t.subscribe_scopes,
            uri_mapping=t.uri_mapping,
            secured=t.secured,
        )
        for t in asyncapi.topics(definition)
    )


def snapshot_build(*, environments: list[str], version: int) -> Snapshot:
    """Everything gateways of ``environments`` enforce: deployed revisions with the API's
    live lifecycle state, applications and subscriptions by consumer key, trusted issuers."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from analytics.models import DisconnectRequest
    from devportal.models import Application, Subscription
    from keymanager import signing
    from keymanager.models import ExternalIssuer, IssuedToken, OAuthClient
    from publisher.dto import endpoint_urls
    from publisher.models import Deployment, ThrottlingPolicy

    apis = []
    seen = set()
    deployments = (
        Deployment.objects.filter(environment__name__in=environments)
        .select_related("api", "revision")
        .order_by("api_id", "environment__name")
    )
    for dep in deployments:
        if dep.api_id in seen:  # one API, several of this gateway's environments: first wins
            continue
        seen.add(dep.api_id)
        snap = dep.revision.snapshot
        definition = snap["definition"]
        production, sandbox = endpoint_urls(snap["endpointConfig"])
        apis.append(
            ApiConfig(
                id=str(dep.api_id),
                name=snap["name"],
                context=snap["context"],
                version=snap["version"],
                lifecycle_status=dep.api.lifecycle_status,
                revision=dep.revision.number,
                production_endpoint=production,
                sandbox_endpoint=sandbox,
                authorization_header=snap.get("authorizationHeader") or "Authorization",
                api_policy=snap.get("apiThrottlingPolicy") or "",
                topics=topic_configs(definition),
            )
        )

    subs_by_app: dict[Any, list[SubscriptionConfig]] = {}
    for sub in Subscription.objects.all().only("id", "api_id", "application_id", "throttling_policy", "status"):
        subs_by_app.setdefault(sub.application_id, []).append(
            SubscriptionConfig(id=str(sub.id), api_id=str(sub.api_id), policy=sub.throttling_policy, status=sub.status)
        )
    applications = {}
    # A deactivated user's applications are left out: gateways refuse their tokens and close
    # their connections as if the applications were deleted (4002).
    for client in OAuthClient.objects.filter(application__owner__is_active=True).select_related("application__owner"):
        app = client.application
        applications[client.client_id] = ApplicationConfig(
            id=str(app.id),
            name=app.name,
            owner=app.owner.get_username(),
            policy=app.throttling_policy,
            key_type=client.key_type,
            subscriptions=tuple(subs_by_app.get(app.id, ())),
        )

    issuers = (
        IssuerConfig(issuer=settings.TIDEGATE["KEY_MANAGER_ISSUER"], jwks=signing.jwks()),
        *(
            IssuerConfig(
                issuer=e.issuer,
                jwks={},
                jwks_url=e.jwks_url,
                validate_subscription=e.validate_subscription,
                consumer_key_claim=e.consumer_key_claim,
            )
            for e in ExternalIssuer.objects.filter(enabled=True)
        ),
    )
    policies = {
        f"{p.level}:{p.name}": PolicyConfig(
            level=p.level,
            name=p.name,
            limit_type=p.limit_type,
            limit=p.limit,
            window=p.window_seconds,
            stop_on_quota_reach=p.stop_on_quota_reach,
            action=p.throttle_action,
            max_connections=p.max_connections,
        )
        for p in ThrottlingPolicy.objects.all()
    }
    revoked = tuple(
        IssuedToken.objects.filter(revoked=True, expires_at__gt=timezone.now()).values_list("jti", flat=True)
    )
    return Snapshot(
        version=version,
        environments=tuple(environments),
        apis=tuple(apis),
        applications=applications,
        issuers=issuers,
        policies=policies,
        revoked=revoked,
        application_ids=tuple(
            str(i) for i in Application.objects.filter(owner__is_active=True).values_list("id", flat=True)
        ),
        disconnect=tuple(
            DisconnectRequest.objects.filter(created_time__gt=timezone.now() - timedelta(minutes=10)).values_list(
                "connection_id", flat=True
            )
        ),
    )

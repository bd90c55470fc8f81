"""Small changes a gateway applies to the snapshot it holds instead of fetching it all.

The control plane names one with each change it records (``portal.config_events.config_changed``);
a gateway a few versions behind is sent the deltas since its version, as JSON
(``delta_to_dict``), and reads them back (``deltas_from_list``): anything of another shape is a
``SnapshotError`` and nothing is applied. A change without a delta means a full snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from gateway_contract.snapshot import Snapshot, SnapshotError, SubscriptionConfig, read_as


@dataclass(frozen=True, slots=True)
class TokensRevoked:
    """Tokens revoked before they expire, by ``jti``: gateways close their connections (4001)."""

    kind: ClassVar[str] = "revoke"
    jtis: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    """A subscription made, blocked, unblocked or moved to another plan: its new state."""

    kind: ClassVar[str] = "subscription"
    application: str  # the application's id
    subscription: SubscriptionConfig


@dataclass(frozen=True, slots=True)
class SubscriptionRemoved:
    """An unsubscription: the application's subscription ``subscription`` (its id) is gone."""

    kind: ClassVar[str] = "unsubscribe"
    application: str  # the application's id
    subscription: str  # the subscription's id


Delta = TokensRevoked | SubscriptionChanged | SubscriptionRemoved
DELTA_KINDS: dict[str, type[Delta]] = {t.kind: t for t in (TokensRevoked, SubscriptionChanged, SubscriptionRemoved)}


def _plain(value: Any) -> Any:
    """A field's value as JSON holds it: tuples as lists, dataclasses as objects in field order."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, SubscriptionConfig):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def delta_to_dict(delta: Delta) -> dict[str, Any]:
    """``{"kind": ..., <fields in order>}``: what the control plane stores and sends."""
    return {"kind": delta.kind, **{f.name: _plain(getattr(delta, f.name)) for f in fields(delta)}}


def delta_from_dict(data: Any, where: str = "delta") -> Delta:
    if not isinstance(data, dict):
        raise SnapshotError(f"{where}: expected an object, got {type(data).__name__}")
    kind = data.get("kind")
    delta_type = DELTA_KINDS.get(kind) if isinstance(kind, str) else None
    if delta_type is None:
        raise SnapshotError(f"unknown delta {str(kind)[:40]!r}")
    delta: Delta = read_as(delta_type, data, where)  # "kind" is no field: left out
    return delta


def deltas_from_list(data: Any) -> tuple[Delta, ...]:
    """The ``deltas`` of the portal's answer, each checked: :class:`SnapshotError` otherwise."""
    items = read_as(tuple[Any, ...], data, "deltas")
    return tuple(delta_from_dict(item, f"deltas[{i}]") for i, item in enumerate(items))


def apply_deltas(snapshot: Snapshot, deltas: Sequence[Delta], version: int) -> Snapshot:
    """``snapshot`` at ``version``, with ``deltas`` applied in order."""
    revoked = list(snapshot.revoked)
    applications = dict(snapshot.applications)
    api_key_applications = dict(snapshot.api_key_applications)

    def with_subscription(app_id: str, sub_id: str, sub: SubscriptionConfig | None) -> None:
        for apps in (applications, api_key_applications):
            for key, app in apps.items():
                if app.id == app_id:
                    kept = tuple(s for s in app.subscriptions if s.id != sub_id)
                    apps[key] = replace(app, subscriptions=kept + ((sub,) if sub else ()))

    for delta in deltas:
        match delta:
            case TokensRevoked(jtis=jtis):
                revoked.extend(j for j in jtis if j not in revoked)
            case SubscriptionChanged(application=app_id, subscription=sub):
                with_subscription(app_id, sub.id, sub)
            case SubscriptionRemoved(application=app_id, subscription=sub_id):
                with_subscription(app_id, sub_id, None)
    return replace(
        snapshot,
        version=version,
        revoked=tuple(revoked),
        applications=applications,
        api_key_applications=api_key_applications,
    )


def snapshot_apply(snapshot: Snapshot, deltas: Any, version: Any) -> Snapshot:
    """``snapshot`` with the portal's deltas (decoded JSON) applied: revocations and
    subscription changes. :class:`SnapshotError` for a delta or version of another shape,
    and nothing is applied."""
    checked_version: int = read_as(int, version, "version")
    return apply_deltas(snapshot, deltas_from_list(deltas), checked_version)

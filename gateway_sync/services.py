import logging

from django.db import transaction

from gateway_sync.models import ConfigChange, ConfigVersion

log = logging.getLogger(__name__)


def config_changed(delta: dict | None = None) -> None:
    """Tell gateways that what they enforce changed, once the current transaction commits.

    Called by every service whose write a gateway must see. ``delta`` describes a small
    change (``{"kind": "revoke", "jtis": [...]}``, ``{"kind": "subscription", ...}``) that
    gateways can apply without fetching the whole snapshot; without one they fetch it all.
    """
    transaction.on_commit(lambda: _bump(delta))


CONFIG_GROUP = "tidegate.config"
KEPT_CHANGES = 500  # a gateway further behind than this fetches a full snapshot


def _bump(delta: dict | None = None) -> None:
    with transaction.atomic():
        row, _ = ConfigVersion.objects.select_for_update().get_or_create(pk=1)
        row.version += 1
        row.save(update_fields=["version", "updated_time"])
        kind = (delta or {}).get("kind", "full")
        ConfigChange.objects.create(version=row.version, kind=kind, payload=delta or {})
        ConfigChange.objects.filter(version__lte=row.version - KEPT_CHANGES).delete()
    _push()


def config_deltas(*, since: int, version: int) -> list[dict] | None:
    """The deltas from ``since`` (exclusive) to ``version``, or None when any step needs a
    full snapshot (a change of another kind, or a gap: the changes were purged)."""
    changes = list(ConfigChange.objects.filter(version__gt=since, version__lte=version).order_by("version"))
    if len(changes) != version - since or any(c.kind == "full" for c in changes):
        return None
    return [c.payload for c in changes]


def _push() -> None:
    """Tell every gateway at once through the Channels layer (Redis), when there is one.
    Gateways then fetch the snapshot; their periodic pull remains the fallback, so a push
    that fails only costs time."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(CONFIG_GROUP, {"type": "config.changed", "version": config_version()})
    except Exception as exc:  # noqa: BLE001 - Redis away: gateways still pull
        log.warning("could not push the configuration change to gateways: %s", exc)


def config_version() -> int:
    row = ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return row or 1

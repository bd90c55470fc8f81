import logging

from django.db import transaction
from django.db.models import F

from gateway_sync.models import ConfigVersion

log = logging.getLogger(__name__)


def config_changed() -> None:
    """Tell gateways that what they enforce changed, once the current transaction commits.

    Called by every service whose write a gateway must see. Gateways poll the version
    (push through Redis comes with scale-out) and refetch the snapshot when it moves.
    """
    transaction.on_commit(_bump)


CONFIG_GROUP = "tidegate.config"


def _bump() -> None:
    updated = ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 2})
    _push()


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

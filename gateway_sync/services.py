from django.db import transaction
from django.db.models import F

from gateway_sync.models import ConfigVersion


def config_changed() -> None:
    """Tell gateways that what they enforce changed, once the current transaction commits.

    Called by every service whose write a gateway must see. Gateways poll the version
    (push through Redis comes with scale-out) and refetch the snapshot when it moves.
    """
    transaction.on_commit(_bump)


def _bump() -> None:
    updated = ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 2})


def config_version() -> int:
    row = ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return row or 1

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gateway_contract.deltas import Delta, delta_to_dict
from gateway_contract.wire import CONFIG_GROUP
from gateway_sync.models import ConfigChange, ConfigVersion, GatewayReport

log = logging.getLogger(__name__)


# A gateway further behind than this fetches a full snapshot.
KEPT_CHANGES = 500


def config_change_record(*, delta: Delta | None = None, **_signal: Any) -> None:
    """A change gateways must see was committed (``portal.config_events.config_changed``):
    the single ``ConfigVersion`` moves on by one, the change is kept as its delta (``full``
    without one) for gateways a few versions behind, and gateways are told through the
    Channels layer."""
    with transaction.atomic():
        row, _ = ConfigVersion.objects.select_for_update().get_or_create(pk=1)
        row.version += 1
        row.save(update_fields=["version", "updated_time"])
        if delta is None:
            ConfigChange.objects.create(version=row.version, kind="full", payload={})
        else:
            ConfigChange.objects.create(version=row.version, kind=delta.kind, payload=delta_to_dict(delta))
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


def config_version_time() -> tuple[int, float | None]:
    """The configuration version and when it was made (seconds since the epoch)."""
    row = ConfigVersion.objects.filter(pk=1).values_list("version", "updated_time").first()
    return (row[0], row[1].timestamp()) if row else (1, None)


# -- what gateways report ---------------------------------------------------------------------
REPORT_EVERY = 1.0  # seconds: an unchanged report refreshes last_seen at most this often
REPORTS_KEPT = timedelta(days=1)  # gateways not heard of for this long are forgotten
_reported: dict[str, tuple[int, float]] = {}  # this process's last write per gateway


def gateway_report(*, gateway_id: str, environments: list[str], version: int, sync_interval: float) -> None:
    """Record that ``gateway_id`` enforces configuration ``version`` (told on each of its
    pulls). Unchanged reports are written at most once per ``REPORT_EVERY`` per portal
    process, so gateways pulling four times a second cost no write each time. When the
    version moved on, the time from that version's change to now is kept as the gateway's
    apply latency. Telemetry of the gateway itself: not an audited user action."""
    now_mono = time.monotonic()
    last = _reported.get(gateway_id)
    if last is not None and last[0] == version and now_mono - last[1] < REPORT_EVERY:
        return
    now = timezone.now()
    with transaction.atomic():
        row = GatewayReport.objects.select_for_update().filter(gateway_id=gateway_id).first()
        if row is None:
            GatewayReport.objects.filter(last_seen__lt=now - REPORTS_KEPT).delete()
            try:
                with transaction.atomic():
                    GatewayReport.objects.create(
                        gateway_id=gateway_id,
                        environments=environments,
                        sync_interval=sync_interval,
                        applied_version=version,
                        last_seen=now,
                    )
            except IntegrityError:  # another portal process recorded it first; next pull updates
                return
        else:
            if version != row.applied_version:
                created = ConfigChange.objects.filter(version=version).values_list("created_time", flat=True).first()
                # Unknown before this gateway's first version, or when the change was purged.
                row.apply_seconds = (
                    max(0.0, (now - created).total_seconds()) if created and row.applied_version else None
                )
                row.applied_time = now
                row.applied_version = version
            row.environments = environments
            row.sync_interval = sync_interval
            row.last_seen = now
            row.save()
    if len(_reported) > 10_000:
        _reported.clear()
    _reported[gateway_id] = (version, now_mono)


def gateways_recent(*, environments: list[str] | None = None, window: float | None = None) -> list[GatewayReport]:
    """Gateways (of any of ``environments``, or all) that reported lately: within ``window``
    seconds (``GATEWAY_REPORT_WINDOW``) or two of their own pull intervals, if longer."""
    window = settings.TIDEGATE["GATEWAY_REPORT_WINDOW"] if window is None else window
    now = timezone.now()
    rows = GatewayReport.objects.filter(last_seen__gte=now - timedelta(hours=1)).order_by("gateway_id")
    out = []
    for row in rows:
        if (now - row.last_seen).total_seconds() > max(window, 2 * row.sync_interval + 1):
            continue
        if environments is None or set(environments) & set(row.environments):
            out.append(row)
    return out


def gateways_await(*, environments: list[str] | None, version: int, timeout: float) -> list[GatewayReport]:
    """Wait until every gateway of ``environments`` that reported lately enforces ``version``
    or later, at most ``timeout`` seconds; the ones that did not (empty when all did). The
    database connection is closed between looks: a waiting request holds none."""
    deadline = time.monotonic() + timeout
    while True:
        pending = [g for g in gateways_recent(environments=environments) if g.applied_version < version]
        if not pending or time.monotonic() >= deadline:
            return pending
        if not connection.in_atomic_block:
            connection.close()
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

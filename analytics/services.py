"""Writes for analytics: batches from gateways, retention, and disconnect requests."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from analytics.models import DisconnectRequest, GatewayReport, Kind, TrafficStat
from portal.audit import audit_record
from portal.config_events import config_changed
from portal.errors import NotFound, ValidationFailed

MAX_ROWS = 50_000


def _parse_row(row) -> tuple:
    try:
        minute, api_id, app_id, app_name, topic, kind, label, count, total = row
        when = dt.datetime.strptime(minute, "%Y-%m-%dT%H:%M:00Z").replace(tzinfo=dt.UTC)
        if kind not in Kind.values or int(count) < 0 or int(total) < 0:
            raise ValueError(kind)
        return (
            when,
            str(api_id)[:36],
            str(app_id)[:64],
            str(app_name)[:100],
            str(topic)[:255],
            kind,
            str(label)[:20],
            int(count),
            int(total),
        )
    except (TypeError, ValueError):
        raise ValidationFailed(f"malformed analytics row {str(row)[:200]}") from None


@transaction.atomic
def analytics_ingest(*, batch: dict) -> int:
    """Add a gateway's batch to the per-minute rows; replace its report of open connections."""
    rows = batch.get("rows")
    gateway_id = str(batch.get("gatewayId") or "")[:100]
    if not isinstance(rows, list) or len(rows) > MAX_ROWS or not gateway_id:
        raise ValidationFailed("a batch has gatewayId and at most 50,000 rows")
    parsed = [_parse_row(r) for r in rows]
    for when, api_id, app_id, app_name, topic, kind, label, count, total in parsed:
        key = dict(minute=when, api_id=api_id, application_id=app_id, topic=topic, kind=kind, label=label)
        updated = TrafficStat.objects.filter(**key).update(count=F("count") + count, total=F("total") + total)
        if not updated:
            try:
                with transaction.atomic():
                    TrafficStat.objects.create(**key, application_name=app_name, count=count, total=total)
            except IntegrityError:  # another gateway's batch made the row meanwhile: add to it
                TrafficStat.objects.filter(**key).update(count=F("count") + count, total=F("total") + total)
    connections = batch.get("connections") if isinstance(batch.get("connections"), list) else []
    GatewayReport.objects.update_or_create(
        gateway_id=gateway_id,
        defaults={"connections": connections[:10_000], "dropped_batches": int(batch.get("droppedBatches") or 0)},
    )
    return len(parsed)


def analytics_purge(*, now: dt.datetime | None = None) -> int:
    """Drop rows older than the retention setting, and stale reports and requests."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.TIDEGATE["ANALYTICS_RETENTION_DAYS"])
    deleted, _ = TrafficStat.objects.filter(minute__lt=cutoff).delete()
    GatewayReport.objects.filter(received_time__lt=now - dt.timedelta(minutes=10)).delete()
    DisconnectRequest.objects.filter(created_time__lt=now - dt.timedelta(minutes=10)).delete()
    return deleted


@transaction.atomic
def connection_disconnect(*, api, connection_id: str, user) -> DisconnectRequest:
    """Ask every gateway to close one live connection of ``api`` (1008)."""
    known = any(
        c.get("id") == connection_id and c.get("apiId") == str(api.id)
        for report in GatewayReport.objects.all()
        for c in report.connections
    )
    if not known:
        raise NotFound("No such live connection of this API (it may have closed already)")
    request, _ = DisconnectRequest.objects.get_or_create(
        connection_id=connection_id, defaults={"api_id": str(api.id), "requested_by": user}
    )
    audit_record(actor=user, action="connection.disconnect", target=api, detail={"connection": connection_id})
    config_changed()
    return request

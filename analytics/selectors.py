"""Reads for analytics pages and REST: series over time, top applications, close codes,
live connections, and usage against a plan."""

from __future__ import annotations

import datetime as dt
import time

from django.db.models import Sum
from django.utils import timezone

from analytics.models import GatewayReport, TrafficStat

RANGES = {"1h": dt.timedelta(hours=1), "24h": dt.timedelta(days=1), "7d": dt.timedelta(days=7)}


def traffic(*, api_id: str, since: dt.datetime):
    return TrafficStat.objects.filter(api_id=str(api_id), minute__gte=since)


def frames_over_time(*, api_id: str, since: dt.datetime) -> list[dict]:
    """Per minute: frames in, frames out, throttled frames."""
    series: dict[dt.datetime, dict] = {}
    rows = traffic(api_id=api_id, since=since).filter(kind="frame").values("minute", "label").annotate(n=Sum("count"))
    for row in rows:
        point = series.setdefault(row["minute"], {"minute": row["minute"], "in": 0, "out": 0, "throttled": 0})
        if row["label"].endswith("-throttled"):
            point["throttled"] += row["n"]
        else:
            point[row["label"]] += row["n"]
    return [series[k] for k in sorted(series)]


def totals(*, api_id: str, since: dt.datetime) -> dict:
    qs = traffic(api_id=api_id, since=since)
    out: dict = {"framesIn": 0, "framesOut": 0, "bytesIn": 0, "bytesOut": 0, "throttled": 0, "handshakes": 0}
    # Payload validation: messages judged per direction (in: from clients) and result.
    validation = {d: {"valid": 0, "invalid": 0, "unvalidated": 0} for d in ("in", "out")}
    for row in qs.values("kind", "label").annotate(n=Sum("count"), t=Sum("total")):
        if row["kind"] == "frame":
            if row["label"] == "in":
                out["framesIn"] += row["n"]
                out["bytesIn"] += row["t"]
            elif row["label"] == "out":
                out["framesOut"] += row["n"]
                out["bytesOut"] += row["t"]
            else:
                out["throttled"] += row["n"]
        elif row["kind"] == "handshake":
            out["handshakes"] += row["n"]
        elif row["kind"] == "validation":
            direction, _, result = row["label"].partition("-")
            if result in validation.get(direction, {}):
                validation[direction][result] += row["n"]
    out["validation"] = validation
    return out


def top_applications(*, api_id: str, since: dt.datetime, limit: int = 10) -> list[dict]:
    rows = (
        traffic(api_id=api_id, since=since)
        .filter(kind="frame")
        .exclude(label__endswith="-throttled")
        .values("application_id", "application_name")
        .annotate(frames=Sum("count"))
        .order_by("-frames")[:limit]
    )
    return [
        {
            "applicationId": r["application_id"],
            "name": r["application_name"] or "(no application)",
            "frames": r["frames"],
        }
        for r in rows
    ]


def close_codes(*, api_id: str, since: dt.datetime) -> list[dict]:
    rows = traffic(api_id=api_id, since=since).filter(kind="close").values("label").annotate(n=Sum("count"))
    return sorted(({"code": int(r["label"]), "count": r["n"]} for r in rows), key=lambda r: -r["count"])


def rows_for_csv(*, api_id: str, since: dt.datetime):
    return (
        traffic(api_id=api_id, since=since)
        .order_by("minute", "kind", "label")
        .values_list("minute", "application_name", "topic", "kind", "label", "count", "total")
    )


def live_connections(*, api_id: str) -> list[dict]:
    out = []
    for report in GatewayReport.objects.filter(received_time__gte=timezone.now() - dt.timedelta(minutes=2)):
        for conn in report.connections:
            if conn.get("apiId") == str(api_id):
                out.append({**conn, "gateway": report.gateway_id})
    return sorted(out, key=lambda c: c.get("since", 0))


def usage(*, api_id: str, application_id: str, window_seconds: int, now: float | None = None) -> int:
    """Events (frames both ways that passed) this application used on this API in the
    current fixed window, as far as gateways have reported."""
    now = time.time() if now is None else now
    start = dt.datetime.fromtimestamp(now - now % window_seconds, dt.UTC)
    qs = TrafficStat.objects.filter(
        api_id=str(api_id), application_id=str(application_id), kind="frame", label__in=["in", "out"], minute__gte=start
    )
    return qs.aggregate(n=Sum("count"))["n"] or 0

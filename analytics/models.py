"""Traffic as gateways report it: per-minute aggregates, the connections open now, and
requests to disconnect one."""

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    FRAME = "frame"  # label: "in" | "out" | "in-throttled" | "out-throttled"; total: payload bytes
    HANDSHAKE = "handshake"  # label: HTTP status; total: milliseconds spent deciding and connecting
    CLOSE = "close"  # label: close code; total: milliseconds the connections lasted
    # label: "in" | "out" "-" "valid" | "invalid" | "unvalidated" (payload validation); total: 0
    VALIDATION = "validation"


class TrafficStat(models.Model):
    """One aggregate row: ``count`` events and their ``total`` in one minute, for one API,
    application and topic. Gateways send rows in batches; rows of the same key add up."""

    minute = models.DateTimeField(db_index=True)
    api_id = models.CharField(max_length=36, db_index=True)
    application_id = models.CharField(max_length=64, blank=True)
    application_name = models.CharField(max_length=100, blank=True)
    topic = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label = models.CharField(max_length=20)
    count = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "api_id", "application_id", "topic", "kind", "label"], name="traffic_stat_key"
            )
        ]
        indexes = [models.Index(fields=["api_id", "minute"])]


class GatewayReport(models.Model):
    """The last word of each gateway process: its open connections and what it dropped."""

    gateway_id = models.CharField(max_length=100, unique=True)
    received_time = models.DateTimeField(auto_now=True)
    connections = models.JSONField(default=list)
    dropped_batches = models.PositiveBigIntegerField(default=0)


class DisconnectRequest(models.Model):
    """A publisher asked to cut one live connection; gateways close it (1008)."""

    connection_id = models.CharField(max_length=64, unique=True)
    api_id = models.CharField(max_length=36)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_time = models.DateTimeField(auto_now_add=True)

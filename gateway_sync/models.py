from django.db import models


class ConfigVersion(models.Model):
    """A single row counting changes to anything a gateway enforces.

    Services bump it after their transaction commits; gateways compare it with the version
    of the snapshot they hold and fetch a new one when it moved.
    """

    version = models.PositiveBigIntegerField(default=1)
    updated_time = models.DateTimeField(auto_now=True)


class ConfigChange(models.Model):
    """What one version changed, when it is small enough to send as a delta (a revocation,
    a subscription); ``full`` otherwise. Gateways behind by a few versions fetch only these."""

    version = models.PositiveBigIntegerField(unique=True)
    kind = models.CharField(max_length=20)  # revoke | subscription | unsubscribe | full
    payload = models.JSONField(default=dict)
    created_time = models.DateTimeField(auto_now_add=True)


class GatewayReport(models.Model):
    """What one gateway process last told the portal, on each pull: the configuration
    version it enforces, its environments and how often it pulls. ``deploy-revision?wait=true``
    waits for the gateways that reported lately; the Publisher shows them per environment."""

    gateway_id = models.CharField(max_length=100, unique=True)
    environments = models.JSONField(default=list)
    sync_interval = models.FloatField(default=0.25)
    applied_version = models.PositiveBigIntegerField(default=0)
    last_seen = models.DateTimeField()
    # When the portal learned that ``applied_version`` was applied, and the seconds from that
    # version's change to then (None when unknown, e.g. the first report after a start).
    applied_time = models.DateTimeField(null=True)
    apply_seconds = models.FloatField(null=True)

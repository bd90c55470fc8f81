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

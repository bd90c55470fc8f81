from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who changed what, when. Written by services, one row per state change."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_time", "-id"]


class GuessRate(models.Model):
    """When a user's password was last checked past the per-name limit or failed
    (portal/throttle.py): once the name has LOCKOUT_USERNAME_FAILURES failures, an address
    that has not failed for it gets its password checked only when this is
    LOCKOUT_USERNAME_INTERVAL seconds old. Rows older than the lockout window are dropped."""

    name = models.CharField(max_length=255, unique=True)
    checked_at = models.DateTimeField(db_index=True)

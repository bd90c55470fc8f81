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


class SiteSettings(models.Model):
    """What an administrator sets in the Admin Portal's Settings (one row, ``pk=1``; read with
    ``portal.site_settings.site_settings()``, written by ``publisher.site_settings``, which
    checks the plans it names). Here, at the bottom, because every layer reads it: sign-up
    (``tidegate``), the approval workflows (``devportal``), new APIs' plans (``publisher``)
    and the sign-in page's link (``portal``)."""

    signup_enabled = models.BooleanField(default=True, help_text="Developers may create accounts at /signup/")
    subscription_approval = models.BooleanField(
        default=False, help_text="Every new subscription waits (ON_HOLD) for an administrator"
    )
    application_approval = models.BooleanField(
        default=False, help_text="Every new application waits (CREATED) for an administrator before it gets keys"
    )
    signup_approval = models.BooleanField(
        default=False, help_text="A new account cannot sign in until an administrator approves it"
    )
    staff_two_factor_required = models.BooleanField(
        default=False,
        help_text="Creators, publishers and admins must sign in with a second factor (TOTP); "
        "REST Basic is refused for them meanwhile",
    )
    default_policies = models.JSONField(
        default=list, help_text="Business plans a new API offers when its creator names none"
    )
    updated_time = models.DateTimeField(auto_now=True)

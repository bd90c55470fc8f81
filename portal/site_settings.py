"""The Admin Portal's settings (``portal.models.SiteSettings``), read by every layer."""

from __future__ import annotations

from django.conf import settings

from portal.models import SiteSettings

# A new API's plans when neither its creator nor the administrator named any.
FALLBACK_POLICIES = ("AsyncUnlimited",)


def site_settings() -> SiteSettings:
    """The one row, made with its defaults the first time it is read."""
    row, _ = SiteSettings.objects.get_or_create(pk=1, defaults={"default_policies": list(FALLBACK_POLICIES)})
    return row


def signup_open() -> bool:
    """Sign-up is open when the operator allows it (``TIDEGATE_SIGNUP_ENABLED``, the
    deployment's switch) and the administrator has it on (Settings)."""
    return bool(settings.TIDEGATE["SIGNUP_ENABLED"]) and site_settings().signup_enabled


def anonymous_browsing() -> bool:
    """Whether visitors who are not signed in may browse the Dev Portal's public APIs (its
    catalog, API pages and catalog REST): the Admin Portal's Settings, on by default."""
    return site_settings().anonymous_browsing

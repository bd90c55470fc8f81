"""The writer of the Admin Portal's settings (``portal.models.SiteSettings``). It sits in
the Publisher because one of the settings names business plans, which only this layer
and those above can check; the row itself is ``portal``'s, as every layer reads it."""

from __future__ import annotations

from django.db import transaction

from portal.audit import audit_record
from portal.errors import ValidationFailed
from portal.models import SiteSettings
from portal.site_settings import site_settings
from publisher.models import PolicyLevel, ThrottlingPolicy

FIELDS = (
    "signup_enabled",
    "subscription_approval",
    "application_approval",
    "signup_approval",
    "default_policies",
    "staff_two_factor_required",
)


@transaction.atomic
def site_settings_update(
    *,
    acting_user,
    signup_enabled: bool,
    subscription_approval: bool,
    application_approval: bool,
    signup_approval: bool,
    default_policies: list[str],
    staff_two_factor_required: bool = False,
) -> SiteSettings:
    """Set every setting at once (the Settings form holds them all). The default plans must
    be known streaming business plans, at least one: a new API must offer a plan."""
    plans = [p for p in dict.fromkeys(default_policies or []) if p]
    known = set(
        ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION, is_streaming=True).values_list(
            "name", flat=True
        )
    )
    if not plans:
        raise ValidationFailed(
            "Choose at least one default business plan: a new API must offer one",
            details=[{"field": "defaultPolicies", "message": "at least one plan"}],
        )
    unknown = [p for p in plans if p not in known]
    if unknown:
        raise ValidationFailed(
            f"Unknown business plan{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"choose from {', '.join(sorted(known))}",
            details=[{"field": "defaultPolicies", "message": f"unknown plan {p!r}"} for p in unknown],
        )
    site_settings()  # made with its defaults if it is not there yet
    row = SiteSettings.objects.select_for_update().get(pk=1)
    new = {
        "signup_enabled": bool(signup_enabled),
        "subscription_approval": bool(subscription_approval),
        "application_approval": bool(application_approval),
        "signup_approval": bool(signup_approval),
        "default_policies": plans,
        "staff_two_factor_required": bool(staff_two_factor_required),
    }
    changes = {f: {"from": getattr(row, f), "to": v} for f, v in new.items() if getattr(row, f) != v}
    if changes:
        for f, v in new.items():
            setattr(row, f, v)
        row.save()
        audit_record(actor=acting_user, action="settings.update", target=row, detail=changes)
    return row

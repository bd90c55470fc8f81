from typing import Any

from django.db.models import QuerySet

from portal.models import AuditEvent


def audit_record(*, actor, action: str, target, detail: dict[str, Any] | None = None) -> None:
    """Record one state change: who did what to which object. Call inside the service's transaction."""
    AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=type(target).__name__,
        target_id=str(target.pk),
        detail=detail or {},
    )


def audit_events(*, action: str = "", actor: str = "", target: str = "") -> QuerySet[AuditEvent]:
    """The audit log, newest first, for the Publisher's and the Admin Portal's audit pages:
    ``action`` matches the start of the action (``subscription`` finds every
    ``subscription.*``), ``actor`` a user name exactly (``system`` for changes made by no
    one signed in, as the pages show them), ``target`` an object's id exactly."""
    events = AuditEvent.objects.select_related("actor")
    if action:
        events = events.filter(action__startswith=action)
    if actor == "system":
        events = events.filter(actor__isnull=True)
    elif actor:
        events = events.filter(actor__username=actor)
    if target:
        events = events.filter(target_id=target)
    return events

from typing import Any

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

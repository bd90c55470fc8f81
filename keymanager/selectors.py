"""Reads of the Key Manager's records for the pages."""

from django.db.models import QuerySet
from django.utils import timezone

from keymanager.models import IssuedToken


def token_list_live(*, clients) -> QuerySet[IssuedToken]:
    """The unrevoked, unexpired tokens of ``clients``, newest first."""
    return (
        IssuedToken.objects.filter(client__in=clients, revoked=False, expires_at__gt=timezone.now())
        .select_related("client", "user")
        .order_by("-issued_at")
    )


def token_get(*, application, jti: str) -> IssuedToken | None:
    """A token issued through one of ``application``'s keys, by its ``jti``."""
    return IssuedToken.objects.filter(client__application=application, jti=jti).first()

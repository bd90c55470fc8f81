"""Reads of the Key Manager's records for the pages."""

from django.db.models import Q, QuerySet
from django.utils import timezone

from keymanager.models import ApiKey, IssuedToken


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


def api_key_list_live(*, application) -> QuerySet[ApiKey]:
    """``application``'s unrevoked API keys that have not expired, newest first."""
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    return ApiKey.objects.filter(live, application=application, revoked=False).order_by("-issued_at", "-id")


def api_key_get(*, application, jti: str) -> ApiKey | None:
    """One of ``application``'s API keys, by its ``jti``."""
    return ApiKey.objects.filter(application=application, jti=jti).first()

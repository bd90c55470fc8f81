"""The Key Manager's signing keys: made on first use, stored, published as a JWKS."""

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from joserfc.jwk import KeySet, RSAKey

from keymanager.models import ApiKey, IssuedToken, SigningKey
from portal.config_events import config_changed


@transaction.atomic
def signing_key_active() -> SigningKey:
    key = SigningKey.objects.filter(active=True).first()
    if key is None:
        key = signing_key_create()
    return key


def signing_key_create() -> SigningKey:
    kid = uuid.uuid4().hex
    rsa = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)
    return SigningKey.objects.create(
        kid=kid, private_jwk=rsa.as_dict(private=True), public_jwk=rsa.as_dict(private=False)
    )


@transaction.atomic
def signing_key_rotate() -> tuple[SigningKey, list[SigningKey]]:
    """A new key signs from now on; the keys before it stop signing but stay published
    (``jwks``) until every token they signed has expired."""
    now = timezone.now()
    retired = list(SigningKey.objects.select_for_update().filter(active=True))
    SigningKey.objects.filter(pk__in=[k.pk for k in retired]).update(active=False, retired_time=now)
    key = signing_key_create()
    config_changed()  # gateways learn the new key before it signs anything they see
    return key, retired


def _still_needed(key: SigningKey, now) -> bool:
    if key.active or key.retired_time is None:
        return True
    if key.retired_time + dt.timedelta(seconds=settings.TIDEGATE["TOKEN_VALIDITY"]) > now:
        return True  # Internal-Keys and test keys are not recorded; none outlives this
    if IssuedToken.objects.filter(issued_at__lte=key.retired_time, expires_at__gt=now).exists():
        return True
    # API keys may live for years, or never expire (validityPeriod -1): their key stays too.
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    return ApiKey.objects.filter(live, issued_at__lte=key.retired_time, revoked=False).exists()


def jwks() -> dict:
    """Every published public key; retired keys stay until their tokens have expired."""
    signing_key_active()  # the first key is made on first use
    now = timezone.now()
    return {"keys": [k.public_jwk for k in SigningKey.objects.order_by("-created_time") if _still_needed(k, now)]}


def private_key_set() -> KeySet:
    return KeySet([RSAKey.import_key(signing_key_active().private_jwk)])


def public_key_set() -> KeySet:
    return KeySet.import_key_set(jwks())

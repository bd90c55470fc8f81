"""The Key Manager's signing keys: made on first use, stored, published as a JWKS."""

import uuid

from django.db import transaction
from joserfc.jwk import KeySet, RSAKey

from keymanager.models import SigningKey


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


def jwks() -> dict:
    """Every published public key; retired keys stay until their tokens have expired."""
    signing_key_active()  # the first key is made on first use
    return {"keys": [k.public_jwk for k in SigningKey.objects.order_by("-created_time")]}


def private_key_set() -> KeySet:
    return KeySet([RSAKey.import_key(signing_key_active().private_jwk)])


def public_key_set() -> KeySet:
    return KeySet.import_key_set(jwks())

"""What a key manager's JWKS document holds, for the Admin Portal's "Test JWKS": the keys
gateways would verify its tokens with, and what would keep them from doing so. Fetching is
the caller's (the SSRF-guarded ``publisher.fetch.fetch_url``); this only reads the bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from portal.errors import ValidationFailed

# Gateways verify external issuers' tokens with RS256 only (gateway/tokens.py), and pick the
# key by the token's ``kid`` (gateway/jwks.py): the same bound on the document's size.
MAX_JWKS_BYTES = 256 * 1024


@dataclass(frozen=True)
class JwksKey:
    kid: str
    kty: str
    alg: str
    use: str
    note: str  # what is wrong with it for a gateway, "" when nothing


def jwks_keys(body: bytes) -> list[JwksKey]:
    """The keys of a JWKS document, each with a note when gateways cannot use it; or
    ValidationFailed saying why the document is no JWKS."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed("The answer is not JSON, so it is no JWKS document") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValidationFailed('The answer is JSON but no JWKS document: it has no "keys" list')
    if not data["keys"]:
        raise ValidationFailed("The JWKS document has no keys: gateways could verify no token of this issuer")
    try:
        key_set = KeySet.import_key_set(data)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed(f"The JWKS document holds a key that cannot be read: {exc}") from None
    out = []
    for key in key_set.keys:
        alg = str(key.get("alg") or "")
        notes = []
        if key.key_type != "RSA":
            notes.append("not an RSA key: gateways verify RS256 only")
        elif alg and alg != "RS256":
            notes.append(f"alg {alg}: gateways verify RS256 only")
        if not key.kid:
            notes.append("no kid: tokens name their key by kid")
        if key.is_private:
            notes.append("holds PRIVATE key material: a JWKS must publish public keys only")
        out.append(JwksKey(key.kid or "", key.key_type, alg, str(key.get("use") or ""), "; ".join(notes)))
    return out

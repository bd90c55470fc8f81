"""JWT checks at the handshake: RS256 only, signature against the issuer's keys,
``exp``/``nbf``/``iss`` checked. Plain functions over the snapshot's issuers."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import KeySet

from gateway_sync.snapshot import IssuerConfig

ALGORITHMS = ["RS256"]
LEEWAY = 30  # seconds of clock skew tolerated on exp and nbf


class TokenRejected(Exception):
    def __init__(self, code: str, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    issuer: IssuerConfig

    @property
    def scopes(self) -> frozenset[str]:
        scope = self.claims.get("scope") or ""
        return frozenset(scope.split() if isinstance(scope, str) else scope)


class TokenVerifier:
    def __init__(self, issuers: tuple[IssuerConfig, ...] | list[IssuerConfig]):
        # An issuer without keys can verify nothing; it is left out rather than trusted.
        self._issuers = {i.issuer: (i, KeySet.import_key_set(i.jwks)) for i in issuers if i.jwks.get("keys")}

    @property
    def issuers(self) -> dict:
        return self._issuers

    def verify(self, token: str, now: float | None = None) -> VerifiedToken:
        issuer_name = _unverified_issuer(token)
        entry = self._issuers.get(issuer_name)
        if entry is None:
            raise TokenRejected("900901", "Invalid Credentials: the token's issuer is not trusted")
        issuer, keys = entry
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
        except JoseError as exc:
            raise TokenRejected("900901", f"Invalid Credentials: {exc.error or 'bad token'}") from None
        except (ValueError, TypeError):
            raise TokenRejected("900901", "Invalid Credentials: malformed token") from None
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=int(now if now is not None else time.time()),
            leeway=LEEWAY,
            exp={"essential": True},
            iss={"essential": True, "value": issuer.issuer},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenRejected("900903", "Access Token Expired") from None
        except (InvalidClaimError, JoseError) as exc:
            raise TokenRejected("900901", f"Invalid Credentials: {exc.description or exc.error}") from None
        return VerifiedToken(claims, issuer)


def _unverified_issuer(token: str) -> str:
    """Read ``iss`` before verifying, only to pick the keys to verify with."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        iss = data.get("iss") if isinstance(data, dict) else None
    except (IndexError, ValueError, UnicodeDecodeError):
        raise TokenRejected("900901", "Invalid Credentials: malformed token") from None
    if not isinstance(iss, str):
        raise TokenRejected("900901", "Invalid Credentials: token has no issuer")
    return iss

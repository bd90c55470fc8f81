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

from gateway.jwks import JwksCache
from gateway.refusals import Reason
from gateway_contract.snapshot import IssuerConfig

ALGORITHMS = ["RS256"]


class TokenRejected(Exception):
    def __init__(self, reason: Reason, description: str, refresh_issuer: str = ""):
        super().__init__(description)
        self.reason = reason
        self.description = description
        # Set when the token names a key of an external issuer the gateway has not fetched
        # yet: fetching the issuer's JWKS again may let it verify.
        self.refresh_issuer = refresh_issuer


API_KEY_TYPE = "apiKey"  # an API key's token_type claim (WSO2)


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    issuer: IssuerConfig

    @property
    def api_key(self) -> bool:
        """An API key (``token_type: apiKey``): it may have no ``exp`` at all."""
        return self.claims.get("token_type") == API_KEY_TYPE

    @property
    def scopes(self) -> frozenset[str]:
        scope = self.claims.get("scope") or ""
        return frozenset(scope.split() if isinstance(scope, str) else scope)


class TokenVerifier:
    """Verifies tokens of the snapshot's issuers. Keys come inline (the built-in Key Manager,
    /testkey) or, for external issuers, from ``remote_keys`` (a JWKS cache kept by the gateway).

    ``leeway`` is the one clock-skew allowance of the gateway (``TIDEGATE_TOKEN_LEEWAY``,
    docs/gateway.md): a token is expired once ``exp + leeway <= now``, here, in ``judge``
    and for the sweeper alike, and not yet valid while ``now < nbf - leeway``."""

    CACHE_SIZE = 4096

    def __init__(
        self,
        issuers: tuple[IssuerConfig, ...] | list[IssuerConfig],
        remote_keys: JwksCache | None = None,
        leeway: float = 0,
    ):
        self._remote_keys = remote_keys
        self.leeway = leeway
        # Tokens whose signature this verifier checked already, by their exact text. Clients
        # reconnect with the same token (after a drain, a network blip); an RSA check and
        # the JSON around it is a tenth of a handshake's CPU. Expiry is re-checked by
        # judge() on every use, and a new snapshot brings a new verifier with an empty cache.
        self._verified: dict[str, VerifiedToken] = {}
        self._issuers: dict[str, tuple[IssuerConfig, KeySet | None]] = {}
        for i in issuers:
            if i.jwks_url:
                self._issuers[i.issuer] = (i, None)
            elif i.jwks.get("keys"):  # an issuer without keys can verify nothing; left out
                self._issuers[i.issuer] = (i, KeySet.import_key_set(i.jwks))  # type: ignore[arg-type]

    @property
    def issuers(self) -> dict[str, tuple[IssuerConfig, KeySet | None]]:
        return self._issuers

    def verify(self, token: str, now: float | None = None) -> VerifiedToken:
        cached = self._verified.get(token)
        if cached is not None:
            if expired(cached.claims, now if now is not None else time.time(), self.leeway):
                raise TokenRejected(Reason.TOKEN_EXPIRED, "Access Token Expired")
            return cached
        verified = self._verify(token, now)
        if len(self._verified) >= self.CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = verified
        return verified

    def verify_api_key(self, token: str, now: float | None = None) -> VerifiedToken:
        """An API key: signed by an issuer the snapshot holds inline keys for (the Key
        Manager; never an external issuer), ``token_type: apiKey``, ``exp`` only if it has one."""
        key = "apikey:" + token
        cached = self._verified.get(key)
        if cached is None:
            cached = self._verify_api_key(token, now)
            if len(self._verified) >= self.CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[key] = cached
        if expired_api_key(cached.claims, now if now is not None else time.time(), self.leeway):
            raise TokenRejected(Reason.TOKEN_EXPIRED, "API key expired")
        return cached

    def _verify_api_key(self, token: str, now: float | None) -> VerifiedToken:
        issuer_name, _ = _unverified_issuer_and_kid(token)
        entry = self._issuers.get(issuer_name)
        issuer, keys = entry if entry is not None else (None, None)
        if issuer is None or keys is None or issuer.jwks_url:
            raise TokenRejected(Reason.INVALID_CREDENTIALS, "Invalid Credentials: the API key's issuer is not trusted")
        try:
            claims = jwt.decode(token, keys, algorithms=ALGORITHMS).claims
            jwt.JWTClaimsRegistry(
                now=int(now if now is not None else time.time()),
                leeway=int(self.leeway),
                iss={"essential": True, "value": issuer.issuer},
                jti={"essential": True},
            ).validate(claims)
        except ExpiredTokenError:
            raise TokenRejected(Reason.TOKEN_EXPIRED, "API key expired") from None
        except JoseError as exc:
            raise TokenRejected(
                Reason.INVALID_CREDENTIALS, f"Invalid Credentials: {exc.description or exc.error or 'bad API key'}"
            ) from None
        except (ValueError, TypeError):
            raise TokenRejected(Reason.INVALID_CREDENTIALS, "Invalid Credentials: malformed API key") from None
        if claims.get("token_type") != API_KEY_TYPE:
            raise TokenRejected(Reason.INVALID_CREDENTIALS, "Invalid Credentials: this is not an API key")
        return VerifiedToken(claims, issuer)

    def _verify(self, token: str, now: float | None) -> VerifiedToken:
        issuer_name, kid = _unverified_issuer_and_kid(token)
        entry = self._issuers.get(issuer_name)
        if entry is None:
            raise TokenRejected(Reason.INVALID_CREDENTIALS, "Invalid Credentials: the token's issuer is not trusted")
        issuer, keys = entry
        if issuer.jwks_url:
            keys = self._remote_keys.get(issuer.issuer) if self._remote_keys else None
        if keys is None or (issuer.jwks_url and kid and kid not in {k.kid for k in keys.keys}):
            raise TokenRejected(
                Reason.INVALID_CREDENTIALS, "Invalid Credentials: unknown signing key", refresh_issuer=issuer.issuer
            )
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
        except JoseError as exc:
            raise TokenRejected(
                Reason.INVALID_CREDENTIALS, f"Invalid Credentials: {exc.error or 'bad token'}"
            ) from None
        except (ValueError, TypeError):
            raise TokenRejected(Reason.INVALID_CREDENTIALS, "Invalid Credentials: malformed token") from None
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=int(now if now is not None else time.time()),
            leeway=int(self.leeway),
            exp={"essential": True},
            iss={"essential": True, "value": issuer.issuer},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenRejected(Reason.TOKEN_EXPIRED, "Access Token Expired") from None
        except (InvalidClaimError, JoseError) as exc:
            raise TokenRejected(
                Reason.INVALID_CREDENTIALS, f"Invalid Credentials: {exc.description or exc.error}"
            ) from None
        return VerifiedToken(claims, issuer)


def expires_at(claims: dict[str, Any]) -> float | None:
    """The token's ``exp`` as a number, or None when it has none."""
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) else None


def expired(claims: dict[str, Any], now: float, leeway: float) -> bool:
    """The one expiry rule of the gateway: expired once ``exp + leeway <= now``; a token
    without a numeric ``exp`` counts as expired (the signature check requires one)."""
    exp = expires_at(claims)
    return exp is None or exp + leeway <= now


def expired_api_key(claims: dict[str, Any], now: float, leeway: float) -> bool:
    """An API key expires at its ``exp`` like a token; one without ``exp`` never does."""
    return "exp" in claims and expired(claims, now, leeway)


def _segment(part: str) -> dict[str, Any]:
    data = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _unverified_issuer_and_kid(token: str) -> tuple[str, str]:
    """Read ``iss`` and ``kid`` before verifying, only to pick the keys to verify with."""
    try:
        header_part, payload_part = token.split(".")[:2]
        iss = _segment(payload_part).get("iss")
        kid = _segment(header_part).get("kid") or ""
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise TokenRejected(Reason.INVALID_CREDENTIALS, "Invalid Credentials: malformed token") from None
    if not isinstance(iss, str):
        raise TokenRejected(Reason.INVALID_CREDENTIALS, "Invalid Credentials: token has no issuer")
    return iss, kid if isinstance(kid, str) else ""

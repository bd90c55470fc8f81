"""The backend JWT: who is speaking, told to the backend in a header of the backend
handshake (WSO2's ``X-JWT-Assertion``), for APIs that ask for it (``ApiConfig.backend_jwt_header``).

Claims carry WSO2's names (``http://wso2.org/claims/...``: subscriber, application id,
name and tier, API name, context and version, subscription tier, key type, end user,
client id) beside ``iss``, ``sub``, ``iat``, ``exp`` and ``scope``. The JWT is signed RS256
by the gateway's own key, made on first run in its data directory
(``gateway/backend-jwt-jwk.json``); its public half is served at ``GET /.well-known/jwks.json``
on the gateway's ports, so a backend can verify it.

Signing is the expensive part (an RSA signature), so a JWT is kept and reused while the
client's token lasts: the same token, API and application get the same JWT until it
expires, from a cache of at most ``CACHE_SIZE`` entries (least recently used go first).
Any claim that differs (a new plan, a renamed application) is another entry.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gateway.testkey import rsa_key_load_or_create

if TYPE_CHECKING:
    from gateway.decisions import Admission

DEFAULT_HEADER = "X-JWT-Assertion"
DEFAULT_ISSUER = "wso2.org/products/am"  # WSO2's default backend JWT issuer
CLAIMS = "http://wso2.org/claims/"
# A token without ``exp`` (an issuer may leave it out): the JWT still expires, after this long.
FALLBACK_VALIDITY = 900


class BackendJwtSigner:
    CACHE_SIZE = 4096

    def __init__(
        self,
        *,
        key_path: Path | None,
        issuer: str = DEFAULT_ISSUER,
        clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.issuer = issuer
        self.clock = clock
        self.cache_size = cache_size
        # Without a data directory (some tests), a key of this process's own.
        self.key: RSAKey = (
            rsa_key_load_or_create(key_path, "backend-jwt")
            if key_path is not None
            else RSAKey.generate_key(2048, parameters={"kid": "backend-jwt-ephemeral", "alg": "RS256"}, private=True)
        )
        self._keys = KeySet([self.key])
        self._header = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}
        self._cache: OrderedDict[tuple[tuple[str, Any], ...], tuple[str, int]] = OrderedDict()
        self.signed = 0  # JWTs signed (cache misses), for tests and /metrics-minded readers

    def jwks(self) -> dict[str, Any]:
        """The public half, as a JWKS document."""
        return {"keys": [self.key.as_dict(private=False)]}

    def claims(self, admission: Admission) -> dict[str, Any]:
        """What the backend is told of the connection ``admission`` opens (without iat/exp)."""
        token = admission.token
        assert token is not None  # only connections admitted on a token get a backend JWT
        tc = token.claims
        api, app, sub = admission.match.api, admission.application, admission.subscription
        end_user = str(tc.get("sub") or "")
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": end_user,
            CLAIMS + "subscriber": app.owner if app else end_user,
            CLAIMS + "applicationid": app.id if app else "",
            CLAIMS + "applicationUUId": app.id if app else "",
            CLAIMS + "applicationname": app.name if app else "",
            CLAIMS + "applicationtier": app.policy if app else "",
            CLAIMS + "apiname": api.name,
            CLAIMS + "apicontext": f"{api.context}/{api.version}",
            CLAIMS + "version": api.version,
            CLAIMS + "tier": sub.policy if sub else "",
            CLAIMS + "keytype": admission.key_type,
            CLAIMS + "enduser": end_user,
            "scope": " ".join(sorted(token.scopes)),
        }
        client_id = tc.get("azp") or tc.get("client_id")
        if isinstance(client_id, str):
            claims[CLAIMS + "client_id"] = client_id
        return claims

    def assertion(self, admission: Admission) -> str:
        """The signed JWT for ``admission``: from the cache while the one made for the same
        claims has not expired, else signed now (and kept)."""
        claims = self.claims(admission)
        now = int(self.clock())
        token_exp = admission.token.claims.get("exp") if admission.token else None
        exp = int(token_exp) if isinstance(token_exp, int | float) and not isinstance(token_exp, bool) else 0
        key = (*sorted(claims.items()), ("exp", exp))
        hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            self._cache.move_to_end(key)
            return hit[0]
        expires = exp if exp else now + FALLBACK_VALIDITY
        signed = jwt.encode(self._header, {**claims, "iat": now, "exp": expires}, self._keys)
        self.signed += 1
        self._cache[key] = (signed, expires)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return signed

    def __len__(self) -> int:
        return len(self._cache)

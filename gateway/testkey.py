"""The gateway's own ``/testkey`` issuer (Choreo Connect's): a key made on first run and
kept in the data directory, and RS256 tokens for gateway users that need no subscription."""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from pathlib import Path

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gateway_contract.datadir import write_private_file
from gateway_contract.snapshot import IssuerConfig

AUDIENCE = "http://org.wso2.apimgt/gateway"


def rsa_key_load_or_create(path: Path, kid_prefix: str) -> RSAKey:
    """The gateway's RS256 key kept at ``path`` (a private JWK, mode 0600), made on first run."""
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = RSAKey.generate_key(
        2048, parameters={"kid": f"{kid_prefix}-{uuid.uuid4().hex[:12]}", "alg": "RS256", "use": "sig"}, private=True
    )
    write_private_file(path, json.dumps(key.as_dict(private=True)))
    return key


class TestKeyIssuer:
    __test__ = False  # not a pytest class

    def __init__(self, *, issuer: str, key_path: Path, users: str, validity: int = 3600):
        self.issuer = issuer
        self.validity = validity
        self.users = dict(u.split(":", 1) for u in users.split(",") if ":" in u)
        self.key = rsa_key_load_or_create(key_path, "testkey")

    def issuer_config(self) -> IssuerConfig:
        return IssuerConfig(
            issuer=self.issuer,
            jwks={"keys": [self.key.as_dict(private=False)]},
            validate_subscription=False,
            consumer_key_claim="",
        )

    def authenticate(self, authorization: str | None) -> tuple[str | None, int, str]:
        """Check ``Authorization: Basic``; returns (user, status, reason) with user None on failure."""
        if not authorization:
            return (
                None,
                401,
                "User is NOT authorized to generate a token. Please provide a valid Authorization header to continue.",
            )
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return (
                None,
                401,
                "User is NOT authorized to generate a token. Please provide a valid Authorization header to continue.",
            )
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except ValueError:  # binascii.Error, UnicodeDecodeError, and text outside ASCII (HTTP allows it)
            return None, 400, "Error occurred while processing the request."
        expected = self.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return None, 401, "Wrong username or password. Please provide valid credentials."
        return user, 200, ""

    def issue(self, *, user: str, scope: str = "") -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": user,
            "keytype": "PRODUCTION",
            "iat": now,
            "exp": now + self.validity,
            "jti": str(uuid.uuid4()),
        }
        if scope:
            claims["scope"] = scope
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": self.key.kid}, claims, KeySet([self.key]))

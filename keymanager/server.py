"""The OAuth2 authorization server (Authlib) and the JWT access tokens it issues.

Tokens are RS256 JWTs with a ``kid`` and WSO2's claims: ``iss``, ``sub`` (the application
owner), ``aud``, ``azp`` (the consumer key), ``scope``, ``keytype``, ``iat``, ``exp``, ``jti``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import time
from typing import Any

from authlib.integrations.django_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from django.conf import settings
from joserfc import jwt
from joserfc.errors import JoseError

from keymanager import signing
from keymanager.models import IssuedToken, OAuthClient

GATEWAY_AUDIENCE = "http://org.wso2.apimgt/gateway"

# Authlib's JWT generator takes its lifetime from the grant; a caller asking for another
# validity (Dev Portal "generate token") sets it here for the one call.
_validity: contextvars.ContextVar[int | None] = contextvars.ContextVar("validity", default=None)


class TokenGenerator(JWTBearerTokenGenerator):
    def get_jwks(self):
        return signing.private_key_set()

    def get_audiences(self, client, user, scope):
        return [client.get_client_id(), GATEWAY_AUDIENCE]

    def get_extra_claims(self, client: OAuthClient, grant_type, user, scope) -> dict[str, Any]:
        application = client.application
        claims = {
            "sub": application.owner.get_username(),
            "azp": client.client_id,
            "keytype": client.key_type,
            "aut": "APPLICATION_USER" if user else "APPLICATION",
            "application": {
                "uuid": str(application.id),
                "name": application.name,
                "owner": application.owner.get_username(),
                "tier": application.throttling_policy,
            },
        }
        validity = _validity.get()
        if validity:
            claims["exp"] = int(time.time()) + validity
        return claims


class TidegateAuthorizationServer(AuthorizationServer):
    def query_client(self, client_id):
        return OAuthClient.objects.select_related("application__owner").filter(client_id=client_id).first()

    def save_token(self, token, request):
        token_record(token["access_token"], request.client)


def token_record(access_token: str, client: OAuthClient) -> IssuedToken:
    """Remember a token by its jti (never the token itself), for listing and revocation."""
    claims = jwt.decode(access_token, signing.private_key_set()).claims
    return IssuedToken.objects.create(
        jti=claims["jti"],
        client=client,
        scope=claims.get("scope") or "",
        issued_at=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
        expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
    )


class TokenRevocation(RevocationEndpoint):
    """RFC 7009. Access tokens are JWTs: one is found by its ``jti`` once its signature is ours."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        try:
            claims = jwt.decode(token_string, signing.public_key_set()).claims
        except (JoseError, ValueError):
            return None
        return IssuedToken.objects.select_related("client__application").filter(jti=claims.get("jti")).first()

    def revoke_token(self, token, request):
        from keymanager.services import token_revoke

        token_revoke(token=token)


def _expires_in(client, grant_type) -> int:
    return settings.TIDEGATE["TOKEN_VALIDITY"]


generator = TokenGenerator(issuer=settings.TIDEGATE["KEY_MANAGER_ISSUER"], expires_generator=_expires_in)

server = TidegateAuthorizationServer(OAuthClient, IssuedToken)
server.register_token_generator("default", generator)
server.register_grant(grants.ClientCredentialsGrant)
server.register_endpoint(TokenRevocation)


def token_issue(*, client: OAuthClient, scope: str = "", validity: int | None = None) -> dict[str, Any]:
    """Issue a token for a client the caller already trusts (its owner, signed in)."""
    expires_in = validity if validity and validity > 0 else settings.TIDEGATE["TOKEN_VALIDITY"]
    reset = _validity.set(expires_in)
    try:
        token = generator.generate(
            grant_type="client_credentials", client=client, user=None, scope=scope, expires_in=expires_in
        )
    finally:
        _validity.reset(reset)
    token_record(token["access_token"], client)
    return token


def internal_key_issue(*, api, user, validity: int = 3600) -> str:
    """A Publisher try-out key (WSO2's Internal-Key): a self-contained JWT naming this one API."""
    import uuid

    now = int(time.time())
    claims = {
        "iss": settings.TIDEGATE["KEY_MANAGER_ISSUER"],
        "sub": user.get_username(),
        "keytype": "PRODUCTION",
        "token_type": "InternalKey",
        "iat": now,
        "exp": now + validity,
        "jti": str(uuid.uuid4()),
        "subscribedAPIs": [
            {
                "name": api.name,
                "context": f"{api.context}/{api.version}",
                "version": api.version,
                "publisher": api.provider.get_username(),
            }
        ],
    }
    return jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, signing.private_key_set())

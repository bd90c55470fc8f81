"""The OAuth2 authorization server (Authlib) and the JWT access tokens it issues.

Tokens are RS256 JWTs with a ``kid`` and WSO2's claims: ``iss``, ``sub`` (the application
owner), ``aud``, ``azp`` (the consumer key), ``scope``, ``keytype``, ``iat``, ``exp``, ``jti``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import secrets
import time
import uuid
from typing import Any

from authlib.integrations.django_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.db import transaction
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import JoseError

from keymanager import signing
from keymanager.models import InternalKey, IssuedToken, OAuthClient
from keymanager.scopes import ScopeRefused, narrow
from keymanager.services import token_revoke
from portal.roles import has_role
from portal.twofactor import basic_refusal

CLIENT_AUTH = ["client_secret_basic", "client_secret_post"]


class ResourceOwner:
    """A signed-in user as Authlib sees one (it asks for ``get_user_id``)."""

    def __init__(self, user):
        self.user = user

    def get_user_id(self) -> str:
        return self.user.get_username()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


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
            "sub": user.get_user_id() if user else application.owner.get_username(),
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

    def generate_token(self, grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):
        """Every grant's scopes are narrowed to what the subject may hold (keymanager.scopes).
        No grant issues a token for an inactive user, nor through an inactive owner's keys."""
        owner = client.application.owner
        if user is not None and not user.user.is_active:
            raise InvalidGrantError("The user is inactive")
        if not owner.is_active:
            raise UnauthorizedClientError("The application's owner is inactive")
        subject = user.user if user else owner
        try:
            scope = narrow(application=client.application, subject=subject, requested=scope or "")
        except ScopeRefused as exc:
            raise InvalidScopeError(str(exc)) from None
        return super().generate_token(
            grant_type,
            client,
            user=user,
            scope=scope,
            expires_in=expires_in,
            include_refresh_token=include_refresh_token,
        )

    def save_token(self, token, request):
        user = getattr(request, "user", None)
        token_record(
            token["access_token"],
            request.client,
            user=user.user if user else None,
            grant_type=request.payload.grant_type,
            refresh_token=token.get("refresh_token", ""),
        )


def token_record(
    access_token: str,
    client: OAuthClient,
    *,
    user=None,
    grant_type: str = "client_credentials",
    refresh_token: str = "",
) -> IssuedToken:
    """Remember a token by its jti (never the token itself), for listing and revocation;
    a refresh token only by its digest."""
    claims = jwt.decode(access_token, signing.private_key_set()).claims
    return IssuedToken.objects.create(
        jti=claims["jti"],
        client=client,
        user=user,
        grant_type=grant_type,
        scope=claims.get("scope") or "",
        issued_at=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
        expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        refresh_digest=_digest(refresh_token) if refresh_token else "",
        refresh_expires_at=timezone.now() + dt.timedelta(seconds=settings.TIDEGATE["REFRESH_TOKEN_VALIDITY"])
        if refresh_token
        else None,
    )


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    """RFC 6749 4.3: the user's own name and password, for an application's keys."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    def authenticate_user(self, username, password):
        # Django's own request, so django-axes counts a wrong password and refuses a
        # locked-out (user, address) pair (portal/throttle.py).
        user = authenticate(self.request._request, username=username, password=password)
        if user is None or not user.is_active:
            # RFC 6749 5.2: invalid resource owner credentials are invalid_grant.
            raise InvalidGrantError("Invalid 'username' or 'password'")
        # The password alone is not enough for an account that signs in with two factors.
        if basic_refusal(user):
            raise InvalidGrantError(
                "This account signs in with two-factor authentication, which the password grant cannot carry; "
                "use the client_credentials grant or API keys for scripts"
            )
        return ResourceOwner(user)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 4.4, with the same client authentication as the other grants (Authlib's
    default takes HTTP Basic only)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH


def refresh_claim(record: IssuedToken) -> bool:
    """Use up ``record``'s refresh token: True for the one caller whose conditional UPDATE
    found it still unused, unrevoked and unexpired; False for everyone else, however many
    ask at once and in however many processes (the row is locked by the first until its
    transaction ends; on SQLite the transaction itself is exclusive)."""
    claimed = IssuedToken.objects.filter(
        pk=record.pk,
        refresh_digest=record.refresh_digest,
        revoked=False,
        refresh_expires_at__gt=timezone.now(),
    ).update(refresh_digest="", refresh_expires_at=None)
    return bool(record.refresh_digest) and claimed == 1


class RefreshGrant(grants.RefreshTokenGrant):
    """RFC 6749 6: a refresh token is used once; the answer carries a new one.

    The token is claimed (``refresh_claim``) in the transaction that issues and records the
    new pair: of simultaneous requests with one token exactly one gets a pair; a failure
    after the claim (an inactive user, a refused scope) rolls it back; a revocation that
    found the token live either came first (the claim finds it revoked) or waits for the
    claim and then finds no such token (``TokenRevocation`` locks the row it revokes)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        return (
            IssuedToken.objects.select_related("client__application__owner", "user")
            .filter(refresh_digest=_digest(refresh_token), refresh_expires_at__gt=timezone.now(), revoked=False)
            .first()
        )

    def create_token_response(self):
        with transaction.atomic():
            if not refresh_claim(self.request.refresh_token):
                raise InvalidGrantError()
            return super().create_token_response()

    def authenticate_user(self, credential):
        if not credential.user_id:
            return None
        if not credential.user.is_active:
            raise InvalidGrantError("The user is inactive")
        # A password-grant token's refresh carries no second factor either: once the account
        # signs in with one (or must), the chain the password started ends here.
        if basic_refusal(credential.user):
            raise InvalidGrantError("This account now signs in with two-factor authentication; sign in again")
        return ResourceOwner(credential.user)

    def revoke_old_credential(self, credential):
        """Nothing left to do: ``refresh_claim`` used it up before the new pair was issued."""


class TokenIntrospection(IntrospectionEndpoint):
    """RFC 7662, for resource servers: a client may introspect the tokens issued to it;
    a client whose application belongs to an admin may introspect any."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def query_token(self, token, token_type_hint):
        record = issued_token(token)
        subject = record and (record.user if record.user_id else record.client.application.owner)
        # A deactivated user's tokens are no longer active (RFC 7662 2.2 leaves "active" to us).
        return record if subject is not None and subject.is_active else None

    def check_permission(self, token, client, request) -> bool:
        owner = client.application.owner
        # A deactivated owner's client introspects nothing (it gets no token either).
        return owner.is_active and (token.client_id == client.pk or has_role(owner, "admin"))

    def introspect_token(self, token) -> dict[str, Any]:
        claims = token.claims
        return {
            "active": True,
            "client_id": token.client.client_id,
            "username": claims.get("sub"),
            "scope": token.scope,
            "token_type": "Bearer",
            "exp": claims["exp"],
            "iat": claims["iat"],
            "sub": claims.get("sub"),
            "aud": claims.get("aud"),
            "iss": claims.get("iss"),
            "jti": token.jti,
            "keytype": claims.get("keytype"),
        }


def _records(lock: bool):
    records = IssuedToken.objects.select_related("client__application__owner", "user")
    return records.select_for_update(of=("self",)) if lock else records


def issued_token(text: str, *, lock: bool = False) -> IssuedToken | None:
    """The record of an access token this Key Manager signed, found by its ``jti`` once the
    signature checks, with the token's claims as ``.claims``; None for anything else.
    Expiry and revocation are the caller's to judge. ``lock``: row-locked for the caller's
    transaction."""
    try:
        claims = jwt.decode(text, signing.public_key_set()).claims
    except (JoseError, ValueError, TypeError):  # TypeError: joserfc on odd header members ("crit": 1)
        return None
    if not isinstance(claims, dict):
        return None
    record = _records(lock).filter(jti=claims.get("jti")).first()
    if record is not None:
        record.claims = claims
    return record


def refreshable_token(text: str, *, lock: bool = False) -> IssuedToken | None:
    """The record a refresh token was issued with, until it is used (revoked or expired or not)."""
    if not text:
        return None
    return _records(lock).filter(refresh_digest=_digest(text)).first()


class TokenRevocation(RevocationEndpoint):
    """RFC 7009. Access tokens are JWTs: one is found by its ``jti`` once its signature is ours;
    a refresh token by its digest. Either finds the record of the pair, and revoking it
    revokes both: the access token is refused and the refresh token no longer refreshes.
    The hint only says which to look for first (section 2.1).

    The lookup locks the row until the revocation is written (``create_endpoint_response``
    runs in one transaction), so a refresh racing it is ordered: one that claimed the token
    first leaves no such refresh token to find; one after it finds the token revoked."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def create_endpoint_response(self, request):
        with transaction.atomic():
            return super().create_endpoint_response(request)

    def query_token(self, token_string, token_type_hint):
        lookups = [issued_token, refreshable_token]
        if token_type_hint == "refresh_token":
            lookups.reverse()
        for lookup in lookups:
            record = lookup(token_string, lock=True)
            if record is not None:
                return record
        return None

    def revoke_token(self, token, request):
        token_revoke(token=token)


def _expires_in(client, grant_type) -> int:
    return settings.TIDEGATE["TOKEN_VALIDITY"]


def _refresh_token(**kwargs) -> str:
    return secrets.token_urlsafe(32)


generator = TokenGenerator(
    issuer=settings.TIDEGATE["KEY_MANAGER_ISSUER"],
    expires_generator=_expires_in,
    refresh_token_generator=_refresh_token,
)

server = TidegateAuthorizationServer(OAuthClient, IssuedToken)
server.register_token_generator("default", generator)
server.register_grant(ClientCredentialsGrant)
server.register_grant(PasswordGrant)
server.register_grant(RefreshGrant)
server.register_endpoint(TokenRevocation)
server.register_endpoint(TokenIntrospection)


def token_issue(*, client: OAuthClient, scope: str = "", validity: int | None = None) -> dict[str, Any]:
    """Issue a token for a client the caller already trusts (its owner, signed in).
    Raises ScopeRefused when scopes were asked for and none can be granted."""
    expires_in = validity if validity and validity > 0 else settings.TIDEGATE["TOKEN_VALIDITY"]
    scope = narrow(application=client.application, subject=client.application.owner, requested=scope)
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
    key = jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, signing.private_key_set())
    with transaction.atomic():
        # Locked as user_deactivate locks it: a deactivation that commits while this request
        # runs is either seen here (the key is recorded revoked) or revokes the record.
        holder = get_user_model().objects.select_for_update().get(pk=user.pk)
        InternalKey.objects.create(
            jti=claims["jti"],
            user=holder,
            issued_at=dt.datetime.fromtimestamp(now, dt.UTC),
            expires_at=dt.datetime.fromtimestamp(now + validity, dt.UTC),
            revoked=not holder.is_active,
        )
    return key

import datetime as dt
import ipaddress
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import JoseError

from gateway_contract.deltas import TokensRevoked
from keymanager import signing
from keymanager.models import ApiKey, InternalKey, IssuedToken, KeyType, OAuthClient
from portal.audit import audit_record
from portal.config_events import config_changed
from portal.errors import Conflict, NotFound, ValidationFailed
from portal.users import admin_removal_check, admins_lock

SUPPORTED_GRANTS = ("client_credentials", "password", "refresh_token")


@transaction.atomic
def keys_generate(*, application, key_type: str, grant_types: list[str] | None, user) -> tuple[OAuthClient, str]:
    """Make a consumer key and secret for one key type of a Dev Portal ``application``.
    Returns the client and the secret, which is not stored (only its digest) and so can be
    shown this once."""
    if key_type not in KeyType.values:
        raise ValidationFailed(f"keyType must be PRODUCTION or SANDBOX (got {key_type!r})")
    grant_types = list(grant_types or SUPPORTED_GRANTS)
    unknown = [g for g in grant_types if g not in SUPPORTED_GRANTS]
    if unknown:
        raise ValidationFailed(f"Unsupported grant types {unknown}; supported: {', '.join(SUPPORTED_GRANTS)}")
    if OAuthClient.objects.filter(application=application, key_type=key_type).exists():
        raise Conflict(f"{key_type} keys already exist for this application; regenerate the secret instead")
    secret = secrets.token_urlsafe(32)
    client = OAuthClient.objects.create(
        application=application,
        key_type=key_type,
        client_id=secrets.token_urlsafe(21),
        client_secret_digest=OAuthClient.digest(secret),
        grant_types=grant_types,
    )
    audit_record(
        actor=user,
        action="keys.generate",
        target=application,
        detail={"keyType": key_type, "consumerKey": client.client_id},
    )
    config_changed()
    return client, secret


@transaction.atomic
def secret_regenerate(*, client: OAuthClient, user) -> str:
    """A new consumer secret; every token made with the old one is revoked, so the gateway
    closes their connections (4001). Returns the new secret, shown once."""
    secret = secrets.token_urlsafe(32)
    client.client_secret_digest = OAuthClient.digest(secret)
    client.save(update_fields=["client_secret_digest"])
    live = client.tokens.filter(revoked=False, expires_at__gt=timezone.now())
    jtis = list(live.values_list("jti", flat=True))
    live.update(revoked=True)
    audit_record(
        actor=user,
        action="keys.regenerate-secret",
        target=client.application,
        detail={"consumerKey": client.client_id, "tokensRevoked": len(jtis)},
    )
    config_changed(TokensRevoked(jtis=tuple(jtis)))
    return secret


@transaction.atomic
def token_revoke(*, token: IssuedToken, user=None) -> None:
    if token.revoked:
        return
    token.revoked = True
    token.save(update_fields=["revoked"])
    audit_record(actor=user, action="token.revoke", target=token.client.application, detail={"jti": token.jti})
    config_changed(TokensRevoked(jtis=(token.jti,)))


@transaction.atomic
def keys_remove(*, client: OAuthClient, user) -> None:
    """Remove a consumer key (WSO2's clean-up); its tokens stop working and the gateway
    closes their connections (4001)."""
    audit_record(
        actor=user,
        action="keys.remove",
        target=client.application,
        detail={"consumerKey": client.client_id, "keyType": client.key_type},
    )
    client.delete()
    config_changed()


def tokens_purge(*, now=None, keep_days: int = 1) -> int:
    """Forget tokens that expired more than ``keep_days`` ago and whose refresh token (if
    any) is no longer usable; the token list and revocation only need the live ones."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=keep_days)
    stale = IssuedToken.objects.filter(expires_at__lt=cutoff).exclude(refresh_expires_at__gt=now)
    deleted, _ = stale.delete()
    internal, _ = InternalKey.objects.filter(expires_at__lt=cutoff).delete()
    return deleted + internal


@transaction.atomic
def user_deactivate(*, user, acting_user) -> int:
    """Take a user's access away: they can no longer sign in, every token and API key of an
    application they own, every password-grant token and every Publisher try-out key
    (Internal-Key) issued to them is revoked, and gateways drop their applications and close those
    connections (4002; 4001 for their password-grant tokens on other people's applications
    and their try-out keys). The one way to deactivate, for the Django
    admin, ``manage.py deactivate_user`` and the Admin REST. Returns how many tokens were
    revoked. ``acting_user`` is None for an operator at the command line. The last active
    admin cannot be deactivated (Conflict: portal.users.admin_removal_check)."""
    admins_lock()
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    if acting_user is not None and acting_user.pk == user.pk:
        raise Conflict("You cannot deactivate yourself; ask another administrator")
    admin_removal_check(user=user, what="deactivating them")
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    # Every unrevoked one, expired or not: a revoked token's refresh token is refused too.
    tokens = IssuedToken.objects.filter(Q(client__application__owner=user) | Q(user=user), revoked=False)
    revoked = tokens.update(revoked=True)
    revoked += InternalKey.objects.filter(user=user, revoked=False, expires_at__gt=timezone.now()).update(revoked=True)
    # Their applications' API keys too: left unrevoked, they worked again on reactivation.
    revoked += ApiKey.objects.filter(application__owner=user, revoked=False).update(revoked=True)
    audit_record(
        actor=acting_user,
        action="user.deactivate",
        target=user,
        detail={"username": user.get_username(), "wasActive": was_active, "tokensRevoked": revoked},
    )
    # One full snapshot rather than a revocation delta: gateways must also learn that the
    # user's applications are gone, so their connections close with 4002.
    config_changed()
    return revoked


def user_deleted(**_signal: Any) -> None:
    """A user removed outright rather than deactivated (``manage.py shell``, a cascade):
    gateways fetch the snapshot again, which no longer has their applications and lists
    their Publisher try-out keys as revoked (connected to the user model's post_delete)."""
    config_changed()


# Sign-ups waiting for an administrator's approval are the Dev Portal's (devportal.Workflow,
# above this app): it registers at start-up (devportal/apps.py) what says why an account may
# not simply be activated. Approving the sign-up is how such an account gets in.
ActivationHold = Callable[[Any], str | None]
_activation_hold: ActivationHold | None = None


def user_activation_hold_register(hold: ActivationHold) -> None:
    """``hold(user)``: why ``user`` may not be activated here (its sign-up waits for approval
    or was rejected), or None."""
    global _activation_hold
    _activation_hold = hold


@transaction.atomic
def user_activate(*, user, acting_user, approving_signup: bool = False) -> None:
    """Let a deactivated user back in. Their applications return to gateways; the tokens
    revoked when they were deactivated stay revoked (they get new ones). An account whose
    sign-up waits for approval, or was rejected, is refused (409): it is let in by approving
    its request (``approving_signup``, from the Dev Portal's workflow), not around it."""
    if not approving_signup and _activation_hold is not None:
        reason = _activation_hold(user)
        if reason:
            raise Conflict(reason)
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    was_active = user.is_active
    if not was_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    audit_record(
        actor=acting_user,
        action="user.activate",
        target=user,
        detail={"username": user.get_username(), "wasActive": was_active},
    )
    config_changed()


# ------------------------------------------------------------------ API keys

API_KEY_MAX_VALIDITY = 10 * 365 * 24 * 3600
API_KEY_MAX_RESTRICTIONS = 20


def _restriction_list(value: str, field: str, check) -> str:
    """A comma-separated list of entries, each checked by ``check`` (a message when it is
    not acceptable); returned normalised ("a, b" becomes "a,b"), "" for none."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a comma-separated text", details=[{"field": field, "message": "text"}])
    entries = [e.strip() for e in value.split(",") if e.strip()]
    if len(entries) > API_KEY_MAX_RESTRICTIONS:
        raise ValidationFailed(f"{field} holds at most {API_KEY_MAX_RESTRICTIONS} entries")
    for entry in entries:
        problem = check(entry)
        if problem:
            raise ValidationFailed(f"{field}: {problem}", details=[{"field": field, "message": problem}])
    return ",".join(entries)


def _ip_problem(entry: str) -> str:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return f"{entry[:60]!r} is not an IP address or CIDR range (e.g. 192.0.2.10 or 192.0.2.0/24)"
    return ""


def _referer_problem(entry: str) -> str:
    if len(entry) > 255 or any(c.isspace() for c in entry):
        return f"{entry[:60]!r} is not a referer pattern (no spaces, at most 255 characters; * for any text)"
    return ""


@transaction.atomic
def api_key_generate(
    *, application, key_type: str, validity_period: int, permitted_ip: str = "", permitted_referer: str = "", user
) -> tuple[ApiKey, str]:
    """An API key for ``application`` and ``key_type`` (WSO2's self-contained API key JWT,
    signed with the Key Manager's key): returned with its record, shown this once and never
    stored. ``validity_period`` is in seconds, -1 for a key that does not expire."""
    if key_type not in KeyType.values:
        raise ValidationFailed(f"keyType must be PRODUCTION or SANDBOX (got {key_type!r})")
    if (
        not isinstance(validity_period, int)
        or isinstance(validity_period, bool)
        or not (validity_period == -1 or 0 < validity_period <= API_KEY_MAX_VALIDITY)
    ):
        raise ValidationFailed(
            f"validityPeriod must be -1 (no expiry) or a number of seconds from 1 to {API_KEY_MAX_VALIDITY}",
            details=[{"field": "validityPeriod", "message": "-1 or seconds"}],
        )
    permitted_ip = _restriction_list(permitted_ip, "permittedIP", _ip_problem)
    permitted_referer = _restriction_list(permitted_referer, "permittedReferer", _referer_problem)
    now = int(time.time())
    owner = application.owner.get_username()
    subscriptions = list(application.subscriptions.select_related("api__provider"))
    claims = {
        "sub": owner,
        "application": {
            "owner": owner,
            "tier": application.throttling_policy,
            "name": application.name,
            "id": str(application.id),
            "uuid": str(application.id),
        },
        "iss": settings.TIDEGATE["KEY_MANAGER_ISSUER"],
        "tierInfo": {
            tier: {"stopOnQuotaReach": True, "spikeArrestLimit": 0, "spikeArrestUnit": None}
            for tier in sorted({sub.throttling_policy for sub in subscriptions})
        },
        "keytype": key_type,
        "subscribedAPIs": [
            {
                "subscriberTenantDomain": "carbon.super",
                "name": sub.api.name,
                "context": f"{sub.api.context}/{sub.api.version}",
                "publisher": sub.api.provider.get_username(),
                "version": sub.api.version,
                "subscriptionTier": sub.throttling_policy,
            }
            for sub in subscriptions
        ],
        "token_type": "apiKey",
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    if permitted_ip:
        claims["permittedIP"] = permitted_ip
    if permitted_referer:
        claims["permittedReferer"] = permitted_referer
    if validity_period != -1:
        claims["exp"] = now + validity_period
    key = signing.signing_key_active()
    header = {"typ": "JWT", "alg": "RS256", "kid": key.kid}
    apikey = jwt.encode(header, claims, signing.private_key_set())
    issued = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    record = ApiKey.objects.create(
        jti=claims["jti"],
        application=application,
        key_type=key_type,
        issued_at=issued,
        expires_at=issued + dt.timedelta(seconds=validity_period) if validity_period != -1 else None,
        permitted_ip=permitted_ip,
        permitted_referer=permitted_referer,
    )
    audit_record(
        actor=user,
        action="apikey.generate",
        target=application,
        detail={
            "keyType": key_type,
            "jti": record.jti,
            "validityPeriod": validity_period,
            "permittedIP": permitted_ip,
            "permittedReferer": permitted_referer,
        },
    )
    config_changed()  # gateways learn the application (its subscriptions) API keys name
    return record, apikey


def api_key_find(*, application, key_type: str, apikey: str) -> ApiKey:
    """The record of ``apikey``, an API key of ``application`` and ``key_type`` issued here
    (its signature checked, not its expiry): ValidationFailed for anything else."""
    try:
        claims = jwt.decode(apikey, signing.public_key_set(), algorithms=["RS256"]).claims
    except (JoseError, ValueError, TypeError):
        raise ValidationFailed(
            "apikey is not an API key issued by this Key Manager", details=[{"field": "apikey", "message": "invalid"}]
        ) from None
    info = claims.get("application")
    if (
        claims.get("token_type") != "apiKey"
        or not isinstance(info, dict)
        or info.get("uuid") != str(application.id)
        or claims.get("keytype") != key_type
    ):
        raise ValidationFailed(f"apikey is not a {key_type} API key of application {application.name}")
    record = ApiKey.objects.filter(jti=str(claims.get("jti")), application=application).first()
    if record is None:
        raise NotFound("No such API key")
    return record


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, user) -> None:
    """Revoke an API key: gateways refuse it and close its connections (4001). Revoking a
    revoked key changes nothing."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked:
        return
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])
    audit_record(
        actor=user,
        action="apikey.revoke",
        target=api_key.application,
        detail={"jti": api_key.jti, "keyType": api_key.key_type},
    )
    config_changed(TokensRevoked(jtis=(api_key.jti,)))

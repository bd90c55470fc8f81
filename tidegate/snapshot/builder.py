"""The control plane's side of the contract: the ``Snapshot`` gateways of some environments
enforce, built from the database in this one place (``snapshot_build``). The types and their
JSON are the contract's (``gateway_contract``); gateways never read the ORM.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from analytics.models import DisconnectRequest
from devportal.models import Application, Subscription
from gateway_contract.snapshot import (
    ApiConfig,
    ApplicationConfig,
    DenyConditionConfig,
    IssuerConfig,
    PolicyConfig,
    Snapshot,
    SubscriptionConfig,
    TopicConfig,
)
from keymanager import signing
from keymanager.models import ApiKey, ExternalIssuer, InternalKey, IssuedToken, OAuthClient
from publisher import asyncapi
from publisher.dto import CREDENTIAL_KINDS, endpoint_urls
from publisher.models import DenyPolicy, Deployment, ThrottlingPolicy


def topic_configs(definition: dict[str, Any], payload_validation: str = "off") -> tuple[TopicConfig, ...]:
    """What the gateway enforces of an AsyncAPI document's channels; with payload validation
    (client | both), the payload schemas of the directions it validates."""
    validated = {"client": ("PUBLISH",), "both": ("PUBLISH", "SUBSCRIBE")}.get(payload_validation, ())
    schemas = asyncapi.message_schemas(definition) if validated else {}

    def schema(topic: str, verb: str) -> dict[str, Any] | None:
        found = schemas.get(topic, {}).get(verb) if verb in validated else None
        return found.schema if found else None

    return tuple(
        TopicConfig(
            name=t.name,
            publish_scopes=t.publish_scopes,
            subscribe_scopes=t.subscribe_scopes,
            uri_mapping=t.uri_mapping,
            secured=t.secured,
            publish_schema=schema(t.name, "PUBLISH"),
            subscribe_schema=schema(t.name, "SUBSCRIBE"),
        )
        for t in asyncapi.topics(definition)
    )


def security_schemes(frozen: dict[str, Any]) -> tuple[str, ...]:
    """The credential kinds a revision's secured topics accept; OAuth2 when it names none
    (a revision made before API keys, or an unsecured API)."""
    named = frozen.get("securityScheme")
    kinds = tuple(k for k in CREDENTIAL_KINDS if isinstance(named, list) and k in named)
    return kinds or ("oauth2",)


REVOKED_SKEW_SECONDS = 60


def snapshot_build(*, environments: list[str], version: int) -> Snapshot:
    """Everything gateways of ``environments`` enforce: deployed revisions with the API's
    live lifecycle state, applications and subscriptions by consumer key, trusted issuers,
    the enabled deny policies."""
    apis = []
    seen = set()
    deployments = (
        Deployment.objects.filter(environment__name__in=environments)
        .select_related("api", "revision")
        .order_by("api_id", "environment__name")
    )
    for dep in deployments:
        if dep.api_id in seen:  # one API, several of this gateway's environments: first wins
            continue
        seen.add(dep.api_id)
        frozen = dep.revision.frozen
        definition = frozen["definition"]
        production, sandbox = endpoint_urls(frozen["endpointConfig"])
        validation = frozen.get("payloadValidation") or {}
        apis.append(
            ApiConfig(
                id=str(dep.api_id),
                name=frozen["name"],
                context=frozen["context"],
                version=frozen["version"],
                lifecycle_status=dep.api.lifecycle_status,
                revision=dep.revision.number,
                production_endpoint=production,
                sandbox_endpoint=sandbox,
                authorization_header=frozen.get("authorizationHeader") or "Authorization",
                api_policy=frozen.get("apiThrottlingPolicy") or "",
                topics=topic_configs(definition, validation.get("mode", "off")),
                # Live from the API row, like its lifecycle state: no revision carries them.
                allowed_origins=tuple(dep.api.allowed_origins),
                origin_required=dep.api.origin_required,
                backend_jwt_header=dep.api.backend_jwt_header if dep.api.backend_jwt_enabled else "",
                security_schemes=security_schemes(frozen),
                payload_validation=validation.get("mode", "off"),
                payload_client_failure=validation.get("onClientFailure", "error"),
                payload_backend_failure=validation.get("onBackendFailure", "drop"),
            )
        )

    subs_by_app: dict[Any, list[SubscriptionConfig]] = {}
    for sub in Subscription.objects.all().only("id", "api_id", "application_id", "throttling_policy", "status"):
        subs_by_app.setdefault(sub.application_id, []).append(
            SubscriptionConfig(id=str(sub.id), api_id=str(sub.api_id), policy=sub.throttling_policy, status=sub.status)
        )
    applications = {}
    # A deactivated user's applications are left out: gateways refuse their tokens and close
    # their connections as if the applications were deleted (4002).
    for client in OAuthClient.objects.filter(application__owner__is_active=True).select_related("application__owner"):
        app = client.application
        applications[client.client_id] = ApplicationConfig(
            id=str(app.id),
            name=app.name,
            owner=app.owner.get_username(),
            policy=app.throttling_policy,
            key_type=client.key_type,
            subscriptions=tuple(subs_by_app.get(app.id, ())),
        )

    live_keys = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    api_key_applications = {
        str(app.id): ApplicationConfig(
            id=str(app.id),
            name=app.name,
            owner=app.owner.get_username(),
            policy=app.throttling_policy,
            key_type="",  # each API key names its own
            subscriptions=tuple(subs_by_app.get(app.id, ())),
        )
        for app in Application.objects.filter(owner__is_active=True)
        .filter(pk__in=ApiKey.objects.filter(live_keys, revoked=False).values("application_id"))
        .select_related("owner")
    }

    issuers = (
        IssuerConfig(issuer=settings.TIDEGATE["KEY_MANAGER_ISSUER"], jwks=signing.jwks()),
        *(
            IssuerConfig(
                issuer=e.issuer,
                jwks={},
                jwks_url=e.jwks_url,
                validate_subscription=e.validate_subscription,
                consumer_key_claim=e.consumer_key_claim,
            )
            for e in ExternalIssuer.objects.filter(enabled=True)
        ),
    )
    policies = {
        f"{p.level}:{p.name}": PolicyConfig(
            level=p.level,
            name=p.name,
            limit_type=p.limit_type,
            limit=p.limit,
            window=p.window_seconds,
            stop_on_quota_reach=p.stop_on_quota_reach,
            action=p.throttle_action,
            max_connections=p.max_connections,
        )
        for p in ThrottlingPolicy.objects.all()
    }
    # A revoked credential stays listed until gateways would refuse it as expired anyway:
    # past its exp by the gateways' leeway, and a minute more for their clocks against ours.
    kept_until = timezone.now() - timedelta(seconds=settings.TIDEGATE["TOKEN_LEEWAY"] + REVOKED_SKEW_SECONDS)
    revoked = (
        tuple(IssuedToken.objects.filter(revoked=True, expires_at__gt=kept_until).values_list("jti", flat=True))
        + tuple(
            ApiKey.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=kept_until), revoked=True).values_list(
                "jti", flat=True
            )
        )
        # Try-out keys revoked with their user, or whose user was deleted.
        + tuple(
            InternalKey.objects.filter(Q(revoked=True) | Q(user__isnull=True), expires_at__gt=kept_until).values_list(
                "jti", flat=True
            )
        )
    )
    return Snapshot(
        version=version,
        environments=tuple(environments),
        apis=tuple(apis),
        applications=applications,
        issuers=issuers,
        policies=policies,
        revoked=revoked,
        application_ids=tuple(
            str(i) for i in Application.objects.filter(owner__is_active=True).values_list("id", flat=True)
        ),
        disconnect=tuple(
            DisconnectRequest.objects.filter(created_time__gt=timezone.now() - timedelta(minutes=10)).values_list(
                "connection_id", flat=True
            )
        ),
        deny=tuple(
            DenyConditionConfig(
                id=str(d.id),
                kind=d.condition_type,
                value=d.value,
                start_ip=d.start_ip,
                end_ip=d.end_ip,
                invert=d.invert,
            )
            for d in DenyPolicy.objects.filter(enabled=True)
        ),
        api_key_applications=api_key_applications,
    )

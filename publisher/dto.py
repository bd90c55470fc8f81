"""The WSO2 shapes of the Publisher's objects: an API (REST responses and what a revision freezes)
and a throttling policy (the Admin API, and the plans the Publisher and Dev Portal list); and
where clients reach an API (``gateway_urls``, the Dev Portal's ``endpointURLs``)."""

from typing import Any

from django.conf import settings

from publisher import asyncapi
from publisher.models import Api, LimitType, ThrottlingPolicy


def api_summary(api: Api) -> dict[str, Any]:
    """The fields every view of an API shares (Publisher and Dev Portal alike)."""
    return {
        "id": str(api.id),
        "name": api.name,
        "description": api.description,
        "tags": list(api.tags),
        "context": api.context,
        "version": api.version,
        "provider": api.provider.get_username(),
        "lifeCycleStatus": api.lifecycle_status,
        "type": "WS",
    }


def endpoint_urls(endpoint_config: Any) -> tuple[str, str]:
    """The production and sandbox URLs of WSO2's ``endpointConfig`` ("" when absent): the
    reverse of what :func:`api_dto` writes."""
    if not isinstance(endpoint_config, dict):
        return "", ""
    urls = []
    for key in ("production_endpoints", "sandbox_endpoints"):
        entry = endpoint_config.get(key)
        urls.append(str(entry.get("url") or "") if isinstance(entry, dict) else "")
    return urls[0], urls[1]


CREDENTIAL_KINDS = ("oauth2", "api_key")


def security_scheme(api: Api) -> list[str]:
    """WSO2's ``securityScheme``: the credential kinds a secured API accepts (OAuth2 unless
    the Publisher chose otherwise); empty for an API whose topics need no credential."""
    if not asyncapi.is_secured(api.definition):
        return []
    return [k for k in CREDENTIAL_KINDS if k in (api.security_schemes or ["oauth2"])] or ["oauth2"]


def api_dto(api: Api) -> dict[str, Any]:
    endpoint_config: dict[str, Any] = {
        "endpoint_type": "ws",
        "production_endpoints": {"url": api.production_endpoint},
    }
    if api.sandbox_endpoint:
        endpoint_config["sandbox_endpoints"] = {"url": api.sandbox_endpoint}
    declared = asyncapi.declared_scopes(api.definition)
    bindings = asyncapi.implicit_flow(api.definition).get("x-scopes-bindings") or {}
    return {
        **api_summary(api),
        "transport": ["ws", "wss"],
        "policies": list(api.policies),
        "apiThrottlingPolicy": api.api_throttling_policy or None,
        "authorizationHeader": api.authorization_header,
        "payloadValidation": payload_validation_dto(api),
        "securityScheme": security_scheme(api),
        "endpointConfig": endpoint_config,
        "scopes": [
            {
                "scope": {
                    "name": name,
                    "displayName": name,
                    "description": description,
                    "bindings": [r.strip() for r in str(bindings.get(name, "")).split(",") if r.strip()],
                },
                "shared": False,
            }
            for name, description in declared.items()
        ],
        "operations": [op.as_dict() for op in asyncapi.operations(api.definition)],
        # The catalog's categories, by name: the Dev Portal reads them live, not from a revision.
        "categories": [c.name for c in api.categories.all()],
        # Read live by gateways, not frozen in revisions (docs/gateway.md).
        "originConfiguration": {"allowedOrigins": list(api.allowed_origins), "browsersOnly": api.origin_required},
        "backendJWTConfiguration": {"enabled": api.backend_jwt_enabled, "header": api.backend_jwt_header},
        # Who sees it in the Dev Portal (read live, like the two above).
        "visibility": api.visibility,
        "visibleRoles": list(api.visible_roles),
        "createdTime": api.created_time.isoformat() if api.created_time else None,
        "lastUpdatedTime": api.last_updated_time.isoformat() if api.last_updated_time else None,
    }


def payload_validation_dto(api: Api) -> dict[str, str]:
    """Tidegate's ``payloadValidation`` extension field (docs/publisher.md): which messages the
    gateway checks against the definition's schemas, and what it does with one that fails."""
    return {
        "mode": api.payload_validation,
        "onClientFailure": api.payload_client_failure,
        "onBackendFailure": api.payload_backend_failure,
    }


def gateway_urls(api: Api) -> list[dict]:
    """Where clients reach the API: for the environments this deployment's gateways serve
    (TIDEGATE_GATEWAY_ENVIRONMENTS), the public URLs of the balancer in front of them when
    set (TIDEGATE_GATEWAY_PUBLIC_WS_URL / _WSS_URL); otherwise each environment's vhost and ports."""
    conf = settings.TIDEGATE
    out = []
    for dep in api.deployments.select_related("environment").filter(display_on_devportal=True):
        env = dep.environment
        base = f"{api.context}/{api.version}"
        public = env.name in conf["GATEWAY_ENVIRONMENTS"]
        ws = (public and conf["GATEWAY_PUBLIC_WS_URL"]) or f"ws://{dep.vhost}:{env.ws_port}"
        wss = (public and conf["GATEWAY_PUBLIC_WSS_URL"]) or f"wss://{dep.vhost}:{env.wss_port}"
        out.append(
            {
                "environmentName": env.name,
                "environmentDisplayName": env.display_name,
                "URLs": {"ws": f"{ws}{base}", "wss": f"{wss}{base}"},
            }
        )
    return out


# Per limit type: the key of its object in "defaultLimit" and the key of its amount inside.
LIMIT_FIELDS = {
    LimitType.EVENTCOUNT: ("eventCount", "eventCount"),
    LimitType.REQUESTCOUNT: ("requestCount", "requestCount"),
    LimitType.BANDWIDTH: ("bandwidth", "dataAmount"),
}


def policy_dto(p: ThrottlingPolicy) -> dict:
    obj_name, count_name = LIMIT_FIELDS[p.limit_type]
    limit: dict = {"timeUnit": p.time_unit, "unitTime": p.unit_time}
    if p.limit_type == LimitType.BANDWIDTH:
        limit.update({"dataAmount": p.limit // 1024, "dataUnit": "KB"})
    else:
        limit[count_name] = p.limit
    return {
        "policyId": str(p.id),
        "policyName": p.name,
        "displayName": p.display_name,
        "description": p.description,
        "isDeployed": True,
        "type": f"{p.level.title()}ThrottlePolicy",
        "defaultLimit": {"type": p.limit_type, obj_name: limit},
        "stopOnQuotaReach": p.stop_on_quota_reach,
        "throttleAction": p.throttle_action,
        "maxConnections": p.max_connections,
        "requiresApproval": p.requires_approval,
    }


def tier_dto(p: ThrottlingPolicy) -> dict:
    """A policy as the Publisher and the Developer Portal list it for choosing a plan (WSO2's
    SubscriptionPolicy and ThrottlingPolicy): the same fields, each API adds its own."""
    return {
        "name": p.name,
        "displayName": p.display_name,
        "description": p.description,
        "requestCount": p.limit,
        "timeUnit": p.time_unit,
        "unitTime": p.unit_time,
        "stopOnQuotaReach": p.stop_on_quota_reach,
        "requiresApproval": p.requires_approval,
    }

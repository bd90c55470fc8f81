"""Standalone mode's reading of an API project archive (the ``apictl`` layout, as the
Publisher's export makes it): the control plane's ``ArchiveReader``, handed to the
standalone gateway (gateway/standalone.py) by the ``standalone`` command."""

from __future__ import annotations

from gateway_contract.archives import ArchiveRefused
from gateway_contract.snapshot import ApiConfig
from portal.errors import ApplicationError, ValidationFailed
from publisher import asyncapi
from publisher.archives import parse_project
from publisher.dto import endpoint_urls
from publisher.models import Api
from publisher.services import api_enforcement_apply, normalise_context, validate_endpoint
from tidegate.snapshot.builder import topic_configs


def api_from_archive(content: bytes) -> ApiConfig:
    """Validate an archive and turn it into what the gateway enforces (Choreo Connect's
    reading: the AsyncAPI servers win over api.yaml's endpoints); :class:`ArchiveRefused`
    saying why not."""
    try:
        return _api_from_archive(content)
    except ApplicationError as exc:
        raise ArchiveRefused(
            exc.description, status=exc.status, message=exc.message if exc.status == 400 else "Refused"
        ) from None


def _api_from_archive(content: bytes) -> ApiConfig:
    """Validate an archive and turn it into what the gateway enforces (Choreo Connect's
    reading: the AsyncAPI servers win over api.yaml's endpoints)."""
    project = parse_project(content)
    try:
        definition = asyncapi.parse_and_validate(project["document"])
    except asyncapi.InvalidDefinition as exc:
        raise ApplicationError(
            "The AsyncAPI definition is invalid: " + "; ".join(f"{e.pointer or '/'}: {e.message}" for e in exc.errors)
        ) from None
    props = project["properties"]
    configured_production, configured_sandbox = endpoint_urls(props["endpointConfig"])
    production = asyncapi.server_url(definition, "production") or configured_production
    sandbox = asyncapi.server_url(definition, "sandbox") or configured_sandbox
    name, version = props["name"] or (definition.get("info") or {}).get("title"), props["version"]
    if not all(isinstance(v, str | None) for v in (name, version, props.get("apiThrottlingPolicy"))):
        raise ApplicationError("api.yaml: name, version and apiThrottlingPolicy must be text")
    context = normalise_context(props["context"])
    if not (name and version and context and production):
        raise ApplicationError("api.yaml needs name, version, context and an endpoint")
    if validate_endpoint(production) or (sandbox and validate_endpoint(sandbox)):
        raise ApplicationError("endpoints must be ws:// or wss:// URLs")
    api = Api()  # the defaults, under what api.yaml sets
    try:
        api_enforcement_apply(api, project["enforcement"])
    except ValidationFailed as exc:
        raise ApplicationError(f"api.yaml: {exc.description}") from None
    return ApiConfig(
        id=f"{name}:{version}",
        name=name,
        context=context,
        version=version,
        lifecycle_status="PUBLISHED",
        revision=0,
        production_endpoint=production,
        sandbox_endpoint=sandbox or "",
        topics=topic_configs(definition, api.payload_validation),
        api_policy=props.get("apiThrottlingPolicy") or "",
        authorization_header=api.authorization_header,
        allowed_origins=tuple(api.allowed_origins),
        origin_required=api.origin_required,
        backend_jwt_header=api.backend_jwt_header if api.backend_jwt_enabled else "",
        # A standalone gateway's only credentials are its /testkey tokens: securityScheme is not read.
        payload_validation=api.payload_validation,
        payload_client_failure=api.payload_client_failure,
        payload_backend_failure=api.payload_backend_failure,
    )

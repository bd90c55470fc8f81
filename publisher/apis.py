"""Publisher REST API, ``/api/am/publisher/v4``, with WSO2's paths and field names.
Views are thin: check input, call one service, shape the output."""

from __future__ import annotations

import json
import math
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from gateway_sync.services import config_version, gateways_await
from keymanager.server import internal_key_issue
from portal.errors import ErrorSerializer, NotFound, ValidationFailed
from portal.fields import StrictCharField
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsCreatorOrPublisher, IsPublisher
from publisher import asyncapi, lifecycle, selectors, services
from publisher.archives import MAX_ARCHIVE_BYTES, export_archive, import_archive
from publisher.dto import api_dto, endpoint_urls, tier_dto
from publisher.endpoint_check import check_endpoint
from publisher.fetch import fetch_definition
from publisher.models import ApiRevision, Deployment


def revision_dto(rev: ApiRevision) -> dict:
    return {
        "id": str(rev.id),
        "displayName": rev.display_name,
        "description": rev.description,
        "createdTime": rev.created_time.isoformat(),
        "apiInfo": {"id": str(rev.api_id)},
        "deploymentInfo": [deployment_dto(d) for d in rev.deployments.all()],
    }


def deployment_dto(dep: Deployment) -> dict:
    return {
        "revisionUuid": str(dep.revision_id),
        "name": dep.environment.name,
        "vhost": dep.vhost,
        "displayOnDevportal": dep.display_on_devportal,
        "deployedTime": dep.deployed_time.isoformat(),
        "successDeployedTime": dep.deployed_time.isoformat(),
    }


def _check_endpoint_config(endpoint_config) -> None:
    """WSO2's ``endpointConfig``: Tidegate proxies WebSocket backends only, so an
    ``endpoint_type`` but ``ws`` is refused (it used to be ignored, and the API saved as ws
    anyway). A ``sandbox_endpoints`` sent must hold a URL: an API without a sandbox omits it,
    as WSO2 does and as ``GET`` answers (``{"url": ""}`` used to be taken silently as none)."""
    if not isinstance(endpoint_config, dict):
        return
    if endpoint_config.get("endpoint_type", "ws") != "ws":
        raise ValidationFailed(
            "endpointConfig.endpoint_type must be 'ws' (WebSocket backends only)",
            details=[{"field": "endpointConfig.endpoint_type", "message": "must be 'ws'"}],
        )
    sandbox = endpoint_config.get("sandbox_endpoints")
    if "sandbox_endpoints" in endpoint_config and not (
        isinstance(sandbox, dict) and isinstance(sandbox.get("url"), str) and sandbox["url"]
    ):
        raise ValidationFailed(
            "endpointConfig.sandbox_endpoints.url must be a ws:// or wss:// URL; omit sandbox_endpoints for no sandbox",
            details=[{"field": "endpointConfig.sandbox_endpoints.url", "message": "a ws:// or wss:// URL"}],
        )


class ApiListCreateApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    class InputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=60)
        context = StrictCharField(max_length=200)
        version = StrictCharField(max_length=30)
        description = StrictCharField(required=False, allow_blank=True, default="", max_length=5000)
        tags = serializers.ListField(child=StrictCharField(), required=False, default=list)
        categories = serializers.ListField(child=StrictCharField(), required=False, default=list)
        type = serializers.ChoiceField(choices=["WS"], required=False, default="WS")
        policies = serializers.ListField(child=StrictCharField(), required=False)
        apiThrottlingPolicy = StrictCharField(required=False, allow_blank=True, default="")
        endpointConfig = serializers.DictField()

    def get(self, request):
        apis = selectors.api_list(query=request.query_params.get("query", ""))
        data = [api_dto(a) for a in apis]
        return Response(
            {"count": len(data), "list": data, "pagination": {"offset": 0, "limit": len(data), "total": len(data)}}
        )

    def post(self, request):
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        _check_endpoint_config(d["endpointConfig"])
        production, sandbox = endpoint_urls(d["endpointConfig"])
        api = services.api_create(
            provider=request.user,
            name=d["name"],
            context=d["context"],
            version=d["version"],
            description=d["description"],
            tags=d["tags"],
            categories=d["categories"],
            policies=d.get("policies"),
            api_throttling_policy=d["apiThrottlingPolicy"],
            production_endpoint=production,
            sandbox_endpoint=sandbox,
        )
        return Response(api_dto(api), status=201, headers={"Location": f"/api/am/publisher/v4/apis/{api.id}"})


class ApiDetailApi(ScopedAPIView):
    """One API. ``PUT`` takes WSO2's API object (only the fields sent change) and honours
    ``If-Match`` with the ``ETag`` of the ``GET``: a stale write is refused with 412."""

    required_scopes = scopes("apim:api_view", PUT="apim:api_create", DELETE="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        return Response(api_dto(api), headers={"ETag": services.api_etag(api)})

    def put(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        # No body at all (request.stream is None) is as wrong as a JSON list: the body is required.
        if request.stream is None or not isinstance(request.data, dict):
            raise ValidationFailed("Send the API as a JSON object")
        _check_endpoint_config(request.data.get("endpointConfig"))
        api = services.api_update(
            api=api, user=request.user, changes=dict(request.data), if_match=request.headers.get("If-Match")
        )
        return Response(api_dto(api), headers={"ETag": services.api_etag(api)})

    def delete(self, request, api_id):
        services.api_delete(api=selectors.api_get_or_404(api_id), user=request.user)
        return Response(status=200)


def _read_definition_input(request) -> tuple[bytes | str, dict]:
    if not hasattr(request.data, "get"):  # a JSON list or scalar, not an object
        raise ValidationFailed("Send a JSON object or a multipart form with 'file', 'url' or 'inlineAPIDefinition'")
    upload = request.FILES.get("file")
    # The document says both are strings (the URL an absolute one): a JSON list, object or number
    # is refused here by name, also when another source beside it would have won.
    for key in ("inlineAPIDefinition", "apiDefinition"):
        if key in request.data and not isinstance(request.data[key], str):
            raise ValidationFailed(f"{key} must be the AsyncAPI document as text")
        if key in request.data and not request.data[key]:  # an empty form part, also beside a file or URL
            raise ValidationFailed(f"{key} is empty: send the AsyncAPI document, or leave the part out")
    if "url" in request.data:
        url = request.data["url"]
        if not isinstance(url, str) or not urlsplit(url).scheme or not urlsplit(url).netloc:
            raise ValidationFailed("url must be an absolute URL such as https://example.com/asyncapi.yaml")
    inline = request.data.get("inlineAPIDefinition") or request.data.get("apiDefinition")
    if upload is not None:
        document = upload.read()
    elif inline:
        document = inline
    elif request.data.get("url"):
        document = fetch_definition(str(request.data["url"]))
    else:
        raise ValidationFailed("Send the AsyncAPI definition as multipart 'file', 'url' or 'inlineAPIDefinition'")
    raw_props = request.data.get("additionalProperties", "{}")
    if raw_props == "":  # an empty multipart field is no properties
        raw_props = "{}"
    try:
        props = json.loads(raw_props) if isinstance(raw_props, str) else dict(raw_props)
    except (ValueError, TypeError):  # TypeError: a JSON list such as [null, null]
        raise ValidationFailed("additionalProperties must be a JSON object") from None
    if not isinstance(props, dict):
        raise ValidationFailed("additionalProperties must be a JSON object")
    _check_endpoint_config(props.get("endpointConfig"))
    return document, props


MAX_ENDPOINT_URL = 2000  # the document's maxLength for ?endpointUrl=


class ValidateEndpointApi(ScopedAPIView):
    """``POST /apis/validate-endpoint?endpointUrl=``: try a WebSocket handshake to a backend."""

    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def post(self, request):
        url = request.query_params.get("endpointUrl") or request.data.get("endpointUrl") or ""
        if not url:
            raise ValidationFailed("Send the backend URL as ?endpointUrl=ws://host:port/path")
        if not isinstance(url, str) or len(url) > MAX_ENDPOINT_URL:
            raise ValidationFailed(f"endpointUrl must be a URL of at most {MAX_ENDPOINT_URL} characters")
        return Response(check_endpoint(str(url)).as_dict())


class ApiImportAsyncApiApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def post(self, request):
        document, props = _read_definition_input(request)
        api = services.api_import_asyncapi(provider=request.user, document=document, properties=props)
        return Response(api_dto(api), status=201, headers={"Location": f"/api/am/publisher/v4/apis/{api.id}"})


class ApiValidateAsyncApiApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def post(self, request):
        return_content = _bool_param(request.query_params, "returnContent")
        document, _ = _read_definition_input(request)
        try:
            doc = asyncapi.parse_and_validate(document)
        except asyncapi.InvalidDefinition as exc:
            return Response({"isValid": False, "errors": [e.as_dict() for e in exc.errors]})
        info = doc.get("info") or {}
        body = {
            "isValid": True,
            "errors": [],
            # What the gateway will not act on (a 3.0 channel without an address is no topic).
            "warnings": [w.as_dict() for w in asyncapi.warnings(doc)],
            "info": {
                "name": info.get("title"),
                "version": info.get("version"),
                "asyncAPIVersion": doc.get("asyncapi"),
                "endpoints": [
                    url for name in (doc.get("servers") or {}) if (url := asyncapi.server_url(doc, str(name)))
                ],
            },
        }
        if return_content:
            body["content"] = json.dumps(doc)
        return Response(body)


class ApiAsyncApiDefinitionApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", PUT="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        return Response(api.definition, headers={"ETag": services.api_etag(api)})

    def put(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        document, _ = _read_definition_input(request)
        api = services.api_definition_update(
            api=api, document=document, user=request.user, if_match=request.headers.get("If-Match")
        )
        return Response(api.definition, headers={"ETag": services.api_etag(api)})


class ApiAsyncApiConvertApi(ScopedAPIView):
    """The API's definition converted to AsyncAPI 3.0.0 in place (``?to=3.0.0``): the same
    topics, scopes, URL mappings and security. Answers the new definition as ``GET
    .../asyncapi`` does; 400 naming each part that cannot be converted faithfully."""

    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def post(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        api = services.api_definition_convert(
            api=api, user=request.user, to=request.query_params.get("to", ""), if_match=request.headers.get("If-Match")
        )
        return Response(api.definition, headers={"ETag": services.api_etag(api)})


class ApiGenerateKeyApi(ScopedAPIView):
    """``POST /apis/{apiId}/generate-key``: an Internal-Key to try the API from the Publisher."""

    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]
    VALIDITY = 3600

    def post(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        return Response(
            {
                "apikey": internal_key_issue(api=api, user=request.user, validity=self.VALIDITY),
                "validityTime": self.VALIDITY,
            }
        )


class ApiRevisionListCreateApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    class InputSerializer(serializers.Serializer):
        description = StrictCharField(required=False, allow_blank=True, default="", max_length=255)

    def get(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        if request.query_params.get("query", "deployed:true") != "deployed:true":
            raise ValidationFailed("query must be deployed:true (or left out)")
        revs = [revision_dto(r) for r in selectors.revision_list(api=api)]
        if request.query_params.get("query") == "deployed:true":
            revs = [r for r in revs if r["deploymentInfo"]]
        return Response({"count": len(revs), "list": revs})

    def post(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        rev = services.api_revision_create(
            api=api, created_by=request.user, description=s.validated_data["description"]
        )
        return Response(revision_dto(rev), status=201)


def _revision_or_404(api, revision_id):
    rev = selectors.revision_get(api=api, revision_id=revision_id)
    if rev is None:
        raise NotFound(f"Revision {revision_id} of this API not found")
    return rev


ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9_\-]{1,60}")  # the document's pattern for names
MAX_VHOST = 255


def _environments_body(data) -> list[dict]:
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data or not all(isinstance(i, dict) for i in data):
        raise ValidationFailed(
            'Body must be a list of one environment or more, like [{"name": "Default", "vhost": "localhost"}]'
        )
    if any(not isinstance(i.get("name"), str) or not ENVIRONMENT_NAME.fullmatch(i["name"]) for i in data):
        raise ValidationFailed(
            "Each item needs the name of an environment: letters, digits, '_' and '-', at most 60",
            details=[{"field": "name", "message": "an environment name"}],
        )
    if any(not isinstance(i.get("vhost", ""), str) or len(i.get("vhost", "")) > MAX_VHOST for i in data):
        raise ValidationFailed(
            f"vhost must be a host name of at most {MAX_VHOST} characters, or left out for the environment's",
            details=[{"field": "vhost", "message": "not a host name"}],
        )
    if any(not isinstance(i.get("displayOnDevportal", True), bool) for i in data):
        raise ValidationFailed(
            "displayOnDevportal must be true or false",
            details=[{"field": "displayOnDevportal", "message": "a boolean"}],
        )
    return data


class ApiRevisionDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", DELETE="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id, revision_id):
        return Response(revision_dto(_revision_or_404(selectors.api_get_or_404(api_id), revision_id)))

    def delete(self, request, api_id, revision_id):
        api = selectors.api_get_or_404(api_id)
        services.api_revision_delete(api=api, revision=_revision_or_404(api, revision_id), user=request.user)
        revs = [revision_dto(r) for r in selectors.revision_list(api=api)]
        return Response({"count": len(revs), "list": revs})


class ApiRestoreRevisionApi(ScopedAPIView):
    """``POST /apis/{apiId}/restore-revision?revisionId=``: the working copy becomes the revision."""

    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsCreatorOrPublisher]

    def post(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        rev = _revision_or_404(api, request.query_params.get("revisionId"))
        api = services.api_revision_restore(api=api, revision=rev, user=request.user)
        return Response(api_dto(api), status=201, headers={"ETag": services.api_etag(api)})


MAX_WAIT_SECONDS = 120


def _bool_param(query, name: str) -> bool:
    """A boolean query parameter as the document has it: ``true`` or ``false`` (absent is false)."""
    value = query.get(name, "false")
    if value not in ("true", "false"):
        raise ValidationFailed(f"{name} must be true or false")
    return value == "true"


def _wait_timeout(query) -> float | None:
    """``?wait=true[&timeout=seconds]``: how long to wait for gateways, or None (no wait)."""
    if not _bool_param(query, "wait"):
        return None
    raw = query.get("timeout")
    if raw is None:
        return settings.TIDEGATE["DEPLOY_WAIT_TIMEOUT"]
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_WAIT_SECONDS:
        raise ValidationFailed(f"timeout must be a number of seconds above 0 and at most {MAX_WAIT_SECONDS}")
    return seconds


def gateway_dto(report) -> dict:
    return {
        "gatewayId": report.gateway_id,
        "environments": report.environments,
        "appliedVersion": report.applied_version,
        "lastSeen": report.last_seen.isoformat(),
        "applySeconds": report.apply_seconds,
    }


def _await_gateways(environments: list[str] | None, timeout: float | None) -> dict | None:
    """After a change committed: None once every gateway of ``environments`` that reported
    lately applied it (or without a wait), else the 202 body naming those that had not."""
    if timeout is None:
        return None
    version = config_version()
    pending = gateways_await(environments=environments, version=version, timeout=timeout)
    if not pending:
        return None
    return {"configVersion": version, "pendingGateways": [gateway_dto(g) for g in pending]}


class PendingGatewaySerializer(serializers.Serializer):
    gatewayId = serializers.CharField(help_text="host:pid of the gateway process")
    environments = serializers.ListField(child=serializers.CharField())
    appliedVersion = serializers.IntegerField(help_text="The configuration version it enforces")
    lastSeen = serializers.DateTimeField(help_text="Its last pull")
    applySeconds = serializers.FloatField(allow_null=True, help_text="Change to applied, for its last version")


class DeployPendingSerializer(serializers.Serializer):
    deployments = serializers.ListField(child=serializers.DictField(), required=False)
    configVersion = serializers.IntegerField(help_text="The version that contains the change")
    pendingGateways = PendingGatewaySerializer(many=True)


_WAIT_PARAMETERS = [
    OpenApiParameter("revisionId", str, required=True),
    OpenApiParameter(
        "wait",
        bool,
        description="true: answer once every gateway of the environment that reported in the last few "
        "seconds applied the change (201), or after the timeout with those that had not (202)",
    ),
    OpenApiParameter("timeout", float, description="Seconds to wait at most (default TIDEGATE_DEPLOY_WAIT_TIMEOUT)"),
]


class DeploymentSerializer(serializers.Serializer):
    revisionUuid = serializers.CharField()
    name = serializers.CharField(help_text="The environment")
    vhost = serializers.CharField()
    displayOnDevportal = serializers.BooleanField()
    deployedTime = serializers.DateTimeField()
    successDeployedTime = serializers.DateTimeField()


def _wait_responses(done: str) -> dict:
    return {
        "201": OpenApiResponse(DeploymentSerializer(many=True), description=done),
        "202": OpenApiResponse(
            DeployPendingSerializer,
            description="Deployed, but with wait=true some gateways had not applied it within the timeout",
        ),
        "400": OpenApiResponse(ErrorSerializer, description="Bad input; nothing changed"),
        "401": OpenApiResponse(ErrorSerializer, description="Not signed in, or bad credentials"),
        "403": OpenApiResponse(ErrorSerializer, description="Signed in without a role that allows this"),
        "404": OpenApiResponse(ErrorSerializer, description="No such object (or not yours)"),
        "409": OpenApiResponse(ErrorSerializer, description="Conflicts with the current state; nothing changed"),
    }


class ApiDeployRevisionApi(ScopedAPIView):
    """Deploy a revision to gateway environments; with ``wait=true``, once gateways applied it."""

    required_scopes = scopes("apim:api_view", POST="apim:api_publish")
    permission_classes = [IsPublisher]

    @extend_schema(parameters=_WAIT_PARAMETERS, responses=_wait_responses("The deployments, as applied"))
    def post(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        rev = _revision_or_404(api, request.query_params.get("revisionId"))
        timeout = _wait_timeout(request.query_params)
        deployments = services.api_revision_deploy(
            api=api, revision=rev, environments=_environments_body(request.data), deployed_by=request.user
        )
        body = [deployment_dto(d) for d in deployments]
        pending = _await_gateways([d.environment.name for d in deployments], timeout)
        if pending:
            return Response({"deployments": body, **pending}, status=202)
        return Response(body, status=201)


class ApiUndeployRevisionApi(ScopedAPIView):
    """Undeploy a revision; with ``wait=true``, once gateways applied it."""

    required_scopes = scopes("apim:api_view", POST="apim:api_publish")
    permission_classes = [IsPublisher]

    @extend_schema(
        parameters=[*_WAIT_PARAMETERS, OpenApiParameter("allEnvironments", bool)],
        responses=_wait_responses("Undeployed (and applied, with wait=true)"),
    )
    def post(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        rev = _revision_or_404(api, request.query_params.get("revisionId"))
        timeout = _wait_timeout(request.query_params)
        everywhere = _bool_param(request.query_params, "allEnvironments")
        # A body is checked whenever one came, also beside allEnvironments=true (which then wins);
        # no body at all is "no environments named" (DRF reads it as an empty object, as it does {}).
        no_body = (
            not int(request.META.get("CONTENT_LENGTH") or 0) and isinstance(request.data, dict) and not request.data
        )
        if not everywhere and (no_body or request.data == []):
            raise ValidationFailed(
                'Name the environments to undeploy from, as [{"name": "Default"}], or pass allEnvironments=true'
            )
        named = [] if no_body else [e["name"] for e in _environments_body(request.data)]
        envs = [] if everywhere else named
        services.api_revision_undeploy(api=api, revision=rev, environments=envs, user=request.user)
        pending = _await_gateways(envs or None, timeout)
        if pending:
            return Response(pending, status=202)
        # JSON as documented: the revision's deployments that remain (WSO2 answers the same list).
        return Response([deployment_dto(d) for d in rev.deployments.select_related("environment")], status=201)


class ApiDeploymentListApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        return Response({"list": [deployment_dto(d) for d in selectors.deployment_list(api=api)]})


def _parse_checklist(text: str) -> dict[str, bool]:
    """WSO2's ``lifecycleChecklist``: ``item:true,item:false``."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        item, _, value = part.rpartition(":")
        if not item or value.lower() not in ("true", "false"):
            raise ValidationFailed(f"lifecycleChecklist items look like 'Item name:true' (got {part!r})")
        out[item.strip()] = value.lower() == "true"
    return out


class ApiChangeLifecycleApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", POST="apim:api_publish")
    permission_classes = [IsPublisher]

    def post(self, request):
        api = selectors.api_get_or_404(request.query_params.get("apiId"))
        action = request.query_params.get("action", "")
        checklist = _parse_checklist(request.query_params.get("lifecycleChecklist", ""))
        with transaction.atomic():
            event = services.api_change_lifecycle(api=api, action=action, user=request.user, checklist=checklist)
        return Response(
            {
                "workflowStatus": "APPROVED",
                "lifecycleState": {
                    "state": event.post_state,
                    "availableTransitions": [
                        {"event": a, "targetState": lifecycle.next_state(event.post_state, a)}
                        for a in lifecycle.allowed_actions(event.post_state)
                    ],
                },
            }
        )


class ApiLifecycleHistoryApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id):
        api = selectors.api_get_or_404(api_id)
        items = [
            {
                "previousState": e.previous_state,
                "postState": e.post_state,
                "user": e.user.get_username(),
                "updatedTime": e.updated_time.isoformat(),
                "action": e.action,
            }
            for e in api.lifecycle_events.select_related("user")
        ]
        return Response({"count": len(items), "list": items})


class StreamingSubscriptionPoliciesApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request):
        items = [{**tier_dto(p), "tierPlan": "FREE"} for p in selectors.streaming_subscription_policies()]
        return Response({"count": len(items), "list": items})


class SettingsApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request):
        envs = [
            {
                "id": str(e.id),
                "name": e.name,
                "displayName": e.display_name,
                "type": "hybrid",
                "provider": "tidegate",
                "showInApiConsole": True,
                "vhosts": [{"host": e.vhost, "wsPort": e.ws_port, "wssPort": e.wss_port}],
            }
            for e in selectors.environment_list()
        ]
        return Response(
            {"environment": envs, "scopes": [], "monetizationAttributes": [], "externalStoresEnabled": False}
        )


class ApiExportApi(ScopedAPIView):
    """``GET /apis/export?apiId=[&revisionNumber=]``: the API project archive (zip)."""

    required_scopes = scopes("apim:api_import_export")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request):
        api = selectors.api_get_or_404(request.query_params.get("apiId"))
        revision = None
        number = request.query_params.get("revisionNumber")
        if number:
            revision = api.revisions.filter(number=int(number) if number.isascii() and number.isdigit() else -1).first()
            if revision is None:
                raise NotFound(f"Revision {number} of this API not found")
        filename, content = export_archive(api=api, user=request.user, revision=revision)
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class ApiImportApi(ScopedAPIView):
    """``POST /apis/import``: multipart ``file``, an API project archive."""

    required_scopes = scopes("apim:api_view", POST="apim:api_import_export")
    permission_classes = [IsCreatorOrPublisher]

    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed("Send the API project archive as multipart 'file'")
        if upload.size > MAX_ARCHIVE_BYTES:
            raise ValidationFailed(f"The API project archive is refused: larger than {MAX_ARCHIVE_BYTES // 2**20} MiB")
        api = import_archive(provider=request.user, content=upload.read())
        return Response(api_dto(api), status=201)

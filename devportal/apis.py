"""Dev Portal REST API, ``/api/am/devportal/v3``, with WSO2's paths and field names."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from devportal import selectors, services
from devportal.models import Application, Subscription
from keymanager.models import KeyType, OAuthClient
from keymanager.scopes import ScopeRefused
from keymanager.server import token_issue
from keymanager.services import api_key_find, api_key_revoke, keys_remove, secret_regenerate
from portal.errors import NotFound, ValidationFailed
from portal.fields import StrictCharField
from portal.rest import ScopedAPIView, scopes
from portal.site_settings import anonymous_browsing
from publisher import asyncapi
from publisher.categories import category_dto
from publisher.dto import api_summary, gateway_urls, tier_dto
from publisher.models import Api, PolicyLevel, ThrottlingPolicy


def catalog_api_dto(api: Api) -> dict:
    avg = getattr(api, "avg_rating", None)  # annotated by selectors.visible_apis
    return {
        **api_summary(api),
        "categories": [c.name for c in api.categories.all()],
        "avgRating": round(avg, 1) if avg is not None else None,
        "tiers": [{"tierName": p} for p in api.policies],
        "authorizationHeader": api.authorization_header,
        "endpointURLs": gateway_urls(api),
    }


def application_dto(app: Application) -> dict:
    # Counted with the list (selectors.application_list); one query for a single application.
    count = getattr(app, "subscription_count", None)
    return {
        "applicationId": str(app.id),
        "name": app.name,
        "throttlingPolicy": app.throttling_policy,
        "description": app.description,
        "tokenType": app.token_type,
        "status": app.status,
        "owner": app.owner.get_username(),
        "subscriptionCount": app.subscriptions.count() if count is None else count,
        "keys": [key_dto(c) for c in app.oauth_clients.all()],
    }


def key_dto(client: OAuthClient, secret: str | None = None, token: dict | None = None) -> dict:
    out = {
        "keyMappingId": str(client.key_mapping_id),
        "keyManager": "Resident Key Manager",
        "consumerKey": client.client_id,
        "consumerSecret": secret,
        "supportedGrantTypes": client.grant_types,
        "keyState": "APPROVED",
        "keyType": client.key_type,
        "mode": "CREATED",
    }
    if token:
        out["token"] = token
    return out


def token_dto(token: dict) -> dict:
    return {
        "accessToken": token["access_token"],
        "tokenScopes": (token.get("scope") or "").split(),
        "validityTime": token.get("expires_in"),
    }


def subscription_dto(sub: Subscription) -> dict:
    return {
        "subscriptionId": str(sub.id),
        "applicationId": str(sub.application_id),
        "apiId": str(sub.api_id),
        "apiInfo": {"name": sub.api.name, "context": sub.api.context, "version": sub.api.version},
        "throttlingPolicy": sub.throttling_policy,
        "status": sub.status,
    }


def _application_or_404(request, application_id) -> Application:
    app = selectors.application_get(owner=request.user, application_id=application_id)
    if app is None:
        raise NotFound(f"Application {application_id} not found")
    return app


class BrowsingAllowed(BasePermission):
    """The catalog's reads: anyone signed in, and visitors who are not while the Admin
    Portal's Settings allow anonymous browsing (401 otherwise). What each sees is
    ``selectors.visible_apis``' to say."""

    allows_anonymous = True  # the OpenAPI document marks credentials optional (tidegate/openapi.py)

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated) or anonymous_browsing()


class CatalogListApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")
    permission_classes = [BrowsingAllowed]

    def get(self, request):
        found = selectors.visible_apis(
            request.user,
            query=request.query_params.get("query", ""),
            category=request.query_params.get("category", ""),
        )
        apis = [catalog_api_dto(a) for a in found]
        return Response({"count": len(apis), "list": apis})


class CatalogDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")
    permission_classes = [BrowsingAllowed]

    def get(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        return Response(catalog_api_dto(api))


class CatalogCategoryListApi(ScopedAPIView):
    """The categories the catalog filters by (``?category=`` on ``/apis``), each counting the
    APIs the caller sees in it."""

    required_scopes = scopes("apim:subscribe")

    def get(self, request):
        items = [category_dto(c) for c in selectors.catalog_categories(request.user)]
        return Response({"count": len(items), "list": items})


class CatalogTopicsApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")
    permission_classes = [BrowsingAllowed]

    def get(self, request, api_id):
        api = selectors.catalog_get_or_404(api_id, user=request.user)
        topics = [
            {"apiId": str(api.id), "name": op.target, "type": op.verb} for op in asyncapi.operations(api.definition)
        ]
        return Response({"count": len(topics), "list": topics})


class ApplicationListCreateApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", POST="apim:app_manage")

    class InputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=70)
        throttlingPolicy = StrictCharField(required=False, default="Unlimited")
        description = StrictCharField(required=False, allow_blank=True, default="", max_length=512)

    def get(self, request):
        services.application_ensure_default(user=request.user)
        apps = [application_dto(a) for a in selectors.application_list(owner=request.user)]
        return Response({"count": len(apps), "list": apps})

    def post(self, request):
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        app = services.application_create(
            owner=request.user, name=d["name"], throttling_policy=d["throttlingPolicy"], description=d["description"]
        )
        return Response(application_dto(app), status=201)


class ApplicationDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", PUT="apim:app_manage", DELETE="apim:app_manage")

    class InputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=70, required=False)
        throttlingPolicy = StrictCharField(required=False)
        description = StrictCharField(required=False, allow_blank=True, max_length=512)

    def get(self, request, application_id):
        return Response(application_dto(_application_or_404(request, application_id)))

    def put(self, request, application_id):
        app = _application_or_404(request, application_id)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        app = services.application_update(
            application=app,
            user=request.user,
            name=d.get("name"),
            throttling_policy=d.get("throttlingPolicy"),
            description=d.get("description"),
        )
        return Response(application_dto(app))

    def delete(self, request, application_id):
        services.application_delete(application=_application_or_404(request, application_id), user=request.user)
        return Response(status=200)


class ApplicationGenerateKeysApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", POST="apim:app_manage")

    class InputSerializer(serializers.Serializer):
        keyType = serializers.ChoiceField(choices=["PRODUCTION", "SANDBOX"])
        grantTypesToBeSupported = serializers.ListField(
            child=serializers.ChoiceField(choices=["client_credentials", "password", "refresh_token"]), required=False
        )
        scopes = serializers.ListField(child=StrictCharField(), required=False, default=list)
        validityTime = serializers.IntegerField(required=False, min_value=1)

    def post(self, request, application_id):
        app = _application_or_404(request, application_id)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        client, secret = services.application_keys_generate(
            application=app, key_type=d["keyType"], grant_types=d.get("grantTypesToBeSupported"), user=request.user
        )
        return Response(key_dto(client, secret), status=200)


class ApplicationOAuthKeysApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")

    def get(self, request, application_id):
        app = _application_or_404(request, application_id)
        keys = [key_dto(c) for c in app.oauth_clients.all()]
        return Response({"count": len(keys), "list": keys})


def _key_or_404(app, key_mapping_id) -> OAuthClient:
    client = app.oauth_clients.filter(key_mapping_id=key_mapping_id).first()
    if client is None:
        raise NotFound(f"Key mapping {key_mapping_id} not found")
    return client


class ApplicationRegenerateSecretApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", POST="apim:app_manage")

    def post(self, request, application_id, key_mapping_id):
        client = _key_or_404(_application_or_404(request, application_id), key_mapping_id)
        secret = secret_regenerate(client=client, user=request.user)
        return Response({"consumerKey": client.client_id, "consumerSecret": secret})


class ApplicationKeyCleanUpApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", POST="apim:app_manage")

    def post(self, request, application_id, key_mapping_id):
        client = _key_or_404(_application_or_404(request, application_id), key_mapping_id)
        keys_remove(client=client, user=request.user)
        return Response(status=200)


class ApplicationGenerateTokenApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", POST="apim:app_manage")

    class InputSerializer(serializers.Serializer):
        consumerSecret = StrictCharField()
        validityPeriod = serializers.IntegerField(required=False, min_value=1, max_value=365 * 24 * 3600)
        scopes = serializers.ListField(child=StrictCharField(), required=False, default=list)

    def post(self, request, application_id, key_mapping_id):
        client = _key_or_404(_application_or_404(request, application_id), key_mapping_id)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        if not client.check_client_secret(d["consumerSecret"]):
            raise ValidationFailed("The consumer secret does not match this key", status=401)
        try:
            token = token_issue(client=client, scope=" ".join(d["scopes"]), validity=d.get("validityPeriod"))
        except ScopeRefused as exc:
            raise ValidationFailed(str(exc), details=[{"field": "scopes", "message": "invalid_scope"}]) from None
        return Response(token_dto(token))


def _key_type_or_404(key_type: str) -> str:
    if key_type not in KeyType.values:
        raise NotFound("keyType must be PRODUCTION or SANDBOX")
    return key_type


class ApplicationApiKeyGenerateApi(ScopedAPIView):
    """WSO2's ``POST .../api-keys/{keyType}/generate``: an API key, shown this once."""

    required_scopes = scopes("apim:subscribe", POST="apim:app_manage")

    class AdditionalSerializer(serializers.Serializer):
        permittedIP = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
        permittedReferer = serializers.CharField(required=False, allow_blank=True, default="", max_length=6000)

    class InputSerializer(serializers.Serializer):
        validityPeriod = serializers.IntegerField(required=False, default=-1)
        additionalProperties = serializers.DictField(required=False, default=dict)

    def post(self, request, application_id, key_type):
        app = _application_or_404(request, application_id)
        key_type = _key_type_or_404(key_type)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        extra = self.AdditionalSerializer(data=s.validated_data["additionalProperties"])
        extra.is_valid(raise_exception=True)
        _, apikey = services.application_api_key_generate(
            application=app,
            key_type=key_type,
            validity_period=s.validated_data["validityPeriod"],
            permitted_ip=extra.validated_data["permittedIP"],
            permitted_referer=extra.validated_data["permittedReferer"],
            user=request.user,
        )
        return Response({"apikey": apikey, "validityTime": s.validated_data["validityPeriod"]})


class ApplicationApiKeyRevokeApi(ScopedAPIView):
    """WSO2's ``POST .../api-keys/{keyType}/revoke`` with ``{"apikey": "..."}``."""

    required_scopes = scopes("apim:subscribe", POST="apim:app_manage")

    class InputSerializer(serializers.Serializer):
        apikey = StrictCharField(max_length=20000)

    def post(self, request, application_id, key_type):
        app = _application_or_404(request, application_id)
        key_type = _key_type_or_404(key_type)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        record = api_key_find(application=app, key_type=key_type, apikey=s.validated_data["apikey"])
        api_key_revoke(api_key=record, user=request.user)
        return Response(status=200)


class SubscriptionListCreateApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", POST="apim:sub_manage")

    class InputSerializer(serializers.Serializer):
        applicationId = serializers.UUIDField()
        apiId = serializers.UUIDField()
        throttlingPolicy = StrictCharField()

    def get(self, request):
        application_id = request.query_params.get("applicationId")
        if application_id:
            # Another developer's application is as unknown here as everywhere else (404).
            _application_or_404(request, application_id)
        subs = selectors.subscription_list(
            owner=request.user, api_id=request.query_params.get("apiId"), application_id=application_id
        )
        data = [subscription_dto(s) for s in subs]
        return Response({"count": len(data), "list": data})

    def post(self, request):
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        app = _application_or_404(request, d["applicationId"])
        api = selectors.catalog_get_or_404(d["apiId"], user=request.user)
        sub = services.subscription_create(
            application=app, api=api, throttling_policy=d["throttlingPolicy"], user=request.user
        )
        return Response(subscription_dto(sub), status=201)


class SubscriptionDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe", PUT="apim:sub_manage", DELETE="apim:sub_manage")

    def _get(self, request, subscription_id) -> Subscription:
        sub = selectors.subscription_list(owner=request.user).filter(pk=subscription_id).first()
        if sub is None:
            raise NotFound(f"Subscription {subscription_id} not found")
        return sub

    class InputSerializer(serializers.Serializer):
        throttlingPolicy = StrictCharField()

    def get(self, request, subscription_id):
        return Response(subscription_dto(self._get(request, subscription_id)))

    def put(self, request, subscription_id):
        """Change the business plan (WSO2: ``throttlingPolicy``); nothing else changes here."""
        sub = self._get(request, subscription_id)
        s = self.InputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        sub = services.subscription_change_plan(
            subscription=sub, throttling_policy=s.validated_data["throttlingPolicy"], user=request.user
        )
        return Response(subscription_dto(sub))

    def delete(self, request, subscription_id):
        services.subscription_delete(subscription=self._get(request, subscription_id), user=request.user)
        return Response(status=200)


class ThrottlingPoliciesApi(ScopedAPIView):
    required_scopes = scopes("apim:subscribe")

    def get(self, request, policy_level):
        if policy_level not in (PolicyLevel.APPLICATION, PolicyLevel.SUBSCRIPTION):
            raise NotFound("policyLevel must be 'application' or 'subscription'")
        items = [
            {**tier_dto(p), "policyLevel": policy_level} for p in ThrottlingPolicy.objects.filter(level=policy_level)
        ]
        return Response({"count": len(items), "list": items})

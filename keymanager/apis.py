"""Admin v4 ``/key-managers``: trusted external token issuers (WSO2: third-party key managers)."""

from django.conf import settings
from django.db import transaction
from rest_framework import serializers
from rest_framework.response import Response

from keymanager.models import ExternalIssuer
from portal.audit import audit_record
from portal.config_events import config_changed
from portal.errors import NotFound, ValidationFailed, create_or_conflict
from portal.fields import StrictCharField
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsAdmin


def issuer_dto(e: ExternalIssuer) -> dict:
    return {
        "id": str(e.id),
        "name": e.name,
        "type": "custom",
        "issuer": e.issuer,
        "enabled": e.enabled,
        "certificates": {"type": "JWKS", "value": e.jwks_url},
        "consumerKeyClaim": e.consumer_key_claim,
        "validateSubscription": e.validate_subscription,
    }


class KeyManagerInput(serializers.Serializer):
    name = StrictCharField(max_length=100)
    issuer = StrictCharField(max_length=500)
    certificates = serializers.DictField()
    consumerKeyClaim = StrictCharField(max_length=60, required=False, default="azp")
    validateSubscription = serializers.BooleanField(required=False, default=True)
    enabled = serializers.BooleanField(required=False, default=True)

    def validate_certificates(self, value):
        if value.get("type") != "JWKS":
            raise serializers.ValidationError("certificates.type must be JWKS")
        url = serializers.URLField().run_validation(value.get("value"))
        if not url.startswith(("https://", "http://")):
            raise serializers.ValidationError("certificates.value must be an http(s) URL")
        return url


@transaction.atomic
def external_issuer_create(*, data: dict, user) -> ExternalIssuer:
    """A trusted external issuer; never one named as the built-in Key Manager or the gateways'
    test keys are (it would take their place at the gateways: every API key refused, the
    Key Manager's tokens checked against another's keys)."""
    own = {settings.TIDEGATE["KEY_MANAGER_ISSUER"], settings.TIDEGATE["TESTKEY_ISSUER"]}
    if data["issuer"].strip().rstrip("/") in {i.rstrip("/") for i in own}:
        raise ValidationFailed(
            f"issuer {data['issuer']!r} is this deployment's own; an external key manager needs its own issuer",
            details=[{"field": "issuer", "message": "the built-in Key Manager's or the test keys' issuer"}],
        )
    issuer = create_or_conflict(
        ExternalIssuer,
        conflict="A key manager with this name or issuer already exists",
        name=data["name"],
        issuer=data["issuer"],
        jwks_url=data["certificates"],
        consumer_key_claim=data["consumerKeyClaim"],
        validate_subscription=data["validateSubscription"],
        enabled=data["enabled"],
    )
    audit_record(actor=user, action="key-manager.create", target=issuer, detail={"issuer": issuer.issuer})
    config_changed()
    return issuer


@transaction.atomic
def external_issuer_delete(*, issuer: ExternalIssuer, user) -> None:
    audit_record(actor=user, action="key-manager.delete", target=issuer, detail={"issuer": issuer.issuer})
    issuer.delete()
    config_changed()


class KeyManagerListCreateApi(ScopedAPIView):
    required_scopes = scopes("apim:admin", POST="apim:admin")
    permission_classes = [IsAdmin]
    InputSerializer = KeyManagerInput  # the request body, for the OpenAPI document

    def get(self, request):
        items = [issuer_dto(e) for e in ExternalIssuer.objects.all()]
        return Response({"count": len(items), "list": items})

    def post(self, request):
        s = KeyManagerInput(data=request.data)
        s.is_valid(raise_exception=True)
        return Response(issuer_dto(external_issuer_create(data=s.validated_data, user=request.user)), status=201)


class KeyManagerDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:admin", DELETE="apim:admin")
    permission_classes = [IsAdmin]

    def _get(self, issuer_id) -> ExternalIssuer:
        issuer = ExternalIssuer.objects.filter(pk=issuer_id).first()
        if issuer is None:
            raise NotFound(f"Key manager {issuer_id} not found")
        return issuer

    def get(self, request, issuer_id):
        return Response(issuer_dto(self._get(issuer_id)))

    def delete(self, request, issuer_id):
        external_issuer_delete(issuer=self._get(issuer_id), user=request.user)
        return Response(status=200)

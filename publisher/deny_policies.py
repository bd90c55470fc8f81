"""Deny policies (WSO2's blocking conditions): services and Admin v4 REST.

A condition names an API (``/<context>/<version>``), an application (``owner:name``), a
user (a username), an IP address or an IP range (``{"fixedIp", "invert"}``,
``{"startingIp", "endingIp", "invert"}``: ``invert`` denies every address but those).
While enabled (``conditionStatus``), gateways refuse matching handshakes with 403 and
WSO2's code 900805 and close matching open connections with 4004 (docs/gateway.md).

REST, in WSO2's shape: ``GET``/``POST /throttling/deny-policies``, and ``GET``, ``PATCH``
(``{"conditionStatus": false}``) and ``DELETE /throttling/deny-policy/{conditionId}`` (the
singular, as WSO2 writes it).

Applications belong to the Dev Portal, a layer above: it registers how to find one
(``application_lookup_register``, in ``devportal/apps.py``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.response import Response

from portal.audit import audit_record
from portal.config_events import config_changed
from portal.errors import NotFound, ValidationFailed, create_or_conflict
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsAdmin
from publisher.models import Api, DenyConditionType, DenyPolicy

# (owner's username, application name) -> whether that application exists.
ApplicationLookup = Callable[[str, str], bool]
_application_lookup: ApplicationLookup | None = None


def application_lookup_register(lookup: ApplicationLookup) -> None:
    """``lookup(owner, name)``: whether the owner has an application of that name."""
    global _application_lookup
    _application_lookup = lookup


VALUE_HELP = {
    DenyConditionType.API: "the API's context and version, e.g. /chat/1.0.0",
    DenyConditionType.APPLICATION: "the application's owner and name, e.g. alice:ChatClient",
    DenyConditionType.USER: "a username, e.g. alice",
    DenyConditionType.IP: '{"fixedIp": "203.0.113.7", "invert": false}',
    DenyConditionType.IP_RANGE: '{"startingIp": "203.0.113.0", "endingIp": "203.0.113.255", "invert": false}',
}
_MAX_VALUE = 300
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise _refuse(field, "must be a non-empty string")
    if len(value) > _MAX_VALUE:
        raise _refuse(field, f"must be at most {_MAX_VALUE} characters")
    return value.strip()


def _address(value: Any, field: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not isinstance(value, str):
        raise _refuse(field, "must be an IPv4 or IPv6 address, as a string")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise _refuse(field, f"{value[:60]!r} is not an IPv4 or IPv6 address") from None


def _invert(value: dict, field: str) -> bool:
    invert = value.get("invert", False)
    if not isinstance(invert, bool):
        raise _refuse(f"{field}.invert", "must be true or false")
    return invert


def _object(value: Any, field: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise _refuse(field, f"must be an object with {', '.join(keys)}")
    unknown = sorted(set(value) - {*keys, "invert"})
    if unknown:
        raise _refuse(field, f"unknown field {unknown[0]!r}; it takes {', '.join(keys)} and invert")
    return value


def deny_condition_read(condition_type: Any, value: Any, field: str = "conditionValue") -> dict[str, Any]:
    """A condition as WSO2 writes it, checked: the model's fields, or ValidationFailed naming
    the field at fault (``conditionType``, ``conditionValue`` or one of its parts). Names must
    exist: an API context and version, a user, an application."""
    if condition_type not in DenyConditionType.values:
        raise _refuse("conditionType", f"must be one of {', '.join(DenyConditionType.values)}")
    kind = DenyConditionType(condition_type)
    if kind == DenyConditionType.IP:
        obj = _object(value, field, ("fixedIp",))
        address = _address(obj.get("fixedIp"), f"{field}.fixedIp")
        return {"condition_type": kind, "start_ip": str(address), "invert": _invert(obj, field)}
    if kind == DenyConditionType.IP_RANGE:
        obj = _object(value, field, ("startingIp", "endingIp"))
        start = _address(obj.get("startingIp"), f"{field}.startingIp")
        end = _address(obj.get("endingIp"), f"{field}.endingIp")
        if start.version != end.version:
            raise _refuse(f"{field}.endingIp", "must be of the same IP version as startingIp")
        if int(start) > int(end):
            raise _refuse(f"{field}.endingIp", f"{end} comes before the range's first address, {start}")
        return {"condition_type": kind, "start_ip": str(start), "end_ip": str(end), "invert": _invert(obj, field)}
    text = _text(value, field)
    if kind == DenyConditionType.API:
        context, _, version = text.rstrip("/").rpartition("/")
        if not context.startswith("/") or not Api.objects.filter(context=context, version=version).exists():
            raise _refuse(field, f"no API has the context and version {text!r} (write them as /chat/1.0.0)")
        text = f"{context}/{version}"
    elif kind == DenyConditionType.USER:
        if not get_user_model().objects.filter(username=text).exists():
            raise _refuse(field, f"no user is named {text!r}")
    else:
        owner, colon, name = text.partition(":")
        if not colon or not owner or not name:
            raise _refuse(field, "must be the application's owner and name as owner:name, e.g. alice:ChatClient")
        if _application_lookup is None or not _application_lookup(owner, name):
            raise _refuse(field, f"{owner!r} has no application named {name!r}")
    return {"condition_type": kind, "value": text}


def deny_policy_dto(policy: DenyPolicy) -> dict[str, Any]:
    value: Any = policy.value
    if policy.condition_type == DenyConditionType.IP:
        value = {"fixedIp": policy.start_ip, "invert": policy.invert}
    elif policy.condition_type == DenyConditionType.IP_RANGE:
        value = {"startingIp": policy.start_ip, "endingIp": policy.end_ip, "invert": policy.invert}
    return {
        "conditionId": str(policy.id),
        "conditionType": policy.condition_type,
        "conditionValue": value,
        "conditionStatus": policy.enabled,
    }


def _audit_detail(policy: DenyPolicy) -> dict[str, Any]:
    return {"conditionType": policy.condition_type, "condition": policy.describe()}


@transaction.atomic
def deny_policy_create(*, condition_type: Any, value: Any, enabled: bool = True, user) -> DenyPolicy:
    """A new deny policy; gateways enforce it from their next pull when ``enabled``."""
    fields = deny_condition_read(condition_type, value)
    policy = DenyPolicy(**fields)  # unsaved: to word the conflict
    policy = create_or_conflict(
        DenyPolicy,
        conflict=f"A deny policy on {policy.get_condition_type_display()} {policy.describe()} already exists",
        enabled=enabled,
        created_by=user if getattr(user, "pk", None) else None,
        **fields,
    )
    audit_record(
        actor=user, action="deny_policy.create", target=policy, detail={**_audit_detail(policy), "enabled": enabled}
    )
    config_changed()
    return policy


@transaction.atomic
def deny_policy_status_set(*, policy: DenyPolicy, enabled: bool, user) -> DenyPolicy:
    """Enable or disable a deny policy; setting the status it has changes (and records) nothing."""
    policy = DenyPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.enabled != enabled:
        policy.enabled = enabled
        policy.save(update_fields=["enabled"])
        action = "deny_policy.enable" if enabled else "deny_policy.disable"
        audit_record(actor=user, action=action, target=policy, detail=_audit_detail(policy))
        config_changed()
    return policy


@transaction.atomic
def deny_policy_delete(*, policy: DenyPolicy, user) -> None:
    audit_record(actor=user, action="deny_policy.delete", target=policy, detail=_audit_detail(policy))
    policy.delete()
    config_changed()


def deny_policy_get(condition_id) -> DenyPolicy:
    policy = DenyPolicy.objects.filter(pk=condition_id).first()
    if policy is None:
        raise NotFound(f"Deny policy {condition_id} not found")
    return policy


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object")
    return request.data


def _status(data: dict, *, required: bool) -> bool:
    if "conditionStatus" not in data:
        if required:
            raise _refuse("conditionStatus", "is required: true to enable the deny policy, false to disable it")
        return True
    status = data["conditionStatus"]
    if not isinstance(status, bool):
        raise _refuse("conditionStatus", "must be true or false")
    return status


class DenyPolicyListCreateApi(ScopedAPIView):
    """Deny policies (WSO2 blocking conditions), oldest first: ``conditionId``,
    ``conditionType``, ``conditionValue`` and ``conditionStatus``."""

    required_scopes = scopes("apim:admin", POST="apim:admin")
    permission_classes = [IsAdmin]

    def get(self, request):
        items = [deny_policy_dto(p) for p in DenyPolicy.objects.all()]
        return Response({"count": len(items), "list": items})

    def post(self, request):
        data = _body(request)
        if "conditionType" not in data:
            raise _refuse("conditionType", f"is required: one of {', '.join(DenyConditionType.values)}")
        if "conditionValue" not in data:
            raise _refuse("conditionValue", "is required")
        policy = deny_policy_create(
            condition_type=data["conditionType"],
            value=data["conditionValue"],
            enabled=_status(data, required=False),
            user=request.user,
        )
        return Response(deny_policy_dto(policy), status=201)


class DenyPolicyDetailApi(ScopedAPIView):
    """One deny policy: ``conditionId``, ``conditionType``, ``conditionValue`` and ``conditionStatus``."""

    required_scopes = scopes("apim:admin", PATCH="apim:admin", DELETE="apim:admin")
    permission_classes = [IsAdmin]

    def get(self, request, condition_id):
        return Response(deny_policy_dto(deny_policy_get(condition_id)))

    def patch(self, request, condition_id):
        policy = deny_policy_get(condition_id)
        data = _body(request)
        # WSO2's body may repeat the conditionId; the path names the policy, so it is only checked for shape.
        if "conditionId" in data:
            if not isinstance(data["conditionId"], str) or not _UUID.fullmatch(data["conditionId"]):
                raise _refuse("conditionId", "must be a conditionId (a UUID), or left out")
        enabled = _status(data, required=True)
        return Response(deny_policy_dto(deny_policy_status_set(policy=policy, enabled=enabled, user=request.user)))

    def delete(self, request, condition_id):
        deny_policy_delete(policy=deny_policy_get(condition_id), user=request.user)
        return Response(status=200)

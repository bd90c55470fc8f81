"""Rate-limit policies over REST: Admin v4 ``/throttling/policies/{level}``, in WSO2's shape.

A policy is ``defaultLimit`` of type EVENTCOUNTLIMIT (``eventCount``), REQUESTCOUNTLIMIT
(``requestCount``) or BANDWIDTHLIMIT (``dataAmount`` in ``dataUnit`` KB or MB), per
``unitTime`` ``timeUnit``. Tidegate adds ``throttleAction`` (notify, drop, close) and, for
application policies, ``maxConnections``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from rest_framework import serializers
from rest_framework.response import Response

from portal.audit import audit_record
from portal.config_events import config_changed
from portal.errors import Conflict, NotFound, ValidationFailed, create_or_conflict
from portal.fields import StrictCharField, StrictRegexField
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsAdmin
from publisher.dto import LIMIT_FIELDS, policy_dto
from publisher.models import Api, LimitType, PolicyLevel, ThrottlingPolicy

DATA_UNITS = {"KB": 1024, "MB": 1024 * 1024}


class _LimitSerializer(serializers.Serializer):
    timeUnit = serializers.ChoiceField(choices=sorted(ThrottlingPolicy.UNIT_SECONDS))
    unitTime = serializers.IntegerField(min_value=1, max_value=10_000)
    eventCount = serializers.IntegerField(min_value=0, required=False)
    requestCount = serializers.IntegerField(min_value=0, required=False)
    dataAmount = serializers.IntegerField(min_value=0, required=False)
    dataUnit = serializers.ChoiceField(choices=sorted(DATA_UNITS), required=False, default="KB")


class PolicyInput(serializers.Serializer):
    policyName = StrictRegexField(r"^[A-Za-z0-9_\-]{1,60}$")
    displayName = StrictCharField(max_length=100, required=False)
    description = StrictCharField(max_length=255, required=False, allow_blank=True, default="")
    defaultLimit = serializers.DictField()
    stopOnQuotaReach = serializers.BooleanField(required=False, default=True)
    throttleAction = serializers.ChoiceField(choices=["notify", "drop", "close"], required=False, default="notify")
    maxConnections = serializers.IntegerField(min_value=0, required=False, default=0)
    requiresApproval = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Subscription policies only: a new subscription on this plan waits (ON_HOLD) for an administrator",
    )

    def validate_defaultLimit(self, value):
        kind = value.get("type")
        if kind not in LIMIT_FIELDS:
            raise serializers.ValidationError(f"type must be one of {', '.join(LIMIT_FIELDS)}")
        obj_name, count_name = LIMIT_FIELDS[kind]
        inner = _LimitSerializer(data=value.get(obj_name) or {})
        inner.is_valid(raise_exception=True)
        d = inner.validated_data
        if count_name not in d:
            raise serializers.ValidationError(f"{obj_name}.{count_name} is required")
        amount = d[count_name] * (DATA_UNITS[d["dataUnit"]] if kind == LimitType.BANDWIDTH else 1)
        return {"limit_type": kind, "limit": amount, "time_unit": d["timeUnit"], "unit_time": d["unitTime"]}


def _level(level: str) -> str:
    if level not in PolicyLevel.values:
        raise NotFound(f"Unknown policy level {level!r}; use subscription, application or advanced")
    return level


def _check_approval(level: str, data: dict) -> None:
    if data["requiresApproval"] and level != PolicyLevel.SUBSCRIPTION:
        raise ValidationFailed(
            "requiresApproval applies to subscription policies (business plans) only",
            details=[{"field": "requiresApproval", "message": f"not for {level} policies"}],
        )


@transaction.atomic
def policy_create(*, level: str, data: dict, user) -> ThrottlingPolicy:
    _check_approval(level, data)
    policy = create_or_conflict(
        ThrottlingPolicy,
        conflict=f"A {level} policy named {data['policyName']!r} already exists",
        level=level,
        name=data["policyName"],
        display_name=data.get("displayName") or data["policyName"],
        description=data["description"],
        stop_on_quota_reach=data["stopOnQuotaReach"],
        throttle_action=data["throttleAction"],
        max_connections=data["maxConnections"],
        requires_approval=data["requiresApproval"],
        is_streaming=level == PolicyLevel.SUBSCRIPTION,
        **data["defaultLimit"],
    )
    audit_record(actor=user, action="policy.create", target=policy, detail={"level": level, "name": policy.name})
    config_changed()
    return policy


@transaction.atomic
def policy_update(*, policy: ThrottlingPolicy, data: dict, user) -> ThrottlingPolicy:
    if data["policyName"] != policy.name:
        raise ValidationFailed("policyName cannot change")
    _check_approval(policy.level, data)
    before = policy.requires_approval
    for field, value in {
        "display_name": data.get("displayName") or policy.display_name,
        "description": data["description"],
        "stop_on_quota_reach": data["stopOnQuotaReach"],
        "throttle_action": data["throttleAction"],
        "max_connections": data["maxConnections"],
        "requires_approval": data["requiresApproval"],
        **data["defaultLimit"],
    }.items():
        setattr(policy, field, value)
    policy.save()
    detail: dict = {"name": policy.name}
    if before != policy.requires_approval:
        detail["requiresApproval"] = {"from": before, "to": policy.requires_approval}
    audit_record(actor=user, action="policy.update", target=policy, detail=detail)
    config_changed()
    return policy


@dataclass(frozen=True)
class PolicyUse:
    """Some of what uses a policy: ``what`` in words ("API", "subscription"), the names of
    the first few (``names``) and how many in all (``count``)."""

    what: str
    names: tuple[str, ...]
    count: int
    plural: str = ""  # ``what`` for more than one (default: what + "s")

    def __str__(self) -> str:
        if not self.names:
            return self.what
        noun = self.what if self.count == 1 else self.plural or f"{self.what}s"
        more = f" and {self.count - len(self.names)} more" if self.count > len(self.names) else ""
        return f"{self.count} {noun} ({', '.join(self.names)}{more})"


DEFAULT_API_PLAN = "AsyncUnlimited"  # publisher.services.api_create's default
SHOWN = 5  # names listed per kind of use
# The apps above this one say what of theirs uses a policy (devportal/apps.py registers its
# subscriptions and applications): fn(level, name) -> uses.
PolicyUseSource = Callable[[str, str], list[PolicyUse]]
_use_sources: list[PolicyUseSource] = []


def policy_use_source_register(source: PolicyUseSource) -> None:
    if source not in _use_sources:
        _use_sources.append(source)


def policy_uses(*, policy: ThrottlingPolicy) -> list[PolicyUse]:
    """What uses ``policy``, so that it cannot be deleted: the APIs that offer it as a
    business plan (subscription) or are limited by it (advanced), and what the apps above
    register (subscriptions on it, applications limited by it)."""
    uses: list[PolicyUse] = []
    if policy.level == PolicyLevel.SUBSCRIPTION and policy.name == DEFAULT_API_PLAN:
        uses.append(PolicyUse("the plan new APIs offer when none is chosen", (), 0))
    if policy.level == PolicyLevel.SUBSCRIPTION:
        # Api.policies is a JSON list: matched in Python, the same on SQLite and PostgreSQL.
        apis = [str(a) for a in Api.objects.only("name", "version", "policies") if policy.name in a.policies]
        if apis:
            uses.append(
                PolicyUse("API offering it as a plan", tuple(apis[:SHOWN]), len(apis), "APIs offering it as a plan")
            )
    elif policy.level == PolicyLevel.ADVANCED:
        apis = Api.objects.filter(api_throttling_policy=policy.name)
        if apis.exists():
            uses.append(
                PolicyUse("API limited by it", tuple(str(a) for a in apis[:SHOWN]), apis.count(), "APIs limited by it")
            )
    for source in _use_sources:
        uses.extend(source(policy.level, policy.name))
    return uses


@transaction.atomic
def policy_delete(*, policy: ThrottlingPolicy, user) -> None:
    """Delete a policy nothing uses; otherwise Conflict, naming what uses it."""
    policy = ThrottlingPolicy.objects.select_for_update().get(pk=policy.pk)
    uses = policy_uses(policy=policy)
    if uses:
        raise Conflict(
            f"The {policy.level} policy {policy.name} is in use, so it cannot be deleted: used by "
            + "; ".join(str(u) for u in uses)
            + ". Move them to another policy first."
        )
    audit_record(actor=user, action="policy.delete", target=policy, detail={"level": policy.level, "name": policy.name})
    policy.delete()
    config_changed()


class PolicyListCreateApi(ScopedAPIView):
    required_scopes = scopes("apim:tier_view", POST="apim:admin")
    permission_classes = [IsAdmin]
    InputSerializer = PolicyInput  # the request body, for the OpenAPI document

    def get(self, request, level):
        items = [policy_dto(p) for p in ThrottlingPolicy.objects.filter(level=_level(level))]
        return Response({"count": len(items), "list": items})

    def post(self, request, level):
        s = PolicyInput(data=request.data)
        s.is_valid(raise_exception=True)
        return Response(
            policy_dto(policy_create(level=_level(level), data=s.validated_data, user=request.user)), status=201
        )


class PolicyDetailApi(ScopedAPIView):
    required_scopes = scopes("apim:tier_view", PUT="apim:admin", DELETE="apim:admin")
    permission_classes = [IsAdmin]
    InputSerializer = PolicyInput  # the request body, for the OpenAPI document

    def _get(self, level, policy_id) -> ThrottlingPolicy:
        policy = ThrottlingPolicy.objects.filter(level=_level(level), pk=policy_id).first()
        if policy is None:
            raise NotFound(f"Policy {policy_id} not found")
        return policy

    def get(self, request, level, policy_id):
        return Response(policy_dto(self._get(level, policy_id)))

    def put(self, request, level, policy_id):
        policy = self._get(level, policy_id)
        s = PolicyInput(data=request.data)
        s.is_valid(raise_exception=True)
        return Response(policy_dto(policy_update(policy=policy, data=s.validated_data, user=request.user)))

    def delete(self, request, level, policy_id):
        policy_delete(policy=self._get(level, policy_id), user=request.user)
        return Response(status=200)

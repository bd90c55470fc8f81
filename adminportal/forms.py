"""The Admin Portal's forms. A form that creates or edits what the Admin REST also takes
builds that REST call's body and validates it with the REST's own serializer
(``validated``): one set of rules, WSO2's field names, the errors shown on the fields."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from rest_framework import serializers

from keymanager.apis import KeyManagerInput
from portal.users import ROLES
from publisher.environments import EnvironmentInput
from publisher.models import LimitType, PolicyLevel, ThrottlingPolicy
from publisher.policies import DATA_UNITS, PolicyInput

# The REST's pattern for names (PolicyInput.policyName, EnvironmentInput.name), said in words.
NAME = RegexValidator(r"^[A-Za-z0-9_\-]{1,60}$", "Use letters, digits, - and _ only: no spaces or other signs.")

LEVEL_TITLES = {
    PolicyLevel.SUBSCRIPTION: "Subscription (business plans)",
    PolicyLevel.APPLICATION: "Application",
    PolicyLevel.ADVANCED: "Advanced (API)",
}


def _messages(errors, prefix: str = "") -> list[tuple[str, str]]:
    """DRF's nested errors as (dotted field, message) pairs."""
    if isinstance(errors, dict):
        return [pair for key, value in errors.items() for pair in _messages(value, f"{prefix}{key}.")]
    if isinstance(errors, list) and errors and not isinstance(errors[0], str):
        return [pair for value in errors for pair in _messages(value, prefix)]
    return [(prefix.rstrip("."), str(e)) for e in (errors if isinstance(errors, list) else [errors])]


def validated(form: forms.Form, serializer_class: type[serializers.Serializer], body: dict, fields: dict[str, str]):
    """``body`` validated by the REST serializer: its validated data, or None with each error
    put on the form's field ``fields`` maps its (dotted) name to, or on the form."""
    s = serializer_class(data=body)
    if s.is_valid():
        return s.validated_data
    for name, message in _messages(s.errors):
        field = fields.get(name) or fields.get(name.split(".")[-1])
        label = "" if field else f"{name}: "
        form.add_error(field, f"{label}{message}")
    return None


class PolicyForm(forms.Form):
    policy_name = forms.CharField(
        label="Name",
        max_length=60,
        validators=[NAME],
        help_text="Letters, digits, - and _; what APIs and applications refer to",
    )
    display_name = forms.CharField(max_length=100, required=False, help_text="Shown to developers (default: the name)")
    description = forms.CharField(max_length=255, required=False)
    limit_type = forms.ChoiceField(
        label="Limit on",
        choices=[
            (LimitType.EVENTCOUNT, "Events (streaming: every frame either way counts as one)"),
            (LimitType.REQUESTCOUNT, "Requests (counted as events for WebSocket APIs)"),
            (LimitType.BANDWIDTH, "Bandwidth (payload bytes)"),
        ],
        initial=LimitType.EVENTCOUNT,
    )
    amount = forms.IntegerField(label="Limit", min_value=0, help_text="0: unlimited")
    data_unit = forms.ChoiceField(
        label="Data unit", choices=[(u, u) for u in DATA_UNITS], initial="KB", help_text="Bandwidth limits only"
    )
    unit_time = forms.IntegerField(label="Per", min_value=1, initial=1)
    time_unit = forms.ChoiceField(
        label="Time unit", choices=[(u, u) for u in ThrottlingPolicy.UNIT_SECONDS], initial="min"
    )
    throttle_action = forms.ChoiceField(
        label="Over the limit",
        choices=[
            ("notify", "notify: drop the frame, tell the client once per window (4003 message)"),
            ("drop", "drop: drop the frame silently"),
            ("close", "close: close the connection (4003)"),
        ],
        initial="notify",
    )
    stop_on_quota_reach = forms.BooleanField(
        label="Stop on quota reach (off: the plan's limit is counted but not enforced)", required=False, initial=True
    )
    max_connections = forms.IntegerField(
        label="Concurrent connections per application",
        min_value=0,
        initial=0,
        required=False,
        help_text="Application policies only; 0: no limit",
    )

    FIELDS = {
        "policyName": "policy_name",
        "displayName": "display_name",
        "description": "description",
        "type": "limit_type",
        "eventCount": "amount",
        "requestCount": "amount",
        "dataAmount": "amount",
        "dataUnit": "data_unit",
        "unitTime": "unit_time",
        "timeUnit": "time_unit",
        "throttleAction": "throttle_action",
        "maxConnections": "max_connections",
    }

    def __init__(self, *args, level: str, editing: ThrottlingPolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.level = level
        if editing is not None:  # the name is what APIs and subscriptions refer to
            self.fields["policy_name"].disabled = True
        if level != PolicyLevel.APPLICATION:
            del self.fields["max_connections"]

    @classmethod
    def initial_for(cls, policy: ThrottlingPolicy) -> dict:
        bandwidth = policy.limit_type == LimitType.BANDWIDTH
        return {
            "policy_name": policy.name,
            "display_name": policy.display_name,
            "description": policy.description,
            "limit_type": policy.limit_type,
            "amount": policy.limit // 1024 if bandwidth else policy.limit,
            "data_unit": "KB",
            "unit_time": policy.unit_time,
            "time_unit": policy.time_unit,
            "throttle_action": policy.throttle_action,
            "stop_on_quota_reach": policy.stop_on_quota_reach,
            "max_connections": policy.max_connections,
        }

    def rest_body(self) -> dict:
        """The Admin REST's body (``PolicyInput``) for what the form holds."""
        d = self.cleaned_data
        obj_name, count_name = {
            LimitType.EVENTCOUNT: ("eventCount", "eventCount"),
            LimitType.REQUESTCOUNT: ("requestCount", "requestCount"),
            LimitType.BANDWIDTH: ("bandwidth", "dataAmount"),
        }[d["limit_type"]]
        limit = {"timeUnit": d["time_unit"], "unitTime": d["unit_time"], count_name: d["amount"]}
        if d["limit_type"] == LimitType.BANDWIDTH:
            limit["dataUnit"] = d["data_unit"]
        return {
            "policyName": d["policy_name"],
            "displayName": d["display_name"] or d["policy_name"],
            "description": d["description"],
            "defaultLimit": {"type": d["limit_type"], obj_name: limit},
            "stopOnQuotaReach": d["stop_on_quota_reach"],
            "throttleAction": d["throttle_action"],
            "maxConnections": d.get("max_connections") or 0,
        }

    def policy_data(self):
        """The validated data ``policy_create``/``policy_update`` take, or None (errors on the form)."""
        return validated(self, PolicyInput, self.rest_body(), self.FIELDS) if self.is_valid() else None


class EnvironmentForm(forms.Form):
    name = forms.CharField(
        max_length=60, validators=[NAME], help_text="Letters, digits, - and _; gateways are labelled with it"
    )
    display_name = forms.CharField(max_length=100, required=False)
    host = forms.CharField(
        label="Host", max_length=255, initial="localhost", help_text="The host name clients connect to"
    )
    ws_port = forms.IntegerField(label="ws port", min_value=1, max_value=65535, initial=9090)
    wss_port = forms.IntegerField(label="wss port", min_value=1, max_value=65535, initial=9095)

    FIELDS = {"name": "name", "displayName": "display_name", "host": "host", "wsPort": "ws_port", "wssPort": "wss_port"}

    def environment_data(self):
        if not self.is_valid():
            return None
        d = self.cleaned_data
        body = {
            "name": d["name"],
            "displayName": d["display_name"] or d["name"],
            "vhosts": [{"host": d["host"], "wsPort": d["ws_port"], "wssPort": d["wss_port"]}],
        }
        return validated(self, EnvironmentInput, body, self.FIELDS)


class KeyManagerForm(forms.Form):
    name = forms.CharField(max_length=100)
    issuer = forms.CharField(max_length=500, help_text="The iss claim of its tokens, exactly")
    jwks_url = forms.CharField(
        label="JWKS URL", max_length=1000, help_text="Where gateways fetch its public keys, http(s)"
    )
    consumer_key_claim = forms.CharField(
        max_length=60, initial="azp", help_text="The claim naming the application (its consumer key)"
    )
    validate_subscription = forms.BooleanField(
        label="Validate subscriptions (off: any valid token of this issuer may connect)", required=False, initial=True
    )

    FIELDS = {
        "name": "name",
        "issuer": "issuer",
        "certificates": "jwks_url",
        "value": "jwks_url",
        "consumerKeyClaim": "consumer_key_claim",
    }

    def key_manager_data(self):
        if not self.is_valid():
            return None
        d = self.cleaned_data
        body = {
            "name": d["name"],
            "issuer": d["issuer"],
            "certificates": {"type": "JWKS", "value": d["jwks_url"]},
            "consumerKeyClaim": d["consumer_key_claim"],
            "validateSubscription": d["validate_subscription"],
        }
        return validated(self, KeyManagerInput, body, self.FIELDS)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(r, r) for r in ROLES])

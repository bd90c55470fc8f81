"""The Admin Portal's Deny policies section: the list, a form per condition type, enable,
disable and delete. Each form posts to a view of its own, which calls one service of
``publisher.deny_policies`` (the app that owns them) and redirects back, or shows the page
again with the form's errors and what was typed."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from portal.errors import ApplicationError
from portal.pages import role_required
from portal.roles import ADMIN
from publisher.deny_policies import deny_policy_create, deny_policy_delete, deny_policy_get, deny_policy_status_set
from publisher.models import Api, DenyConditionType, DenyPolicy

IP_HELP = "IPv4 (203.0.113.7) or IPv6 (2001:db8::7), as the gateway sees the client: its peer address"
INVERT_LABEL = "Invert: deny every address except this"


class ApiForm(forms.Form):
    api = forms.ChoiceField(label="API", help_text="Every version is a separate API: this one version is denied")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["api"].choices = [
            (f"{a.context}/{a.version}", f"{a.name} {a.version} ({a.context}/{a.version})")
            for a in Api.objects.order_by("name", "version")
        ]

    def condition_value(self):
        return self.cleaned_data["api"]


class ApplicationForm(forms.Form):
    owner = forms.CharField(label="Owner", max_length=150, help_text="The username of the application's owner")
    name = forms.CharField(label="Application", max_length=70, help_text="The application's name, as its owner sees it")

    def condition_value(self):
        return f"{self.cleaned_data['owner']}:{self.cleaned_data['name']}"


class UserForm(forms.Form):
    username = forms.CharField(
        label="Username", max_length=150, help_text="Every token issued to this user, on any application"
    )

    def condition_value(self):
        return self.cleaned_data["username"]


class IpForm(forms.Form):
    address = forms.CharField(label="IP address", max_length=45, help_text=IP_HELP)
    invert = forms.BooleanField(label=INVERT_LABEL, required=False)

    def condition_value(self):
        return {"fixedIp": self.cleaned_data["address"], "invert": self.cleaned_data["invert"]}


class IpRangeForm(forms.Form):
    start = forms.CharField(label="From", max_length=45, help_text="The first address of the range")
    end = forms.CharField(label="To", max_length=45, help_text="The last address, included; same IP version")
    invert = forms.BooleanField(label="Invert: deny every address outside this range", required=False)

    def condition_value(self):
        return {
            "startingIp": self.cleaned_data["start"],
            "endingIp": self.cleaned_data["end"],
            "invert": self.cleaned_data["invert"],
        }


# What each form's button says.
BUTTONS = {
    DenyConditionType.API: "Deny this API",
    DenyConditionType.APPLICATION: "Deny this application",
    DenyConditionType.USER: "Deny this user",
    DenyConditionType.IP: "Deny this address",
    DenyConditionType.IP_RANGE: "Deny this range",
}
# Each condition type: its form, the words that explain it, and which form field each part
# of WSO2's conditionValue is typed in (to show a refusal beside it).
KINDS: dict[str, tuple[type[forms.Form], str, dict[str, str]]] = {
    DenyConditionType.API: (
        ApiForm,
        "Refuse every connection to one version of an API, whoever connects.",
        {"conditionValue": "api"},
    ),
    DenyConditionType.APPLICATION: (
        ApplicationForm,
        "Refuse every token of one application (its owner's other applications still connect).",
        {"conditionValue": "name"},
    ),
    DenyConditionType.USER: (
        UserForm,
        "Refuse every token whose user (its subject) is this user.",
        {"conditionValue": "username"},
    ),
    DenyConditionType.IP: (
        IpForm,
        "Refuse clients connecting from one address, or, inverted, from every other address.",
        {"conditionValue.fixedIp": "address", "conditionValue.invert": "invert"},
    ),
    DenyConditionType.IP_RANGE: (
        IpRangeForm,
        "Refuse clients connecting from a range of addresses, or, inverted, from outside it.",
        {"conditionValue.startingIp": "start", "conditionValue.endingIp": "end", "conditionValue.invert": "invert"},
    ),
}


def _page(request, bound: tuple[str, forms.Form] | None = None, status: int = 200):
    """The section's page, with the form that was posted (and its errors) when there is one."""
    creators = []
    for kind, (form_class, explanation, _) in KINDS.items():
        form = bound[1] if bound and bound[0] == kind else form_class(prefix=kind.lower())
        label = DenyConditionType(kind).label
        creators.append(
            {
                "kind": kind,
                "slug": kind.lower(),
                "label": label,
                "explanation": explanation,
                "button": BUTTONS[kind],
                "form": form,
            }
        )
    return render(
        request,
        "adminportal/deny_policies.html",
        {"policies": DenyPolicy.objects.all(), "creators": creators, "open_kind": bound[0] if bound else ""},
        status=status,
    )


@role_required(ADMIN)
@require_safe
def deny_policies(request):
    return _page(request)


@role_required(ADMIN)
@require_POST
def deny_policy_add(request, condition_type: str):
    kind = condition_type.upper()
    if kind not in KINDS:
        messages.error(request, f"There is no condition type {condition_type!r}.")
        return redirect("adminportal:deny-policies")
    form_class, _, fields = KINDS[kind]
    form = form_class(request.POST, prefix=kind.lower())
    if not form.is_valid():
        return _page(request, (kind, form), status=400)
    try:
        policy = deny_policy_create(condition_type=kind, value=form.condition_value(), user=request.user)
    except ApplicationError as exc:
        placed = False
        for detail in exc.details:
            field = fields.get(detail.get("field", ""))
            if field:
                form.add_error(field, detail["message"])
                placed = True
        if not placed:
            form.add_error(None, exc.description)
        return _page(request, (kind, form), status=exc.status)
    messages.success(
        request,
        f"Denied {policy.get_condition_type_display()} {policy.describe()}: gateways refuse it within a second.",
    )
    return redirect("adminportal:deny-policies")


def _status(request, condition_id, enabled: bool):
    policy = deny_policy_get(condition_id)
    deny_policy_status_set(policy=policy, enabled=enabled, user=request.user)
    what = f"{policy.get_condition_type_display()} {policy.describe()}"
    if enabled:
        messages.success(request, f"Enabled the deny policy on {what}: gateways refuse it within a second.")
    else:
        messages.success(request, f"Disabled the deny policy on {what}: its clients may connect again.")
    return redirect("adminportal:deny-policies")


@role_required(ADMIN)
@require_POST
def deny_policy_enable(request, condition_id):
    return _status(request, condition_id, True)


@role_required(ADMIN)
@require_POST
def deny_policy_disable(request, condition_id):
    return _status(request, condition_id, False)


@role_required(ADMIN)
@require_POST
def deny_policy_remove(request, condition_id):
    policy = deny_policy_get(condition_id)
    what = f"{policy.get_condition_type_display()} {policy.describe()}"
    deny_policy_delete(policy=policy, user=request.user)
    messages.success(request, f"Deleted the deny policy on {what}: its clients may connect again.")
    return redirect("adminportal:deny-policies")

"""Rate-limiting policies: list them by level, create, edit and delete (Admin REST
``/throttling/policies/{level}``'s services, ``publisher.policies``). A policy in use cannot
be deleted; the list says what uses each one."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from adminportal.forms import LEVEL_TITLES, PolicyForm
from adminportal.views import done
from portal.pages import role_required, run_service
from portal.roles import ADMIN
from publisher.models import LimitType, PolicyLevel, ThrottlingPolicy
from publisher.policies import policy_create, policy_delete, policy_update, policy_uses


def _level(level: str) -> str:
    if level not in PolicyLevel.values:
        raise Http404("No such policy level")
    return level


def _list_url(level: str) -> str:
    return f"{reverse('adminportal:policies')}?level={level}"


def limit_text(p: ThrottlingPolicy) -> str:
    """The limit in words: "50000 events per day", "64 KB per 2 min", "unlimited"."""
    if p.unlimited:
        return "unlimited"
    if p.limit_type == LimitType.BANDWIDTH:
        amount = f"{p.limit // 1024} KB" if p.limit % (1024 * 1024) else f"{p.limit // (1024 * 1024)} MB"
    else:
        noun = "requests" if p.limit_type == LimitType.REQUESTCOUNT else "events"
        amount = f"{p.limit} {noun}"
    per = p.time_unit if p.unit_time == 1 else f"{p.unit_time} {p.time_unit}"
    return f"{amount} per {per}"


def _render_list(request, level: str, form: PolicyForm):
    rows = [
        {"policy": p, "limit": limit_text(p), "uses": policy_uses(policy=p)}
        for p in ThrottlingPolicy.objects.filter(level=level).order_by("name")
    ]
    return render(
        request,
        "adminportal/policies.html",
        {
            "level": level,
            "levels": LEVEL_TITLES.items(),
            "level_title": LEVEL_TITLES[level],
            "rows": rows,
            "form": form,
        },
    )


@role_required(ADMIN)
@require_safe
def policies(request):
    level = request.GET.get("level") or PolicyLevel.SUBSCRIPTION
    return _render_list(request, _level(level), PolicyForm(level=level))


@role_required(ADMIN)
@require_POST
def policy_create_view(request, level):
    level = _level(level)
    form = PolicyForm(request.POST, level=level)
    data = form.policy_data()
    policy = data and run_service(request, policy_create, form=form, level=level, data=data, user=request.user)
    if policy:
        messages.success(request, f"Created the {level} policy {policy.name}.")
        return redirect(_list_url(level))
    return _render_list(request, level, form)


def _edit_page(request, policy: ThrottlingPolicy, form: PolicyForm):
    return render(
        request,
        "adminportal/policy_edit.html",
        {"policy": policy, "level_title": LEVEL_TITLES[policy.level], "form": form, "uses": policy_uses(policy=policy)},
    )


@role_required(ADMIN)
@require_safe
def policy_edit(request, policy_id):
    policy = get_object_or_404(ThrottlingPolicy, pk=policy_id)
    form = PolicyForm(initial=PolicyForm.initial_for(policy), level=policy.level, editing=policy)
    return _edit_page(request, policy, form)


@role_required(ADMIN)
@require_POST
def policy_update_view(request, policy_id):
    policy = get_object_or_404(ThrottlingPolicy, pk=policy_id)
    form = PolicyForm(request.POST, initial={"policy_name": policy.name}, level=policy.level, editing=policy)
    data = form.policy_data()
    if data and run_service(request, policy_update, form=form, policy=policy, data=data, user=request.user):
        messages.success(request, f"Saved the {policy.level} policy {policy.name}.")
        return redirect(_list_url(policy.level))
    return _edit_page(request, policy, form)


@role_required(ADMIN)
@require_POST
def policy_delete_view(request, policy_id):
    policy = get_object_or_404(ThrottlingPolicy, pk=policy_id)
    level, name = policy.level, policy.name
    if run_service(request, done(policy_delete), policy=policy, user=request.user):
        messages.success(request, f"Deleted the {level} policy {name}.")
    return redirect(_list_url(level))

"""Users and roles: list and search users, deactivate (revokes their tokens; gateways close
their connections) and activate (``keymanager.services``), grant and take back the
creator, publisher and admin roles (``portal.users``). The last active admin stays: the
services refuse, the page says why."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from adminportal.forms import RoleForm
from adminportal.views import done
from keymanager.services import user_activate, user_deactivate
from portal.pages import role_required, run_service
from portal.roles import ADMIN
from portal.users import ROLES, user_role_grant, user_role_revoke, user_search

ACTIVE = {"yes": True, "no": False}
SHOWN = 200  # users listed at once: search for the others


@role_required(ADMIN)
@require_safe
def users(request):
    query = request.GET.get("q", "").strip()
    role = request.GET.get("role", "") if request.GET.get("role", "") in ROLES else ""
    active = request.GET.get("active", "") if request.GET.get("active", "") in ACTIVE else ""
    found = user_search(query=query, role=role, active=ACTIVE.get(active))
    rows = [
        {"user": u, "held": [{"role": r, "held": r in {g.name for g in u.groups.all()}} for r in ROLES]}
        for u in found[:SHOWN]
    ]
    return render(
        request,
        "adminportal/users.html",
        {
            "rows": rows,
            "shown": SHOWN,
            "back": request.GET.urlencode(),
            "total": found.count(),
            "q": query,
            "role": role,
            "active": active,
            "roles": ROLES,
        },
    )


def _back(request) -> str:
    """The users list as it was filtered when the form was posted."""
    query = request.POST.get("back", "")
    return reverse("adminportal:users") + (f"?{query}" if query else "")


def _user(user_id):
    return get_object_or_404(get_user_model(), pk=user_id)


@role_required(ADMIN)
@require_POST
def user_deactivate_view(request, user_id):
    user = _user(user_id)
    revoked = run_service(request, user_deactivate, user=user, acting_user=request.user)
    if revoked is not None:
        messages.success(
            request,
            f"Deactivated {user.get_username()}: {revoked} token(s) revoked; gateways close their connections.",
        )
    return redirect(_back(request))


@role_required(ADMIN)
@require_POST
def user_activate_view(request, user_id):
    user = _user(user_id)
    if run_service(request, done(user_activate), user=user, acting_user=request.user):
        messages.success(request, f"Activated {user.get_username()}: they can sign in and get new tokens.")
    return redirect(_back(request))


def _role_change(request, user_id, service, said: tuple[str, str]):
    """Grant or take back one role from the form; ``said``: what to say when it changed and
    when it was so already (with ``{user}`` and ``{role}``)."""
    user = _user(user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Choose a role: {', '.join(ROLES)}.")
    else:
        role = form.cleaned_data["role"]
        changed = run_service(request, service, user=user, role=role, acting_user=request.user)
        if changed is not None:
            messages.success(request, said[0 if changed else 1].format(user=user.get_username(), role=role))
    return redirect(_back(request))


@role_required(ADMIN)
@require_POST
def user_role_grant_view(request, user_id):
    return _role_change(request, user_id, user_role_grant, ("{user} is now {role}.", "{user} was {role} already."))


@role_required(ADMIN)
@require_POST
def user_role_revoke_view(request, user_id):
    return _role_change(request, user_id, user_role_revoke, ("{user} is no longer {role}.", "{user} was not {role}."))

"""Gateway environments: list with what is deployed on each, create, delete (Admin REST
``/environments``'s services, ``publisher.environments``). One with APIs deployed on it
cannot be deleted; the list names them."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from adminportal.forms import EnvironmentForm
from adminportal.views import done
from portal.pages import role_required, run_service
from portal.roles import ADMIN
from publisher.environments import environment_create, environment_delete, environment_deployments
from publisher.models import Environment


def _render(request, form: EnvironmentForm):
    rows = [{"env": e, "deployed": environment_deployments(environment=e)} for e in Environment.objects.order_by("id")]
    return render(request, "adminportal/environments.html", {"rows": rows, "form": form})


@role_required(ADMIN)
@require_safe
def environments(request):
    return _render(request, EnvironmentForm())


@role_required(ADMIN)
@require_POST
def environment_create_view(request):
    form = EnvironmentForm(request.POST)
    data = form.environment_data()
    env = data and run_service(request, environment_create, form=form, data=data, user=request.user)
    if env:
        messages.success(
            request,
            f"Created the environment {env.name}. Gateways serve it when started with "
            f"TIDEGATE_GATEWAY_ENVIRONMENTS naming it.",
        )
        return redirect("adminportal:environments")
    return _render(request, form)


@role_required(ADMIN)
@require_POST
def environment_delete_view(request, environment_id):
    env = get_object_or_404(Environment, pk=environment_id)
    name = env.name
    if run_service(request, done(environment_delete), environment=env, user=request.user):
        messages.success(request, f"Deleted the environment {name}.")
    return redirect("adminportal:environments")

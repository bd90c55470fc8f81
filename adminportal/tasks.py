"""The Admin Portal's Tasks: requests waiting for an administrator (subscriptions,
applications, sign-ups), approved or rejected with a comment, and the decisions made."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from devportal import selectors, services
from devportal.models import WorkflowType
from portal.errors import NotFound
from portal.pages import role_required, run_service
from portal.roles import ADMIN
from portal.site_settings import site_settings

HISTORY = 50
GROUPS = (
    (WorkflowType.SUBSCRIPTION_CREATION, "Subscriptions", "subscription_approval"),
    (WorkflowType.APPLICATION_CREATION, "Applications", "application_approval"),
    (WorkflowType.USER_SIGNUP, "Sign-ups", "signup_approval"),
)


@role_required(ADMIN)
@require_safe
def tasks(request):
    pending = list(selectors.workflow_list(pending=True))
    current = site_settings()
    groups = [
        {
            "type": wf_type.value,
            "title": title,
            "on": getattr(current, setting),
            "pending": [w for w in pending if w.workflow_type == wf_type],
        }
        for wf_type, title, setting in GROUPS
    ]
    history = list(selectors.workflow_list(pending=False)[:HISTORY])
    return render(
        request,
        "adminportal/tasks.html",
        {"groups": groups, "history": history, "history_size": HISTORY, "pending_count": len(pending)},
    )


@role_required(ADMIN)
@require_POST
def task_decide(request, reference_id):
    """Approve or reject one request: the button pressed is the decision."""
    wf = selectors.workflow_get(reference_id=reference_id)
    if wf is None:
        raise NotFound(f"Workflow {reference_id} not found")
    status = request.POST.get("status", "")
    decided = run_service(
        request,
        services.workflow_decide,
        workflow=wf,
        status=status,
        comment=request.POST.get("comment", ""),
        acting_user=request.user,
    )
    if decided is not None:
        messages.success(request, f"{decided.status.title()}: {decided.subject}.")
    return redirect("adminportal:tasks")

"""The audit log, filtered by action, actor and object: the same query and table as the
Publisher's audit page (``portal.pages.audit_log_context``, ``templates/audit_log.html``)."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

from portal.pages import audit_log_context, role_required
from portal.roles import ADMIN


@role_required(ADMIN)
@require_safe
def audit(request):
    return render(request, "adminportal/audit.html", audit_log_context(request))

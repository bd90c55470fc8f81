"""Helpers shared by the Publisher, Dev Portal and Admin Portal pages."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator

from portal.audit import audit_events
from portal.errors import ApplicationError
from portal.roles import has_role


def role_required(*roles: str):
    """Signed in, and holding one of ``roles``; otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def run_service(request, fn, *, form=None, **kwargs):
    """Call a service; on a domain error show its message (on the form when there is one)
    and return None, so the page re-renders with what the user typed."""
    try:
        return fn(**kwargs)
    except ApplicationError as exc:
        details = [d.get("message") for d in exc.details if isinstance(d, dict) and d.get("message")]
        text = exc.description if not details else f"{exc.description}"
        if form is not None:
            form.add_error(None, text)
            for d in details:
                if d != text:
                    form.add_error(None, d)
        else:
            messages.error(request, text)
        return None


def audit_log_context(request) -> dict:
    """What an audit log page shows (the Publisher's and the Admin Portal's, through
    ``templates/audit_log.html``): the filters from the query string, 50 events a page."""
    filters = {name: request.GET.get(name, "").strip() for name in ("action", "actor", "target")}
    page = Paginator(audit_events(**filters), 50).get_page(request.GET.get("page"))
    return {"page": page, "filters": filters, "filter_query": urlencode({k: v for k, v in filters.items() if v})}

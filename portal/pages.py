"""Helpers shared by the Publisher and Dev Portal pages."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

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

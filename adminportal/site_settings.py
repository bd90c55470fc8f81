"""The Admin Portal's Settings: sign-up on or off, which approval workflows are on, the
business plans a new API offers by default, and whether staff must use two-factor sign-in."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from portal.pages import role_required, run_service
from portal.roles import ADMIN
from portal.site_settings import site_settings
from publisher import selectors as publisher_selectors
from publisher.site_settings import site_settings_update

SWITCHES = (
    "signup_enabled",
    "subscription_approval",
    "application_approval",
    "signup_approval",
    "staff_two_factor_required",
)


def _page(request, *, values=None, status=200):
    """The form with the saved settings, or with what was sent when it was refused."""
    current = site_settings()
    values = values or {
        **{s: getattr(current, s) for s in SWITCHES},
        "default_policies": current.default_policies,
    }
    return render(
        request,
        "adminportal/settings.html",
        {
            "values": values,
            "plans": publisher_selectors.streaming_subscription_policies(),
            "operator_signup": settings.TIDEGATE["SIGNUP_ENABLED"],
        },
        status=status,
    )


@role_required(ADMIN)
@require_safe
def settings_page(request):
    return _page(request)


@role_required(ADMIN)
@require_POST
def settings_save(request):
    values = {
        **{s: request.POST.get(s) == "on" for s in SWITCHES},
        "default_policies": request.POST.getlist("default_policies"),
    }
    saved = run_service(request, site_settings_update, acting_user=request.user, **values)
    if saved is None:
        return _page(request, values=values, status=400)
    messages.success(request, "Saved the settings.")
    return redirect("adminportal:settings")

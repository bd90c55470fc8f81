"""The Publisher's Subscriptions tab of an API: every application subscribed, blocking and
unblocking (a GET view for the page, a POST view for its form). Subscriptions are the Dev
Portal's, so the page lives here; tidegate/urls.py mounts it among the Publisher's pages
(``publisher:subscriptions``, ``publisher:subscription-block``)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from devportal import selectors, services
from portal.pages import role_required, run_service
from portal.roles import CREATOR, PUBLISHER, has_role
from publisher.design_views import page_context
from publisher.selectors import api_get_or_404


@role_required(CREATOR, PUBLISHER)
@require_safe
def subscriptions(request, api_id):
    api = api_get_or_404(api_id)
    subs = selectors.api_subscription_list(api=api)
    return render(
        request, "publisher/subscriptions.html", page_context(request, api, "subscriptions", subscriptions=subs)
    )


@role_required(CREATOR, PUBLISHER)
@require_POST
def subscription_block(request, api_id):
    """Block, block production only or unblock one subscription: a publisher's."""
    api = api_get_or_404(api_id)
    if not has_role(request.user, PUBLISHER):
        messages.error(request, "Only publishers may block or unblock subscriptions.")
        return redirect("publisher:subscriptions", api_id=api.id)
    sub = selectors.api_subscription_get(api=api, subscription_id=request.POST.get("subscription") or None)
    state = request.POST.get("state", "")
    if sub is None:
        messages.error(request, "That subscription no longer exists.")
    elif state not in ("BLOCKED", "PROD_ONLY_BLOCKED", "UNBLOCKED"):
        messages.error(request, "Choose Block, Block production only or Unblock.")
    elif run_service(request, services.subscription_block, subscription=sub, state=state, acting_user=request.user):
        messages.success(request, f"{sub.application.name}'s subscription is now {state}.")
    return redirect("publisher:subscriptions", api_id=api.id)

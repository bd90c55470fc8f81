"""The Publisher's analytics page of one API: traffic over time, top applications, close
codes, the connections open now with a disconnect button, and a CSV download. The page
answers GET; its Disconnect form posts to its own view beside it (analytics/urls.py)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from analytics import selectors, services
from analytics.apis import analytics_data
from portal.pages import role_required, run_service
from portal.roles import CREATOR, PUBLISHER, has_role
from publisher.design_views import page_context
from publisher.selectors import api_get_or_404


@role_required(CREATOR, PUBLISHER)
@require_safe
def api_analytics(request, api_id):
    api = api_get_or_404(api_id)
    range_name = request.GET.get("range", "24h")
    if range_name not in selectors.RANGES:
        range_name = "24h"
    data = analytics_data(api, range_name)
    return render(
        request,
        "publisher/analytics.html",
        page_context(
            request,
            api,
            "analytics",
            data=data,
            range=range_name,
            ranges=list(selectors.RANGES),
            can_disconnect=has_role(request.user, PUBLISHER),
        ),
    )


@role_required(CREATOR, PUBLISHER)
@require_POST
def connection_disconnect(request, api_id):
    """The Disconnect button of a live connection's row: a publisher's (a creator is told so and
    nothing changes). Back to the page either way, with what happened as a message."""
    api = api_get_or_404(api_id)
    if not has_role(request.user, PUBLISHER):
        messages.error(request, "Only publishers may disconnect clients.")
    elif run_service(
        request,
        services.connection_disconnect,
        api=api,
        connection_id=request.POST.get("connection", ""),
        user=request.user,
    ):
        messages.success(request, "Disconnect requested: the gateway closes the connection (1008).")
    return redirect("publisher:analytics", api_id=api.id)

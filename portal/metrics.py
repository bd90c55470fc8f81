"""``GET /metrics`` on the portal (Prometheus text): what the sign-in limits refused.

Counts are read from the database at scrape time (django-axes' failure log), so every portal
process answers the same. Readable with ``Authorization: Bearer $TIDEGATE_GATEWAY_TOKEN``
(what a scraper next to the gateways already holds) or by a signed-in admin; anyone else
gets 401 (403 when signed in without the admin role).
"""

from __future__ import annotations

import hmac

from axes.models import AccessFailureLog
from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily

from portal.errors import error_body
from portal.roles import ADMIN, has_role
from portal.throttle import SURFACES


def _surface_filter(surface: str) -> Q:
    return Q(path_info__startswith=SURFACES[surface])


class AuthCollector:
    def collect(self):
        counts = AccessFailureLog.objects.aggregate(
            **{f"failed_{s}": Count("id", filter=_surface_filter(s)) for s in SURFACES},
            **{f"locked_{s}": Count("id", filter=_surface_filter(s) & Q(locked_out=True)) for s in SURFACES},
        )
        failures = CounterMetricFamily(
            "tidegate_auth_failures",
            "Failed sign-ins and client authentications, refused ones included",
            labels=["surface"],
        )
        lockouts = CounterMetricFamily(
            "tidegate_auth_lockouts",
            "Attempts refused (or that crossed the limit) because of repeated failures",
            labels=["surface"],
        )
        for surface in SURFACES:
            failures.add_metric([surface], counts[f"failed_{surface}"])
            lockouts.add_metric([surface], counts[f"locked_{surface}"])
        yield failures
        yield lockouts


def _may_read(request) -> bool | None:
    """True, False (signed in, not an admin) or None (no credentials worth the name)."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return hmac.compare_digest(value.strip().encode(), settings.TIDEGATE["GATEWAY_TOKEN"].encode()) or None
    if request.user.is_authenticated:
        return has_role(request.user, ADMIN)
    return None


@require_GET
def metrics_view(request):
    allowed = _may_read(request)
    if allowed is None:
        return JsonResponse(
            error_body(401, "Unauthorized", "Send the gateway token as a Bearer token, or sign in as an admin"),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="tidegate"'},
        )
    if not allowed:
        return JsonResponse(error_body(403, "Forbidden", "Only admins may read the portal's metrics"), status=403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AuthCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

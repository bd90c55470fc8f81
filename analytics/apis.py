"""Analytics over REST: the gateways' ingest endpoint, and the Publisher's views of an API's
traffic (JSON and CSV), live connections and disconnect."""

from __future__ import annotations

import csv
import json

from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.response import Response

from analytics import selectors, services
from gateway_sync.gateway_requests import gateway_authorized, gateway_token_required
from portal.errors import ApplicationError, ValidationFailed
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsCreatorOrPublisher, IsPublisher
from publisher.selectors import api_get_or_404

MAX_BATCH_BYTES = 20 * 1024 * 1024


@csrf_exempt
@require_POST
def ingest_view(request):
    """``POST /internal/gateway/analytics``: one batch of a gateway's counts."""
    if not gateway_authorized(request):
        return gateway_token_required()
    if len(request.body) > MAX_BATCH_BYTES:
        return JsonResponse({"code": 413, "message": "Payload Too Large", "description": "batch too large"}, status=413)
    try:
        batch = json.loads(request.body)
        if not isinstance(batch, dict):
            raise ValueError
        rows = services.analytics_ingest(batch=batch)
    except ValueError:
        return JsonResponse(
            {"code": 400, "message": "Bad Request", "description": "a batch is a JSON object"}, status=400
        )
    except ApplicationError as exc:
        return JsonResponse(
            {"code": exc.status, "message": exc.message, "description": exc.description}, status=exc.status
        )
    services.analytics_purge()
    return JsonResponse({"rows": rows})


def since_for(range_name: str):
    if range_name not in selectors.RANGES:
        raise ValidationFailed(f"range must be one of {', '.join(selectors.RANGES)}")
    return timezone.now() - selectors.RANGES[range_name]


def analytics_data(api, range_name: str) -> dict:
    since = since_for(range_name)
    return {
        "range": range_name,
        "totals": selectors.totals(api_id=api.id, since=since),
        "series": [
            {**p, "minute": p["minute"].isoformat()} for p in selectors.frames_over_time(api_id=api.id, since=since)
        ],
        "topApplications": selectors.top_applications(api_id=api.id, since=since),
        "closeCodes": selectors.close_codes(api_id=api.id, since=since),
        "connections": selectors.live_connections(api_id=api.id),
    }


class ApiAnalyticsApi(ScopedAPIView):
    """``GET /apis/{apiId}/analytics?range=1h|24h|7d[&format=csv]``"""

    required_scopes = scopes("apim:api_view")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id):
        api = api_get_or_404(api_id)
        range_name = request.query_params.get("range", "24h")
        answer_format = request.query_params.get("format", "json")
        if answer_format not in ("json", "csv"):
            raise ValidationFailed("format must be json or csv")
        since = since_for(range_name)  # checks the range before it is put in a header
        if answer_format == "csv":
            response = HttpResponse(content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="{api.name}-{api.version}-{range_name}.csv"'
            writer = csv.writer(response)
            writer.writerow(["minute", "application", "topic", "kind", "label", "count", "total"])
            for minute, app, topic, kind, label, count, total in selectors.rows_for_csv(api_id=api.id, since=since):
                writer.writerow(
                    [minute.isoformat(), csv_text(app), csv_text(topic), kind, csv_text(label), count, total]
                )
            return response
        return Response(analytics_data(api, range_name))


def csv_text(value):
    """A cell a developer or a client chose (an application name, a topic, a close reason)
    that a spreadsheet would run as a formula (=, +, -, @, or a tab or carriage return
    first) is written with a leading apostrophe, as OWASP advises for CSV exports."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class ApiConnectionsApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view")
    permission_classes = [IsCreatorOrPublisher]

    def get(self, request, api_id):
        items = selectors.live_connections(api_id=api_get_or_404(api_id).id)
        return Response({"count": len(items), "list": items})


class ApiConnectionDisconnectApi(ScopedAPIView):
    required_scopes = scopes("apim:api_view", POST="apim:api_create")
    permission_classes = [IsPublisher]

    def post(self, request, api_id, connection_id):
        services.connection_disconnect(api=api_get_or_404(api_id), connection_id=connection_id, user=request.user)
        return Response(status=202)

"""The control plane's side of gateway sync: one endpoint gateways pull the snapshot from."""

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from gateway_sync.services import config_deltas, config_version
from gateway_sync.snapshot import SCHEMA_VERSION, snapshot_build, snapshot_to_dict


def gateway_authorized(request) -> bool:
    """Gateways present the shared gateway token as a bearer token."""
    expected = f"Bearer {settings.TIDEGATE['GATEWAY_TOKEN']}"
    return hmac.compare_digest(request.headers.get("Authorization", ""), expected)


def gateway_token_required() -> JsonResponse:
    return JsonResponse({"code": 401, "message": "Unauthorized", "description": "gateway token required"}, status=401)


@require_GET
def snapshot_view(request):
    """``GET /internal/gateway/snapshot?environments=Default`` with ``Authorization: Bearer <gateway token>``.

    Answers 304 when the caller's ``If-None-Match`` already names the current version, so
    a gateway can check every few hundred milliseconds for the cost of one row read.
    """
    if not gateway_authorized(request):
        return gateway_token_required()
    environments = [e for e in request.GET.get("environments", "Default").split(",") if e]
    version = config_version()
    etag = f'"{version}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponse(status=304, headers={"ETag": etag})
    since = request.GET.get("since", "")
    if since.isdigit() and int(since) < version:
        deltas = config_deltas(since=int(since), version=version)
        if deltas is not None:
            return JsonResponse(
                {"schema": SCHEMA_VERSION, "version": version, "since": int(since), "deltas": deltas},
                headers={"ETag": etag},
            )
    snapshot = snapshot_build(environments=environments, version=version)
    return JsonResponse(snapshot_to_dict(snapshot), headers={"ETag": etag})

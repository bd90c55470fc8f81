"""What the portal reads off a gateway's own requests: the shared gateway token (on its
snapshot pulls, tidegate/snapshot/apis.py, and its analytics posts, analytics/apis.py) and
the report a pull makes of the gateway that sent it (kept by ``services.gateway_report``)."""

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse

from gateway_sync.services import gateway_report

log = logging.getLogger(__name__)


def gateway_token_valid(authorization: str) -> bool:
    """Whether an ``Authorization`` header value is the shared gateway token as a bearer token."""
    expected = f"Bearer {settings.TIDEGATE['GATEWAY_TOKEN']}"
    return hmac.compare_digest(authorization.encode(), expected.encode())


def gateway_authorized(request) -> bool:
    """Gateways present the shared gateway token as a bearer token."""
    return gateway_token_valid(request.headers.get("Authorization", ""))


def gateway_token_required() -> JsonResponse:
    return JsonResponse({"code": 401, "message": "Unauthorized", "description": "gateway token required"}, status=401)


def pull_report(gateway_id: str | None, interval: str | None, environments: str | None) -> dict | None:
    """What a pull tells about the gateway that sent it (``Gateway.sync_once`` names itself
    and its pull interval in headers, its environments in the query), or None."""
    gateway_id = (gateway_id or "").strip()
    if not gateway_id or len(gateway_id) > 100 or not gateway_id.isprintable():
        return None
    try:
        seconds = float(interval or "")
    except ValueError:
        seconds = 0.25
    if not 0.01 <= seconds <= 3600:
        seconds = 0.25
    envs = [e for e in (environments or "Default").split(",") if e][:20]
    return {"gateway_id": gateway_id, "environments": [e[:100] for e in envs], "sync_interval": seconds}


def pull_report_record(report: dict | None, version: int) -> None:
    """Keep what a gateway reported; a failure here never fails its pull."""
    if report is None:
        return
    try:
        gateway_report(**report, version=version)
    except DatabaseError as exc:
        connection.close()
        log.debug("could not record the report of gateway %s: %s", report["gateway_id"], exc)

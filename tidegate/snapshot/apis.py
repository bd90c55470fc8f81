"""The snapshot endpoint gateways pull from: the common unchanged pull answered before
Django (``snapshot_not_modified``, mounted in tidegate/asgi.py), the rest in full
(``snapshot_view``, tidegate/urls.py), with the deltas gateway_sync keeps or the snapshot
built from every app (``builder.snapshot_build``)."""

from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from gateway_contract.snapshot import SCHEMA_VERSION, snapshot_to_dict
from gateway_contract.wire import GATEWAY_HEADER, INTERVAL_HEADER, VERSION_TIME_HEADER, snapshot_etag
from gateway_sync.gateway_requests import (
    gateway_authorized,
    gateway_token_required,
    gateway_token_valid,
    pull_report,
    pull_report_record,
)
from gateway_sync.services import config_deltas, config_version, config_version_time
from tidegate.snapshot.builder import snapshot_build


def _not_modified(etag: bytes, report: dict | None) -> bool | None:
    """Whether ``etag`` names the current configuration version (recording the gateway's
    report when it does), read on a thread of the loop's pool that keeps its database
    connection between reads; None when the database did not answer (the connection is
    dropped, so the next read opens a fresh one)."""
    try:
        version = config_version()
    except DatabaseError:
        connection.close()
        return None
    if etag != snapshot_etag(version).encode():
        return False
    pull_report_record(report, version)
    return True


async def snapshot_not_modified(scope, send) -> bool:
    """Answer the common pull, a gateway whose copy is current, with 304 outside Django's
    request cycle (which costs the portal about 4.5 ms of CPU per request under Daphne,
    against well under one here; each gateway pulls four times a second). True when
    answered; anything else (no or a wrong token, no or an old ETag, a database error)
    goes on to ``snapshot_view``, which answers it in full."""
    headers = dict(scope["headers"])
    etag = headers.get(b"if-none-match")
    if etag is None or not gateway_token_valid(headers.get(b"authorization", b"").decode("latin-1")):
        return False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    report = pull_report(
        headers.get(GATEWAY_HEADER.lower().encode(), b"").decode("latin-1"),
        headers.get(INTERVAL_HEADER.lower().encode(), b"").decode("latin-1"),
        (query.get("environments") or [""])[0],
    )
    if not await sync_to_async(_not_modified, thread_sensitive=False)(etag, report):
        return False
    await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
    await send({"type": "http.response.body", "body": b""})
    return True


@require_GET
def snapshot_view(request):
    """``GET /internal/gateway/snapshot?environments=Default`` with ``Authorization: Bearer <gateway token>``.

    Answers 304 when the caller's ``If-None-Match`` already names the current version, so
    a gateway can check every few hundred milliseconds for the cost of one row read.
    """
    if not gateway_authorized(request):
        return gateway_token_required()
    environments = [e for e in request.GET.get("environments", "Default").split(",") if e]
    version, version_time = config_version_time()
    etag = snapshot_etag(version)
    report = pull_report(
        request.headers.get(GATEWAY_HEADER), request.headers.get(INTERVAL_HEADER), request.GET.get("environments")
    )
    since = request.GET.get("since", "")
    if not (since.isascii() and since.isdigit()):  # "²" is a digit to isdigit, not to int
        since = ""
    if request.headers.get("If-None-Match") == etag:
        pull_report_record(report, version)
        return HttpResponse(status=304, headers={"ETag": etag})
    # The version the gateway holds (0 at its first pull); it reports the new one once applied.
    pull_report_record(report, int(since) if since.isdigit() and int(since) <= version else 0)
    headers = {"ETag": etag}
    if version_time is not None:
        headers[VERSION_TIME_HEADER] = f"{version_time:.6f}"
    if since.isdigit() and int(since) < version:
        deltas = config_deltas(since=int(since), version=version)
        if deltas is not None:
            return JsonResponse(
                {"schema": SCHEMA_VERSION, "version": version, "since": int(since), "deltas": deltas},
                headers=headers,
            )
    snapshot = snapshot_build(environments=environments, version=version)
    return JsonResponse(snapshot_to_dict(snapshot), headers=headers)

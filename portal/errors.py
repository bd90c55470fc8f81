"""Domain errors and the one handler that turns them (and DRF's) into the JSON error body.

Body: ``{"code": int, "message": str, "description": str}`` plus ``error`` (a list of
details) for validation failures, as WSO2's REST APIs answer. Never a stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, models, transaction
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response

log = logging.getLogger(__name__)
M = TypeVar("M", bound=models.Model)


class ApplicationError(Exception):
    status = 400
    message = "Bad Request"

    def __init__(self, description: str, *, details: list[dict[str, Any]] | None = None, status: int | None = None):
        super().__init__(description)
        self.description = description
        self.details = details or []
        if status is not None:
            self.status = status


class ValidationFailed(ApplicationError):
    status = 400
    message = "Bad Request"


class NotFound(ApplicationError, Http404):
    """Also an Http404, so a page that raises it answers Django's 404 page; REST answers the
    JSON error body with its description."""

    status = 404
    message = "Not Found"


class Conflict(ApplicationError):
    status = 409
    message = "Conflict"


class PreconditionFailed(ApplicationError):
    status = 412
    message = "Precondition Failed"


class Forbidden(ApplicationError):
    status = 403
    message = "Forbidden"


def create_or_conflict(model: type[M], *, conflict: str, **fields: Any) -> M:
    """``model.objects.create(**fields)`` in a savepoint; when a unique constraint refuses it,
    409 saying ``conflict``, and the caller's transaction goes on as if nothing was tried."""
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except IntegrityError:
        raise Conflict(conflict) from None


def error_body(status: int, message: str, description: str, details: list | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": status, "message": message, "description": description}
    if details:
        body["error"] = details
    return body


# The body above as the OpenAPI document describes it (tidegate/openapi.py).
class ErrorDetailSerializer(serializers.Serializer):
    field = serializers.CharField(required=False)
    message = serializers.CharField()
    pointer = serializers.CharField(required=False, help_text="JSON pointer into an AsyncAPI document")
    line = serializers.IntegerField(required=False, help_text="1-based line of the AsyncAPI document")


class ErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text="The HTTP status")
    message = serializers.CharField(help_text="The status' reason, e.g. Conflict")
    description = serializers.CharField(help_text="What went wrong, for people")
    error = ErrorDetailSerializer(many=True, required=False)


class RestNotFoundMiddleware:
    """A REST path that no URL pattern matches answers the JSON error body too, as the views'
    own 404s do: an unknown path, or an id its path converter refuses (``/apis/not-a-uuid``
    under ``<uuid:api_id>``). Middleware rather than ``handler404``, which Django skips while
    DEBUG is on. Pages keep Django's 404 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 404 and request.resolver_match is None and request.path.startswith("/api/"):
            return JsonResponse(error_body(404, "Not Found", "The requested resource does not exist"), status=404)
        return response


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.status, exc.message, exc.description, exc.details), status=exc.status)
    if isinstance(exc, Http404):
        return Response(error_body(404, "Not Found", "The requested resource does not exist"), status=404)
    if isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.ValidationError):
        details = _flatten(exc.detail)
        description = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details)
        return Response(error_body(400, "Bad Request", description, details), status=400)
    if isinstance(exc, drf.APIException):
        headers = {}
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            # Bearer, not Basic: a Basic challenge makes browsers ask for a password and then
            # send it with every request, other sites' included. Scripts send Basic unasked.
            headers["WWW-Authenticate"] = 'Bearer realm="tidegate"'
            status = 401
        else:
            status = exc.status_code
        return Response(error_body(status, _title(status), str(exc.detail)), status=status, headers=headers)
    log.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body(500, "Internal Server Error", "The server could not complete the request"), status=500)


def _title(status: int) -> str:
    return HTTPStatus(status).phrase


def _flatten(detail, field: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out.extend(_flatten(value, f"{field}.{name}" if field and name else (name or field)))
        return out
    if isinstance(detail, list):
        out = []
        for item in detail:
            out.extend(_flatten(item, field))
        return out
    return [{"field": field, "message": str(detail)}]

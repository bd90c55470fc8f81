"""The OpenAPI document of Tidegate's REST API (drf-spectacular).

Views are plain APIViews with WSO2-shaped dict responses, so the schema class says what
spectacular cannot guess: a view's ``InputSerializer`` is its request body (else a JSON
object for writes), responses are JSON objects described by the view's docstring, and
every operation lists the error body the API answers with.
"""

from __future__ import annotations

import re

from drf_spectacular.authentication import BasicScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from keymanager.scopes import APIM_SCOPE_DESCRIPTIONS


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


_ERRORS = {
    "400": "Bad input; nothing changed",
    "401": "Not signed in, or bad credentials",
    "403": "Signed in without a role that allows this",
    "404": "No such object (or not yours)",
    "409": "Conflicts with the current state; nothing changed",
    "412": "If-Match does not match the current version",
}
_WRITE = ("POST", "PUT", "PATCH")


class TidegateSchema(AutoSchema):
    def get_request_serializer(self):
        serializer = getattr(self.view, "InputSerializer", None)
        if serializer is not None:
            return serializer
        return OpenApiTypes.OBJECT if self.method in _WRITE else None

    def get_response_serializers(self):
        status = "201" if self.method == "POST" and self._is_create_like() else "200"
        summary = (self.view.__doc__ or "").strip().split("\n\n")[0] or "JSON object"
        responses = {status: OpenApiResponse(OpenApiTypes.OBJECT, description=" ".join(summary.split()))}
        codes = ["401", "403", "404"] if "{" in self.path else ["401", "403"]
        if self.method in (*_WRITE, "DELETE"):
            codes += ["400", "409"]
        if self.method == "PUT":
            codes.append("412")
        for code in sorted(set(codes)):
            responses[code] = OpenApiResponse(ErrorSerializer, description=_ERRORS[code])
        return responses

    def _is_create_like(self) -> bool:
        return self.path.endswith(("/apis", "/applications", "/subscriptions", "/revisions", "/import-asyncapi"))

    def get_operation_id(self):
        name = re.sub(r"Api$", "", type(self.view).__name__)
        words = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        return f"{words}_{self.method.lower()}"

    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        if type(serializer).__name__ == "InputSerializer" or getattr(serializer, "__name__", "") == "InputSerializer":
            return re.sub(r"Api$", "", type(self.view).__name__) + "Request"
        return name


class BearerScheme(OpenApiAuthenticationExtension):
    """Documents portal.auth.KeyManagerBearerAuthentication: a JWT from /oauth2/token."""

    target_class = "portal.auth.KeyManagerBearerAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "A token from the built-in Key Manager carrying the apim:* scope the call needs",
            "flows": {
                "password": {
                    "tokenUrl": "/oauth2/token",
                    "refreshUrl": "/oauth2/token",
                    "scopes": APIM_SCOPE_DESCRIPTIONS,
                },
                "clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": APIM_SCOPE_DESCRIPTIONS},
            },
        }


class LockoutBasicScheme(BasicScheme):
    """HTTP Basic with sign-in lockouts (portal.throttle) is HTTP Basic to a client; without
    this, every view warns (drf_spectacular.W001) and ``check --deploy`` is not clean."""

    target_class = "portal.throttle.LockoutBasicAuthentication"

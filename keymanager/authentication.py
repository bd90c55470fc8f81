"""Bearer tokens from the built-in Key Manager on the REST APIs, as WSO2's scripts use them
(``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``).

A token is accepted when its signature is ours, it has not expired or been revoked, and it
carries the ``apim:*`` scope the call needs (table below). The user is the token's subject;
the views' role checks still apply, so a scope never grants more than the user's roles.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from keymanager.server import issued_token

PUBLISHER = "/api/am/publisher/v4/"
DEVPORTAL = "/api/am/devportal/v3/"
ADMIN = "/api/am/admin/v4/"


def required_scope(path: str, method: str) -> str:
    read = method in ("GET", "HEAD", "OPTIONS")
    if path.startswith(PUBLISHER):
        rest = path[len(PUBLISHER) :]
        if rest.startswith("subscriptions"):
            return "apim:subscription_view" if read else "apim:subscription_block"
        if read and not rest.startswith("apis/export"):
            return "apim:api_view"
        if rest.startswith(("apis/export", "apis/import")) and not rest.startswith("apis/import-asyncapi"):
            return "apim:api_import_export"
        if rest.startswith("apis/change-lifecycle") or rest.endswith(("/deploy-revision", "/undeploy-revision")):
            return "apim:api_publish"
        return "apim:api_create"
    if path.startswith(DEVPORTAL):
        rest = path[len(DEVPORTAL) :]
        if read:
            return "apim:subscribe"
        return "apim:sub_manage" if rest.startswith("subscriptions") else "apim:app_manage"
    if path.startswith(ADMIN):
        return "apim:tier_view" if read and "throttling" in path else "apim:admin"
    return ""


class KeyManagerBearerAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Bearer <token>'")
        try:
            record = issued_token(parts[1].decode())
        except UnicodeDecodeError:
            record = None
        if record is None:
            raise exceptions.AuthenticationFailed(
                "The bearer token is not one this Key Manager issued, or its keys are gone"
            )
        claims = record.claims
        if claims.get("iss") != settings.TIDEGATE["KEY_MANAGER_ISSUER"] or claims.get("exp", 0) <= time.time():
            raise exceptions.AuthenticationFailed("The bearer token has expired")
        if record.revoked:
            raise exceptions.AuthenticationFailed("The bearer token has been revoked")
        user = get_user_model().objects.filter(username=claims.get("sub"), is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed("The token's user no longer exists")
        needed = required_scope(request.path, request.method)
        if needed and needed not in (claims.get("scope") or "").split():
            raise exceptions.PermissionDenied(f"This call needs a token with the {needed} scope")
        return user, claims

    def authenticate_header(self, request):
        return 'Bearer realm="tidegate"'

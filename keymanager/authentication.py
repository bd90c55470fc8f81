"""Bearer tokens from the built-in Key Manager on the REST APIs, as WSO2's scripts use them
(``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``).

A token is accepted when its signature is ours and it has not expired or been revoked; the
user is the token's subject. Which ``apim:*`` scope a call needs is the view's to say
(``portal/rest.py``); the views' role checks still apply, so a scope never grants more than
the user's roles.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from keymanager.server import issued_token


class KeyManagerBearerAuthentication(BaseAuthentication):
    carries_scopes = True  # portal.rest.RequiredScope checks the token's scope claim

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
        return user, claims

    def authenticate_header(self, request):
        return 'Bearer realm="tidegate"'

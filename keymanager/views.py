"""OAuth2 endpoints: ``/oauth2/token`` (Authlib, with a limit on failed attempts),
``/oauth2/revoke`` (RFC 7009), ``/oauth2/introspect`` (RFC 7662) and ``/oauth2/jwks``."""

import json

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from keymanager import signing
from keymanager.server import server

WINDOW = 60
# Answers that mean someone may be guessing credentials.
_GUESSING = {"invalid_client", "invalid_grant", "unauthorized_client"}


def _failures_key(request) -> str:
    return "oauth2-token-failures:" + (request.META.get("REMOTE_ADDR") or "?")


@csrf_exempt
@require_POST
def token_view(request):
    limit = settings.TIDEGATE["TOKEN_ENDPOINT_FAILURES_PER_MINUTE"]
    key = _failures_key(request)
    if limit and cache.get(key, 0) >= limit:
        return JsonResponse(
            {
                "error": "slow_down",
                "error_description": f"Too many failed attempts from this address; try again within {WINDOW} s",
            },
            status=429,
            headers={"Retry-After": str(WINDOW)},
        )
    response = server.create_token_response(request)
    if response.status_code in (400, 401):
        try:
            error = json.loads(response.content).get("error")
        except ValueError:
            error = None
        if error in _GUESSING:
            cache.add(key, 0, WINDOW)
            cache.incr(key)
    return response


@csrf_exempt
@require_POST
def revoke_view(request):
    return server.create_endpoint_response("revocation", request)


@csrf_exempt
@require_POST
def introspect_view(request):
    return server.create_endpoint_response("introspection", request)


@require_GET
def jwks_view(request):
    return JsonResponse(signing.jwks(), headers={"Cache-Control": "public, max-age=300"})

"""OAuth2 endpoints: ``/oauth2/token`` (Authlib, with a limit on failed attempts),
``/oauth2/revoke`` (RFC 7009), ``/oauth2/introspect`` (RFC 7662) and ``/oauth2/jwks``.

The token endpoint counts two kinds of failure (portal/throttle.py, in the database): a
wrong password in the password grant, under the user's name, and a failed client
authentication or a bad refresh token, under the client id (revocation and introspection
count failed client authentications too). Each is limited per
(name, client address), so one noisy client or guessed user never locks out the others.
"""

import base64
import binascii
import json
from urllib.parse import unquote

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from keymanager import signing
from keymanager.server import server
from portal import throttle


def _client_id(request) -> str:
    """The client id the request claims, from HTTP Basic or the form (RFC 6749 2.3.1)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, ValueError):  # ValueError: not ASCII; UnicodeDecodeError is one
            return ""
        return unquote(decoded.partition(":")[0])
    return request.POST.get("client_id", "")


def _error(response) -> str | None:
    if response.status_code not in (400, 401):
        return None
    try:
        return json.loads(response.content).get("error")
    except ValueError:
        return None


def _malformed_basic(request) -> bool:
    """HTTP Basic credentials that are not base64 of UTF-8 text (or are missing after the
    scheme): Authlib would fail on them with an exception rather than an OAuth2 error."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        return True
    return not value.strip()


def _limited(request, respond, *, bad_grant_counts: bool = False):
    """``respond(request)``, unless this client id is locked out from this address; a failed
    client authentication counts against it (and, where it means guessing, a bad grant)."""
    if _malformed_basic(request):
        return JsonResponse(
            {
                "error": "invalid_client",
                "error_description": "The Basic credentials are not base64 of client_id:secret",
            },
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="oauth2"', "Cache-Control": "no-store"},
        )
    client_id = _client_id(request)
    if throttle.client_refused(request, client_id):
        return throttle.lockout_response(request)
    response = respond(request)
    error = _error(response)
    if error == "invalid_client" or (bad_grant_counts and error == "invalid_grant"):
        throttle.client_failed(request, client_id)
    # Set by django-axes when this failure (a client's, or the password grant's user's)
    # reached the limit.
    if getattr(request, "axes_locked_out", False):
        return throttle.lockout_response(request)
    return response


@csrf_exempt
@require_POST
def token_view(request):
    # A wrong password was counted under the user already (PasswordGrant); a bad refresh
    # token counts under the client.
    return _limited(
        request, server.create_token_response, bad_grant_counts=request.POST.get("grant_type") != "password"
    )


@csrf_exempt
@require_POST
def revoke_view(request):
    return _limited(request, lambda r: server.create_endpoint_response("revocation", r))


@csrf_exempt
@require_POST
def introspect_view(request):
    return _limited(request, lambda r: server.create_endpoint_response("introspection", r))


@require_GET
def jwks_view(request):
    return JsonResponse(signing.jwks(), headers={"Cache-Control": "public, max-age=300"})

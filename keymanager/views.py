"""OAuth2 endpoints: ``/oauth2/token`` (Authlib, with a limit on failed attempts),
``/oauth2/revoke`` (RFC 7009), ``/oauth2/introspect`` (RFC 7662) and ``/oauth2/jwks``.

The token endpoint counts two kinds of failure (portal/throttle.py, in the database): a
wrong password in the password grant, under the user's name, and a failed client
authentication or a bad refresh token, under the client id (revocation and introspection
count failed client authentications too). Each is limited per
(name, client address), so one noisy client or guessed user never locks out the others.
A request naming its client both in HTTP Basic and in the form (a secret, or another id) is
refused before any secret is checked and counted under every id it names (RFC 6749 2.3).
"""

import base64
import binascii
import json

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from keymanager import signing
from keymanager.server import server
from portal import throttle


def _named_clients(request) -> tuple[list[str], bool]:
    """The client ids the request names, from HTTP Basic and the form (RFC 6749 2.3.1), and
    whether it uses more than one way to authenticate (2.3: MUST NOT). Basic is read as
    Authlib reads it, so the id counted is the id Authlib checks."""
    basic = False
    named: list[str] = []
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if " " in header and header.split(None, 1)[0].lower() == "basic":
        basic = True
        basic_id, _ = extract_basic_authorization({"Authorization": header})
        if basic_id:
            named.append(basic_id)
    form_id = request.POST.get("client_id", "")
    if form_id and form_id not in named:
        named.append(form_id)
    # A form client_id equal to Basic's only repeats it; a form secret, or another id, is a
    # second method (Authlib would try it when Basic fails).
    conflict = basic and ("client_secret" in request.POST or (form_id and named[0] != form_id))
    return named or [""], bool(conflict)


def _two_methods():
    description = "The client authenticated in more than one way: use HTTP Basic or the form, not both"
    body = {"error": "invalid_request", "error_description": description}
    return JsonResponse(body, status=400, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _error(response) -> str | None:
    if response.status_code not in (400, 401):
        return None
    try:
        return json.loads(response.content).get("error")
    except ValueError:
        return None


def _malformed_basic(request) -> bool:
    """HTTP Basic credentials Authlib would fail on with an exception rather than an OAuth2
    error: nothing after the scheme, or not base64 of UTF-8 text. Decoded leniently, as
    Authlib decodes, so whatever passes here is read by Authlib and counted under its id."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    if not value.strip():
        return True
    try:
        base64.b64decode(value.strip()).decode()
    except (binascii.Error, ValueError):  # ValueError: not ASCII; UnicodeDecodeError is one
        return True
    return False


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
    client_ids, conflict = _named_clients(request)
    if any(throttle.name_unusable(name) for name in (*client_ids, request.POST.get("username", ""))):
        description = f"client_id and username hold no NUL and at most {throttle.MAX_NAME} characters"
        body = {"error": "invalid_request", "error_description": description}
        return JsonResponse(body, status=400, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
    for client_id in client_ids:
        if throttle.client_refused(request, client_id):
            return throttle.lockout_response(request)
    if conflict:
        # Refused before any secret is checked, and counted under every id it names: a
        # decoy Basic name must not carry the guesses of another client's secret.
        for client_id in client_ids:
            throttle.client_failed(request, client_id)
        response = _two_methods()
    else:
        response = respond(request)
    error = _error(response)
    if not conflict and (error == "invalid_client" or (bad_grant_counts and error == "invalid_grant")):
        throttle.client_failed(request, client_ids[0])
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

"""OAuth2 endpoints: ``/oauth2/token`` (Authlib) and ``/oauth2/jwks``."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from keymanager import signing
from keymanager.server import server


@csrf_exempt
@require_POST
def token_view(request):
    return server.create_token_response(request)


@csrf_exempt
@require_POST
def revoke_view(request):
    return server.create_endpoint_response("revocation", request)


@require_GET
def jwks_view(request):
    return JsonResponse(signing.jwks(), headers={"Cache-Control": "public, max-age=300"})

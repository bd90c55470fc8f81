"""Users over the Admin REST: ``POST /api/am/admin/v4/users/{username}/deactivate`` and
``.../activate`` (WSO2 manages users through SCIM and has no such resource; the names
follow Admin v4's action style, as ``/subscriptions/block-subscription`` does)."""

from django.contrib.auth import get_user_model
from rest_framework.response import Response

from keymanager.services import user_activate, user_deactivate
from portal.errors import NotFound
from portal.rest import ScopedAPIView, scopes
from portal.roles import IsAdmin


def _user_or_404(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"User {username!r} not found")
    return user


def user_dto(user, **extra) -> dict:
    return {"username": user.get_username(), "isActive": user.is_active, **extra}


class UserDeactivateApi(ScopedAPIView):
    required_scopes = scopes("apim:admin", POST="apim:admin")
    permission_classes = [IsAdmin]

    def post(self, request, username):
        user = _user_or_404(username)
        revoked = user_deactivate(user=user, acting_user=request.user)
        user.refresh_from_db(fields=["is_active"])
        return Response(user_dto(user, tokensRevoked=revoked))


class UserActivateApi(ScopedAPIView):
    required_scopes = scopes("apim:admin", POST="apim:admin")
    permission_classes = [IsAdmin]

    def post(self, request, username):
        user = _user_or_404(username)
        user_activate(user=user, acting_user=request.user)
        user.refresh_from_db(fields=["is_active"])
        return Response(user_dto(user))

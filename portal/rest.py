"""The base of every REST view under ``/api/am/``: each declares the ``apim:*`` scope each
method needs (``required_scopes``, built with :func:`scopes`), and :class:`RequiredScope`,
the first permission of every :class:`ScopedAPIView`, refuses a Key Manager bearer token
without it (403, "This call needs a token with the ... scope"). A method the view declares
nothing for is refused to everyone (fail closed). The view's own ``permission_classes`` (its
role checks) run after it, so a scope never grants more than the user's roles.

Which credentials carry scopes is the authenticator's to say (``carries_scopes = True``, the
Key Manager's bearer tokens in ``keymanager/authentication.py``): this module sits in the
bottom layer and imports no app above it.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.views import APIView


def scopes(read: str, **writes: str) -> dict[str, str]:
    """A view's ``required_scopes``: ``read`` for GET, HEAD and OPTIONS, and each method
    named in ``writes`` (``POST="apim:api_create"``) its own."""
    return {"GET": read, "HEAD": read, "OPTIONS": read, **writes}


class RequiredScope(BasePermission):
    """A bearer token must carry the scope the view declares for the method; sessions and
    HTTP Basic are judged by the roles alone. No declaration for the method: refused."""

    def has_permission(self, request, view) -> bool:
        needed = (getattr(view, "required_scopes", None) or {}).get(request.method)
        if not needed:
            self.message = f"{request.method} here declares no required scope, so it is refused"
            return False
        if not getattr(request.successful_authenticator, "carries_scopes", False):
            return True
        if needed not in (request.auth.get("scope") or "").split():
            self.message = f"This call needs a token with the {needed} scope"
            return False
        return True


# The base of every REST view under /api/am/: RequiredScope runs before the view's own
# permission_classes (its role checks). No docstring: the OpenAPI document would show it as
# the description of every operation whose view has none of its own.
class ScopedAPIView(APIView):
    required_scopes: dict[str, str] = {}

    def get_permissions(self):
        return [RequiredScope(), *super().get_permissions()]

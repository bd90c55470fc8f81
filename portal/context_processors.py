from django.conf import settings

from portal.roles import roles_of


def roles(request):
    return {
        "roles": roles_of(getattr(request, "user", None)),
        "signup_enabled": settings.TIDEGATE["SIGNUP_ENABLED"],
    }

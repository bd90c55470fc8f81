from django.utils.functional import SimpleLazyObject

from portal.roles import roles_of
from portal.site_settings import signup_open


def roles(request):
    return {
        "roles": roles_of(getattr(request, "user", None)),
        # Read when a page shows it (the sign-in page), not on every page.
        "signup_enabled": SimpleLazyObject(signup_open),
    }

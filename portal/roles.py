"""Roles, as WSO2 names them: creators design APIs, publishers deploy and run their
lifecycle, admins manage policies and environments. Superusers hold every role.
Anyone signed in is a subscriber (Dev Portal)."""

from rest_framework.permissions import BasePermission

CREATOR = "creator"
PUBLISHER = "publisher"
ADMIN = "admin"


def has_role(user, *roles: str) -> bool:
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=roles).exists()


def roles_of(user) -> set[str]:
    if not user or not user.is_authenticated:
        return set()
    if user.is_superuser:
        return {CREATOR, PUBLISHER, ADMIN}
    return set(user.groups.values_list("name", flat=True))


class _RolePermission(BasePermission):
    roles: tuple[str, ...] = ()
    message = "You do not have a role that allows this action"

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, *self.roles)


class IsCreatorOrPublisher(_RolePermission):
    roles = (CREATOR, PUBLISHER)


class IsPublisher(_RolePermission):
    roles = (PUBLISHER,)


class IsAdmin(_RolePermission):
    roles = (ADMIN,)

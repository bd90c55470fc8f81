"""Users and their roles, for the Admin Portal's Users page and ``manage.py grant_role``:
the searchable list (``user_search``), granting and taking back a role
(``user_role_grant``, ``user_role_revoke``) and the rule every way of removing an admin
obeys: the last active admin stays (``admin_removal_check``, also called by
``keymanager.services.user_deactivate``).

Superusers hold every role (``portal.roles``): taking the admin group from one changes
nothing, so only ``is_active`` can remove a superuser from the admins.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q, QuerySet

from portal.audit import audit_record
from portal.errors import Conflict, ValidationFailed
from portal.roles import ADMIN, CREATOR, PUBLISHER

ROLES = (CREATOR, PUBLISHER, ADMIN)


def user_search(*, query: str = "", role: str = "", active: bool | None = None) -> QuerySet:
    """Users by name (part of the user name, first or last name, or e-mail), role and
    whether they are active, sorted by user name, with their groups."""
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    for word in query.split():
        users = users.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
    if role:
        users = users.filter(Q(groups__name=role) | Q(is_superuser=True)).distinct()
    if active is not None:
        users = users.filter(is_active=active)
    return users


def _active_admins() -> QuerySet:
    return get_user_model().objects.filter(Q(is_superuser=True) | Q(groups__name=ADMIN), is_active=True).distinct()


def admin_removal_check(*, user, what: str) -> None:
    """Refuse (Conflict) when ``user`` is the last active admin: ``what`` (the action, in
    words) would leave nobody to administer Tidegate. Call inside the transaction that
    removes them, after ``admins_lock()``."""
    admins = _active_admins()
    if admins.filter(pk=user.pk).exists() and not admins.exclude(pk=user.pk).exists():
        raise Conflict(
            f"{user.get_username()} is the last active admin: {what} would leave nobody to administer "
            "Tidegate. Make another user an admin first."
        )


def admins_lock() -> None:
    """Serialise the changes that can remove an admin (two admins taking the role from each
    other at once must not both succeed): a row lock on the admin group."""
    Group.objects.select_for_update().get_or_create(name=ADMIN)


def _role_group(role: str) -> Group:
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}; roles are {', '.join(ROLES)}")
    group, _ = Group.objects.get_or_create(name=role)
    return group


@transaction.atomic
def user_role_grant(*, user, role: str, acting_user) -> bool:
    """Give ``user`` the role; True if they did not hold it (a no-op otherwise, not audited).
    ``acting_user`` is None for an operator at the command line."""
    group = _role_group(role)
    if user.groups.filter(pk=group.pk).exists():
        return False
    user.groups.add(group)
    audit_record(
        actor=acting_user, action="user.role.grant", target=user, detail={"username": user.get_username(), "role": role}
    )
    return True


@transaction.atomic
def user_role_revoke(*, user, role: str, acting_user) -> bool:
    """Take the role back; True if they held it. Taking admin from the last active admin is
    refused (Conflict)."""
    group = _role_group(role)
    if role == ADMIN:
        admins_lock()
    if not user.groups.filter(pk=group.pk).exists():
        return False
    if role == ADMIN and not user.is_superuser:
        admin_removal_check(user=user, what="taking the admin role from them")
    user.groups.remove(group)
    audit_record(
        actor=acting_user,
        action="user.role.revoke",
        target=user,
        detail={"username": user.get_username(), "role": role},
    )
    return True

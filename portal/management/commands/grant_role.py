"""``manage.py grant_role USER ROLE [ROLE ...]`` (``--revoke`` to take them away), through
the same services as the Admin Portal's Users page (audited; the last admin stays)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal.errors import ApplicationError
from portal.users import ROLES, user_role_grant, user_role_revoke


class Command(BaseCommand):
    help = f"Give a user roles ({', '.join(ROLES)}), or take them away with --revoke."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("roles", nargs="+", choices=ROLES)
        parser.add_argument("--revoke", action="store_true")

    def handle(self, username, roles, revoke, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        for role in roles:
            try:
                (user_role_revoke if revoke else user_role_grant)(user=user, role=role, acting_user=None)
            except ApplicationError as exc:
                raise CommandError(exc.description) from None
        held = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        self.stdout.write(f"{username}: {', '.join(held) or 'no role'}")

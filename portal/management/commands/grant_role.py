"""``manage.py grant_role USER ROLE [ROLE ...]`` (``--revoke`` to take them away)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from portal.roles import ADMIN, CREATOR, PUBLISHER

ROLES = (CREATOR, PUBLISHER, ADMIN)


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
            group, _ = Group.objects.get_or_create(name=role)
            (user.groups.remove if revoke else user.groups.add)(group)
        held = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        self.stdout.write(f"{username}: {', '.join(held) or 'no role'}")

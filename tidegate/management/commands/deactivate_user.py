"""``manage.py deactivate_user USERNAME`` (``--activate`` to let them back in)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from keymanager.services import user_activate, user_deactivate
from portal.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Deactivate a user: they can no longer sign in, their tokens are revoked and gateways "
        "close their connections. --activate lets them sign in again (with new tokens)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--activate", action="store_true", help="reactivate the user instead")

    def handle(self, username, activate, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        if activate:
            user_activate(user=user, acting_user=None)
            self.stdout.write(f"{username}: active")
            return
        try:
            revoked = user_deactivate(user=user, acting_user=None)
        except ApplicationError as exc:  # the last admin stays
            raise CommandError(exc.description) from None
        self.stdout.write(f"{username}: deactivated, {revoked} token(s) revoked")

"""``manage.py rotate_signing_key``: sign new tokens with a new key; earlier tokens keep
verifying because the old keys stay in /oauth2/jwks until those tokens expire."""

from django.core.management.base import BaseCommand

from keymanager.signing import signing_key_rotate


class Command(BaseCommand):
    help = "Start signing tokens with a new RSA key; old keys stay published until their tokens expire."

    def handle(self, **options):
        key, retired = signing_key_rotate()
        self.stdout.write(f"New signing key {key.kid}.")
        for old in retired:
            self.stdout.write(f"Retired {old.kid}: published until its tokens have expired.")

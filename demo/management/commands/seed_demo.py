"""Seed the demo: user admin/admin (development only), the Notifications API imported from
the bundled AsyncAPI file, a revision deployed to Default, published. Safe to run again."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from devportal.models import Subscription
from devportal.services import application_ensure_default, subscription_create
from keymanager.models import KeyType
from keymanager.services import keys_generate
from publisher import services
from publisher.models import Api, Environment, LifecycleStatus

DEMO_FILE = Path(__file__).resolve().parents[2] / "notifications.asyncapi.yaml"


class Command(BaseCommand):
    help = "Create the demo user and the demo API (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--backend", default="ws://127.0.0.1:8080", help="echo backend URL")

    def handle(self, *args, backend, **options):
        if not settings.DEBUG:
            raise CommandError("The demo user admin/admin is refused when TIDEGATE_DEBUG is off.")
        User = get_user_model()
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_superuser": True, "is_staff": True})
        if created:
            admin.set_password("admin")
            admin.save()
        app = application_ensure_default(user=admin)
        conf = settings.TIDEGATE
        Environment.objects.filter(name="Default").update(
            vhost=conf["GATEWAY_VHOST"], ws_port=conf["GATEWAY_WS_PORT"], wss_port=conf["GATEWAY_WSS_PORT"]
        )
        api = Api.objects.filter(context="/notifications", version="1.0.0").first()
        if api is None:
            api = services.api_import_asyncapi(
                provider=admin,
                document=DEMO_FILE.read_bytes(),
                properties={
                    "context": "/notifications",
                    "policies": ["AsyncUnlimited", "AsyncGold", "AsyncBronze"],
                    "endpointConfig": {"production_endpoints": {"url": backend}},
                },
            )
            revision = services.api_revision_create(api=api, created_by=admin, description="Demo")
            services.api_revision_deploy(
                api=api, revision=revision, environments=[{"name": "Default"}], deployed_by=admin
            )
            services.api_change_lifecycle(api=api, action="Publish", user=admin)
            api.refresh_from_db()
            self.stdout.write(f"Demo API {api.name} {api.version} published and deployed to Default.")
        elif api.lifecycle_status != LifecycleStatus.PUBLISHED:
            self.stdout.write(f"Demo API exists in state {api.lifecycle_status}; left as it is.")
            return
        if not Subscription.objects.filter(application=app, api=api).exists():
            subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=admin)
        if not app.oauth_clients.filter(key_type=KeyType.PRODUCTION).exists():
            keys_generate(application=app, key_type=KeyType.PRODUCTION, grant_types=None, user=admin)

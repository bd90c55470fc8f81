from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Before anything connects to the database: the data directory and the secrets in it
        # are private to this account (portal/filemodes.py).
        from django.conf import settings

        from portal.filemodes import secure_data_dir

        secure_data_dir(settings.DATA_DIR, settings.DATABASES)

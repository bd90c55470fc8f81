"""``manage.py purge_expired``: housekeeping to run daily (cron or a systemd timer):
traffic rows past their retention, and token records long expired."""

from django.core.management.base import BaseCommand

from analytics.services import analytics_purge
from keymanager.services import tokens_purge


class Command(BaseCommand):
    help = "Delete analytics rows past TIDEGATE_ANALYTICS_RETENTION_DAYS and token records expired over a day ago."

    def handle(self, **options):
        rows = analytics_purge()
        tokens = tokens_purge()
        self.stdout.write(f"Deleted {rows} traffic rows and {tokens} expired token records.")

from django.apps import AppConfig


class AdminPortalConfig(AppConfig):
    name = "adminportal"
    verbose_name = "Admin Portal"

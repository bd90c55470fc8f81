from django.apps import AppConfig


class PublisherConfig(AppConfig):
    name = "publisher"

    def ready(self):
        # The Key Manager (below) narrows tokens to the scopes deployed API definitions allow.
        from keymanager.scopes import api_scope_source_register
        from publisher.scopes import api_scope_roles

        api_scope_source_register(api_scope_roles)

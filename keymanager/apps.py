from django.apps import AppConfig


class KeymanagerConfig(AppConfig):
    name = "keymanager"

    def ready(self):
        # The portal's lockouts name a client by its id; the audit record targets the client.
        from keymanager.models import OAuthClient
        from portal import throttle

        throttle.client_lookup_register(lambda client_id: OAuthClient.objects.filter(client_id=client_id).first())

from django.apps import AppConfig


class KeymanagerConfig(AppConfig):
    name = "keymanager"

    def ready(self):
        # The portal's lockouts name a client by its id; the audit record targets the client.
        from keymanager.models import OAuthClient
        from portal import throttle

        throttle.client_lookup_register(lambda client_id: OAuthClient.objects.filter(client_id=client_id).first())

        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete

        from keymanager.services import user_deleted

        post_delete.connect(user_deleted, sender=get_user_model(), dispatch_uid="keymanager.user_deleted")

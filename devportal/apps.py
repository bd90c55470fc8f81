from django.apps import AppConfig


class DevportalConfig(AppConfig):
    name = "devportal"

    def ready(self):
        from devportal.receivers import on_api_published
        from publisher.signals import api_published

        api_published.connect(on_api_published, dispatch_uid="devportal.subscriptions_copy")

        # The Publisher's deny policies (below) name applications as owner:name.
        from devportal.selectors import application_exists
        from publisher.deny_policies import application_lookup_register

        application_lookup_register(application_exists)

        # A rate-limit policy its subscriptions or applications use cannot be deleted.
        from devportal.selectors import policy_uses
        from publisher.policies import policy_use_source_register

        policy_use_source_register(policy_uses)

        # An account whose sign-up waits for approval is let in by approving it, not by
        # activating it from the Users page or Admin REST.
        from devportal.selectors import signup_hold
        from keymanager.services import user_activation_hold_register

        user_activation_hold_register(signup_hold)

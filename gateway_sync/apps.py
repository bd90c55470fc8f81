from django.apps import AppConfig


class GatewaySyncConfig(AppConfig):
    """The control plane's record of what gateways must catch up with: configuration
    versions and their deltas, what gateways report, the gateway token on their requests.
    A low layer (portal and the gateway contract only); the snapshot built from every app
    and its endpoint are the site's (tidegate/snapshot/)."""

    name = "gateway_sync"

    def ready(self) -> None:
        from gateway_sync.services import config_change_record
        from portal.config_events import config_change

        # Every committed change a gateway must see becomes a new configuration version.
        config_change.connect(config_change_record, dispatch_uid="gateway_sync.config_change_record")

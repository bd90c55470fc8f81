from django.apps import AppConfig


class GatewaySyncConfig(AppConfig):
    """The control plane's side of gateway sync: configuration versions and their deltas,
    the snapshot built from the database and served to gateways, what gateways report."""

    name = "gateway_sync"

    def ready(self) -> None:
        from gateway_sync.services import config_change_record
        from portal.config_events import config_change

        # Every committed change a gateway must see becomes a new configuration version.
        config_change.connect(config_change_record, dispatch_uid="gateway_sync.config_change_record")

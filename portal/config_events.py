"""The change notification: a service whose write a gateway must see says so here, and the
gateways hear of it once the transaction commits.

It sits at the bottom so every domain app imports it downward. What a change does next
(count a new configuration version, keep the delta, push to gateways) is the business of
``gateway_sync``, which listens to ``config_change`` (connected in its ``AppConfig.ready``).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from gateway_contract.deltas import Delta

# Sent after the commit of a change gateways must see, with ``delta``: a ``Delta`` gateways
# can apply to what they hold, or None for "fetch the whole snapshot".
config_change = Signal()


def config_changed(delta: Delta | None = None) -> None:
    """Tell gateways that what they enforce changed, once the current transaction commits.

    Called by every service whose write a gateway must see. ``delta`` describes a small
    change (``TokensRevoked``, ``SubscriptionChanged``, ``SubscriptionRemoved``) gateways
    can apply without fetching the whole snapshot; without one they fetch it all.
    """
    transaction.on_commit(lambda: config_change.send(sender=None, delta=delta))

"""What the Dev Portal does when the Publisher, below it, announces an event
(publisher/signals.py; connected in devportal/apps.py)."""

from devportal import services
from publisher import lifecycle


def on_api_published(sender, *, api, user, other_versions, checklist, **kwargs) -> None:
    """Subscribers of the other versions are subscribed to the new one, unless the publisher
    ticked "Requires re-subscription"."""
    if not checklist.get(lifecycle.REQUIRES_RESUBSCRIPTION):
        services.subscriptions_copy_to_version(api=api, other_versions=other_versions, user=user)

"""The Publisher's events that apps above it act on. Sent from services, inside the
service's transaction, so what a receiver writes commits or rolls back with the change."""

from django.dispatch import Signal

# An API moved to PUBLISHED (``services.api_change_lifecycle``), with ``api``, ``user``,
# ``other_versions`` (the provider's other versions of the API: same name) and ``checklist``
# (the lifecycle checklist items ticked). The Dev Portal copies subscriptions
# (devportal/apps.py).
api_published = Signal()

from django.db import models


class ConfigVersion(models.Model):
    """A single row counting changes to anything a gateway enforces.

    Services bump it after their transaction commits; gateways compare it with the version
    of the snapshot they hold and fetch a new one when it moved.
    """

    version = models.PositiveBigIntegerField(default=1)
    updated_time = models.DateTimeField(auto_now=True)

import uuid

from django.conf import settings
from django.db import models

from publisher.models import Api


class Application(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=70)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="applications")
    throttling_policy = models.CharField(max_length=60, default="Unlimited")
    description = models.CharField(max_length=512, blank=True)
    token_type = models.CharField(max_length=10, default="JWT")
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="application_name_per_owner")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    UNBLOCKED = "UNBLOCKED"
    BLOCKED = "BLOCKED"
    PROD_ONLY_BLOCKED = "PROD_ONLY_BLOCKED"


class Subscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="subscriptions")
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="subscriptions")
    throttling_policy = models.CharField(max_length=60)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.UNBLOCKED)
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "api"], name="one_subscription_per_api")]
        ordering = ["created_time"]

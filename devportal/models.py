import uuid

from django.conf import settings
from django.db import models

from publisher.models import Api


class ApplicationStatus(models.TextChoices):
    """WSO2's application states: CREATED waits for an administrator (application approval)."""

    CREATED = "CREATED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Application(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=70)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="applications")
    throttling_policy = models.CharField(max_length=60, default="Unlimited")
    description = models.CharField(max_length=512, blank=True)
    token_type = models.CharField(max_length=10, default="JWT")
    status = models.CharField(max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.APPROVED)
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
    # Subscription approval: waiting for an administrator, and refused by one (final).
    ON_HOLD = "ON_HOLD"
    REJECTED = "REJECTED"


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


class WorkflowType(models.TextChoices):
    """WSO2's workflow types, by the names Admin v4's ``workflowType`` query takes."""

    SUBSCRIPTION_CREATION = "AM_SUBSCRIPTION_CREATION"
    APPLICATION_CREATION = "AM_APPLICATION_CREATION"
    USER_SIGNUP = "AM_USER_SIGNUP"


class WorkflowStatus(models.TextChoices):
    CREATED = "CREATED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Workflow(models.Model):
    """One request waiting for, or decided by, an administrator: a subscription (its
    ``subject_id`` the subscription's id), an application (the application's id) or a
    sign-up (the user's id). ``subject`` describes it in words, kept when the subject goes."""

    id = models.BigAutoField(primary_key=True)
    reference_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workflow_type = models.CharField(max_length=30, choices=WorkflowType.choices)
    status = models.CharField(max_length=10, choices=WorkflowStatus.choices, default=WorkflowStatus.CREATED)
    subject_id = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    properties = models.JSONField(default=dict)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    comment = models.CharField(max_length=1000, blank=True)
    created_time = models.DateTimeField(auto_now_add=True)
    decided_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_time", "-id"]
        indexes = [models.Index(fields=["workflow_type", "status"]), models.Index(fields=["subject_id"])]


class ApiRating(models.Model):
    """One user's stars for an API (1 to 5): one per user and API, changed in place."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.PositiveSmallIntegerField()
    updated_time = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api", "user"], name="one_rating_per_user_and_api"),
            models.CheckConstraint(condition=models.Q(rating__gte=1, rating__lte=5), name="rating_one_to_five"),
        ]
        ordering = ["updated_time", "id"]


class ApiComment(models.Model):
    """A comment on an API, as text (pages escape it; no HTML or Markdown). A reply names
    its ``parent``, a comment at the top of a thread: threads are one level deep."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content = models.TextField()
    category = models.CharField(max_length=20, default="general")
    created_time = models.DateTimeField(auto_now_add=True)
    updated_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_time", "id"]
        indexes = [models.Index(fields=["api", "parent", "created_time"])]

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class LifecycleStatus(models.TextChoices):
    CREATED = "CREATED"
    PROTOTYPED = "PROTOTYPED"
    PUBLISHED = "PUBLISHED"
    BLOCKED = "BLOCKED"
    DEPRECATED = "DEPRECATED"
    RETIRED = "RETIRED"


class ApiCategory(models.Model):
    """A category administrators define (Admin v4 ``/api-categories``); creators put their
    APIs in some (``categories`` on the API, by name) and the Dev Portal's catalog filters by it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=1000, blank=True)
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), name="api_category_name_unique_ci")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PayloadValidation(models.TextChoices):
    """Which messages the gateway checks against the definition's payload schemas."""

    OFF = "off"
    CLIENT = "client"  # messages clients send (PUBLISH)
    BOTH = "both"  # and messages the backend sends (SUBSCRIBE)


class Visibility(models.TextChoices):
    """Who sees an API in the Dev Portal (WSO2's ``visibility``): everyone, anonymous visitors
    included, or only users holding one of its ``visible_roles``."""

    PUBLIC = "PUBLIC"
    RESTRICTED = "RESTRICTED"


class Api(models.Model):
    """The working copy of a WebSocket API.

    The AsyncAPI document is the source of truth for topics: operations, scopes and URL
    mappings are read from it (``publisher.asyncapi``), never stored twice.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=60)
    context = models.CharField(max_length=200)
    version = models.CharField(max_length=30)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="Lower-case words developers search by")
    categories = models.ManyToManyField(ApiCategory, blank=True, related_name="apis")
    provider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="apis")
    lifecycle_status = models.CharField(
        max_length=16, choices=LifecycleStatus.choices, default=LifecycleStatus.CREATED.value
    )
    production_endpoint = models.CharField(max_length=2000)
    sandbox_endpoint = models.CharField(max_length=2000, blank=True)
    policies = models.JSONField(default=list, help_text="Business plans (subscription policies) offered")
    api_throttling_policy = models.CharField(max_length=60, blank=True)
    authorization_header = models.CharField(max_length=60, default="Authorization")
    # The credential kinds a secured API accepts (WSO2's securityScheme): "oauth2", "api_key".
    security_schemes = models.JSONField(default=list, blank=True, help_text='"oauth2" and/or "api_key"')
    # Gateway policies read live from this row, not from the deployed revision: a change
    # reaches gateways within a second, without a new revision (docs/gateway.md).
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Origins a handshake's Origin must be one of (empty: any)"
    )
    origin_required = models.BooleanField(
        default=False, help_text="Browsers only: refuse handshakes without an Origin header"
    )
    backend_jwt_enabled = models.BooleanField(default=False, help_text="Send the backend a signed JWT")
    backend_jwt_header = models.CharField(max_length=60, default="X-JWT-Assertion")
    # Payload validation at the gateway (docs/gateway.md), frozen into each revision.
    payload_validation = models.CharField(max_length=8, choices=PayloadValidation.choices, default="off")
    payload_client_failure = models.CharField(
        max_length=8, choices=[("error", "error frame"), ("close", "close 1007")], default="error"
    )
    payload_backend_failure = models.CharField(
        max_length=8, choices=[("drop", "drop"), ("close", "close 1011")], default="drop"
    )
    # Read live by the Dev Portal (devportal.selectors.api_visible_to), not frozen in revisions.
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC.value)
    visible_roles = models.JSONField(
        default=list, blank=True, help_text="RESTRICTED: roles (group names) whose holders see the API"
    )
    definition = models.JSONField(help_text="AsyncAPI 2.x or 3.0 document, kept in its own version")
    created_time = models.DateTimeField(auto_now_add=True)
    last_updated_time = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["context", "version"], name="api_context_version_unique")]
        ordering = ["name", "version"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class ApiRevision(models.Model):
    """An API's working copy frozen as it was (``frozen``: its WSO2 JSON and definition); what gateways actually serve."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    description = models.CharField(max_length=255, blank=True)
    frozen = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api", "number"], name="revision_number_unique")]
        ordering = ["number"]

    @property
    def display_name(self) -> str:
        return f"REVISION {self.number}"


class Environment(models.Model):
    """A gateway environment (WSO2: a gateway label). Gateways serve the environments they are given."""

    name = models.CharField(max_length=60, unique=True)
    display_name = models.CharField(max_length=100)
    vhost = models.CharField(max_length=255, default="localhost")
    ws_port = models.PositiveIntegerField(default=9090)
    wss_port = models.PositiveIntegerField(default=9095)

    def __str__(self) -> str:
        return self.name


class Deployment(models.Model):
    """Which revision of an API runs in which environment. One revision per API per environment."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="deployments")
    revision = models.ForeignKey(ApiRevision, on_delete=models.PROTECT, related_name="deployments")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="deployments")
    vhost = models.CharField(max_length=255)
    display_on_devportal = models.BooleanField(default=True)
    deployed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    deployed_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api", "environment"], name="one_revision_per_environment")]


class LifecycleEvent(models.Model):
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="lifecycle_events")
    previous_state = models.CharField(max_length=16, blank=True)
    post_state = models.CharField(max_length=16)
    action = models.CharField(max_length=40)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["updated_time", "id"]


class PolicyLevel(models.TextChoices):
    SUBSCRIPTION = "subscription"
    APPLICATION = "application"
    ADVANCED = "advanced"


class LimitType(models.TextChoices):
    EVENTCOUNT = "EVENTCOUNTLIMIT"
    REQUESTCOUNT = "REQUESTCOUNTLIMIT"
    BANDWIDTH = "BANDWIDTHLIMIT"


class ThrottlingPolicy(models.Model):
    """A rate-limit plan as data: ``limit`` events (or bytes) per ``unit_time`` ``time_unit``.

    ``limit`` of 0 means unlimited.
    """

    level = models.CharField(max_length=16, choices=PolicyLevel.choices)
    name = models.CharField(max_length=60)
    display_name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    limit_type = models.CharField(max_length=20, choices=LimitType.choices, default=LimitType.EVENTCOUNT)
    limit = models.PositiveBigIntegerField(default=0)
    time_unit = models.CharField(max_length=8, default="min")
    unit_time = models.PositiveIntegerField(default=1)
    stop_on_quota_reach = models.BooleanField(default=True)
    is_streaming = models.BooleanField(default=False)
    throttle_action = models.CharField(
        max_length=8,
        choices=[("notify", "notify"), ("drop", "drop"), ("close", "close")],
        default="notify",
        help_text="Over the limit: notify (drop and tell the client once per window), drop silently, or close (4003)",
    )
    max_connections = models.PositiveIntegerField(
        default=0, help_text="Application policies: concurrent connections per application (0: no limit)"
    )
    requires_approval = models.BooleanField(
        default=False,
        help_text="Subscription policies: a new subscription on this plan waits (ON_HOLD) for an administrator",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "name"], name="policy_level_name_unique")]
        ordering = ["level", "id"]

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    UNIT_SECONDS = {"sec": 1, "min": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}

    @property
    def window_seconds(self) -> int:
        return self.UNIT_SECONDS[self.time_unit] * self.unit_time


class DenyConditionType(models.TextChoices):
    """WSO2's blocking condition types (Admin v4 ``conditionType``)."""

    API = "API", "API context"
    APPLICATION = "APPLICATION", "Application"
    IP = "IP", "IP address"
    IP_RANGE = "IP_RANGE", "IP range"
    USER = "USER", "User"


class DenyPolicy(models.Model):
    """A deny policy (WSO2: a blocking condition): gateways refuse handshakes that match it
    (403, 900805) and close matching open connections, while it is enabled.

    ``value`` holds what the condition names: an API's ``/<context>/<version>``, an
    application's ``owner:name``, a username. IP conditions keep their addresses in
    ``start_ip`` (and ``end_ip`` for a range), written the way ``ipaddress`` writes them, so
    one address is one row however it was typed; ``invert`` turns an IP condition into
    "everyone except".
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    condition_type = models.CharField(max_length=16, choices=DenyConditionType.choices)
    value = models.CharField(max_length=300, blank=True)
    start_ip = models.CharField(max_length=45, blank=True)
    end_ip = models.CharField(max_length=45, blank=True)
    invert = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["condition_type", "value", "start_ip", "end_ip", "invert"], name="deny_policy_unique"
            )
        ]
        ordering = ["created_time", "id"]

    def __str__(self) -> str:
        return f"{self.condition_type} {self.describe()}"

    def describe(self) -> str:
        """The condition in words, for pages and the audit log."""
        if self.condition_type == DenyConditionType.IP:
            return f"every address except {self.start_ip}" if self.invert else self.start_ip
        if self.condition_type == DenyConditionType.IP_RANGE:
            span = f"{self.start_ip} to {self.end_ip}"
            return f"every address outside {span}" if self.invert else span
        return self.value


class DocumentType(models.TextChoices):
    """WSO2's document types (Publisher v4 ``Document.type``)."""

    HOWTO = "HOWTO"
    SAMPLES = "SAMPLES"
    PUBLIC_FORUM = "PUBLIC_FORUM"
    SUPPORT_FORUM = "SUPPORT_FORUM"
    OTHER = "OTHER"


class DocumentSourceType(models.TextChoices):
    INLINE = "INLINE"
    MARKDOWN = "MARKDOWN"
    URL = "URL"
    FILE = "FILE"


class DocumentVisibility(models.TextChoices):
    """API_LEVEL: whoever sees the API (the Dev Portal too); PRIVATE: Publisher users only;
    OWNER_ONLY: the API's provider (and admins) only."""

    API_LEVEL = "API_LEVEL"
    PRIVATE = "PRIVATE"
    OWNER_ONLY = "OWNER_ONLY"


class ApiDocument(models.Model):
    """A document of an API (WSO2's Document): inline text or markdown, a link, or a file.

    Inline content is stored as written and rendered (markdown, sanitised) when shown; a
    file is kept in the row, bounded in size (``publisher.documents``), so every portal
    process and an exported archive see the same bytes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=60)
    type = models.CharField(max_length=16, choices=DocumentType.choices, default=DocumentType.HOWTO)
    other_type_name = models.CharField(max_length=60, blank=True)
    summary = models.CharField(max_length=1000, blank=True)
    source_type = models.CharField(max_length=10, choices=DocumentSourceType.choices, default=DocumentSourceType.INLINE)
    source_url = models.CharField(max_length=2000, blank=True)
    visibility = models.CharField(
        max_length=12, choices=DocumentVisibility.choices, default=DocumentVisibility.API_LEVEL
    )
    inline_content = models.TextField(blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    file_content = models.BinaryField(blank=True, default=b"")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_time = models.DateTimeField(auto_now_add=True)
    last_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_updated_time = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api", "name"], name="api_document_name_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiThumbnail(models.Model):
    """An API's thumbnail: a PNG or JPEG, re-encoded on upload (``publisher.documents``), in
    a row of its own so that reading an API never loads the image."""

    api = models.OneToOneField(Api, on_delete=models.CASCADE, primary_key=True, related_name="thumbnail")
    content_type = models.CharField(max_length=20)
    content = models.BinaryField()
    updated_time = models.DateTimeField(auto_now=True)

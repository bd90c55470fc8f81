import hashlib
import hmac
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class KeyType(models.TextChoices):
    PRODUCTION = "PRODUCTION"
    SANDBOX = "SANDBOX"


class OAuthClient(models.Model):
    """An application's consumer key and secret for one key type (WSO2: a key mapping).

    Only a SHA-256 digest of the secret is stored; the secret itself is shown once.
    Implements what Authlib's authorization server asks of a client.
    """

    key_mapping_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.ForeignKey("devportal.Application", on_delete=models.CASCADE, related_name="oauth_clients")
    key_type = models.CharField(max_length=10, choices=KeyType.choices)
    client_id = models.CharField(max_length=64, unique=True)
    client_secret_digest = models.CharField(max_length=64)
    grant_types = models.JSONField(default=list)
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "key_type"], name="one_key_per_type")]

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    # Authlib ClientMixin
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope: str) -> str:
        # Authlib asks this only in the authorization-code and implicit grants, which this
        # server does not offer. The grants it offers narrow the requested scopes to what the
        # subject may hold in TidegateAuthorizationServer.generate_token (keymanager.scopes).
        return scope or ""

    def check_redirect_uri(self, redirect_uri) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.client_secret_digest, self.digest(client_secret or ""))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class SigningKey(models.Model):
    """An RSA key the Key Manager signs tokens with. One key is active and signs; rotating
    retires it (``active`` off, ``retired_time`` set) and makes a new one. A retired key stays
    in the JWKS until every token it signed has expired, so tokens in flight keep verifying
    (keymanager/signing.py)."""

    kid = models.CharField(max_length=64, unique=True)
    private_jwk = models.JSONField()
    public_jwk = models.JSONField()
    active = models.BooleanField(default=True)
    created_time = models.DateTimeField(auto_now_add=True)
    # When it stopped signing; it stays published until every token it signed has expired.
    retired_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_time", "-id"]


class IssuedToken(models.Model):
    """A record of each access token issued (by jti, never the token itself), with the digest
    of the refresh token issued beside it: for listing, revocation (RFC 7009), introspection
    (RFC 7662) and the refresh grant."""

    jti = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(OAuthClient, on_delete=models.CASCADE, related_name="tokens")
    # The resource owner of a password-grant token (else the application's owner is the subject).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    grant_type = models.CharField(max_length=40, default="client_credentials")
    # SHA-256 of the refresh token issued with this access token, emptied once it is used.
    refresh_digest = models.CharField(max_length=64, blank=True, db_index=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.TextField(blank=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)

    # Authlib's TokenMixin: the refresh grant calls check_client and get_scope, revocation
    # check_client, introspection is_expired and is_revoked.
    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_revoked(self) -> bool:
        return self.revoked

    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def check_client(self, client) -> bool:
        return self.client_id == client.pk


class ExternalIssuer(models.Model):
    """A trusted external token issuer (WSO2: a third-party key manager), with its keys at a
    JWKS URL. Its tokens are checked like the built-in Key Manager's: the consumer key claim
    names the application, unless subscriptions are not validated for it."""

    name = models.CharField(max_length=100, unique=True)
    issuer = models.CharField(max_length=500, unique=True)
    jwks_url = models.URLField(max_length=1000)
    consumer_key_claim = models.CharField(max_length=60, default="azp")
    validate_subscription = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    created_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]


class ApiKey(models.Model):
    """A record of each API key issued (WSO2's self-contained API key JWT), by ``jti``, never
    the key itself: the key is shown once. Revocation marks it and gateways refuse it (and
    close its connections, 4001) from the snapshot's ``revoked``."""

    jti = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey("devportal.Application", on_delete=models.CASCADE, related_name="api_keys")
    key_type = models.CharField(max_length=10, choices=KeyType.choices)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)  # null: no expiry (validityPeriod -1)
    permitted_ip = models.TextField(blank=True)
    permitted_referer = models.TextField(blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-issued_at", "-id"]


class InternalKey(models.Model):
    """A record of each Publisher try-out key (WSO2's Internal-Key, a self-contained JWT
    naming one API) by ``jti``, never the key itself. Revoked when its user is deactivated;
    gateways refuse a revoked key, or one whose user was deleted, and close its connections
    (4001) from the snapshot's ``revoked``."""

    jti = models.CharField(max_length=64, unique=True)
    # Null once the user is deleted: the key is then refused like a revoked one.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked = models.BooleanField(default=False)

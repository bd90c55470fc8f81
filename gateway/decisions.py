"""The handshake decision: may this request open a connection, and to where?

A plain function over the gateway's current ``State`` (snapshot, routes, token verifier);
the ASGI handler only carries out what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from gateway.backend import backend_url
from gateway.routing import Match, RouteTable
from gateway.tokens import TokenRejected, TokenVerifier, VerifiedToken
from gateway_sync.snapshot import ApplicationConfig, Snapshot

INTERNAL_KEY_HEADER = "internal-key"


@dataclass(frozen=True)
class State:
    """What one gateway process enforces right now; replaced whole when a snapshot arrives."""

    snapshot: Snapshot
    routes: RouteTable
    verifier: TokenVerifier

    @classmethod
    def build(cls, snapshot: Snapshot, extra_issuers=()) -> State:
        return cls(snapshot, RouteTable(snapshot), TokenVerifier([*snapshot.issuers, *extra_issuers]))


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    description: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, str]:
        return {"code": self.code, "error_message": self.message, "error_description": self.description}


@dataclass(frozen=True)
class Admission:
    match: Match
    upstream_url: str
    key_type: str
    token: VerifiedToken | None = None
    application: ApplicationConfig | None = None
    # Header names (lower-case) never sent upstream.
    strip_headers: frozenset[str] = field(default_factory=frozenset)


def _unauthorized(code: str, description: str, message: str = "Invalid Credentials") -> Refusal:
    challenge = 'Bearer realm="tidegate", error="invalid_token", error_description="The provided token is invalid"'
    return Refusal(401, code, message, description, (("www-authenticate", challenge),))


def _credential(headers: dict[str, str], query: str, auth_header: str) -> str | None:
    value = headers.get(auth_header)
    if value:
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    if headers.get(INTERNAL_KEY_HEADER):
        return headers[INTERNAL_KEY_HEADER].strip()
    for name, val in parse_qsl(query, keep_blank_values=True):
        if name == "access_token":
            return val
    return None


def admit(
    state: State, path: str, query: str, headers: dict[str, str], now: float | None = None
) -> Admission | Refusal:
    """Decide a handshake. ``headers`` are lower-cased names to values."""
    match = state.routes.match(path)
    if match is None:
        return Refusal(404, "404", "Not Found", f"No API, version or topic matches {path}")
    api, topic = match.api, match.topic
    auth_header = api.authorization_header.lower()
    strip = frozenset({auth_header, INTERNAL_KEY_HEADER})

    if api.lifecycle_status == "BLOCKED":
        return Refusal(503, "700700", "API blocked", "This API has been blocked temporarily")

    def admitted(key_type: str, token=None, app=None) -> Admission | Refusal:
        endpoint = api.sandbox_endpoint if key_type == "SANDBOX" else api.production_endpoint
        if not endpoint:
            return Refusal(
                403,
                "900908",
                "Resource forbidden",
                f"{key_type.title()} key offered to an API with no {key_type.lower()} endpoint",
            )
        url = backend_url(endpoint, topic.uri_mapping, match.params, query)
        return Admission(match, url, key_type, token, app, strip)

    if api.lifecycle_status == "PROTOTYPED" or not topic.secured:
        return admitted("PRODUCTION")

    raw = _credential(headers, query, auth_header)
    if raw is None:
        return _unauthorized(
            "900902",
            "Invalid Credentials. Make sure your API invocation call has a header: "
            f"'{api.authorization_header} : Bearer ACCESS_TOKEN' or a query parameter access_token",
            "Missing Credentials",
        )
    if not raw:
        return _unauthorized("900901", "The Authorization header must be 'Bearer <token>'")
    try:
        token = state.verifier.verify(raw, now)
    except TokenRejected as exc:
        if exc.code == "900903":
            return _unauthorized(exc.code, exc.description, "Invalid Credentials")
        return _unauthorized(exc.code, exc.description)

    key_type = str(token.claims.get("keytype") or "PRODUCTION").upper()
    app = None
    if token.issuer.validate_subscription:
        consumer_key = token.claims.get(token.issuer.consumer_key_claim)
        app = state.snapshot.applications.get(consumer_key) if isinstance(consumer_key, str) else None
        if app is None:
            return _unauthorized("900901", "The token's application is not known to this gateway")
        key_type = app.key_type
        sub = app.subscription_for(api.id)
        if sub is None:
            return Refusal(
                403,
                "900908",
                "Resource forbidden",
                f"User is NOT authorized to access the Resource. Application {app.name} is not subscribed to {api.name}",
            )
        if sub.status == "BLOCKED" or (sub.status == "PROD_ONLY_BLOCKED" and key_type == "PRODUCTION"):
            return Refusal(403, "900908", "Resource forbidden", "The subscription to this API is blocked")

    if topic.scopes and not (token.scopes & set(topic.scopes)):
        return Refusal(
            403,
            "900910",
            "The access token does not allow you to access the requested resource",
            f"User is NOT authorized to access the Resource: {topic.name}. Scope validation failed.",
        )
    return admitted(key_type, token, app)

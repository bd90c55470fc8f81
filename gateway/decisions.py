"""The handshake decision, and the same judgement again for open connections.

``admit`` decides a new handshake: may it open a connection, and to where?
``judge`` is the part after the token's signature was checked, so a connection can be
re-judged cheaply whenever the snapshot changes (``rejudge`` maps a refusal to the close
code of the brief). All are plain functions over the gateway's current ``State``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from gateway.backend import backend_url
from gateway.routing import Match, RouteTable, UnsafePath, request_path, unsafe_param
from gateway.tokens import TokenRejected, TokenVerifier, VerifiedToken
from gateway_sync.snapshot import ApplicationConfig, Snapshot, SubscriptionConfig, TopicConfig

INTERNAL_KEY_HEADER = "internal-key"


@dataclass(frozen=True)
class State:
    """What one gateway process enforces right now; replaced whole when a snapshot arrives."""

    snapshot: Snapshot
    routes: RouteTable
    verifier: TokenVerifier
    revoked: frozenset[str]
    application_ids: frozenset[str]
    disconnect: frozenset[str]

    @classmethod
    def build(cls, snapshot: Snapshot, extra_issuers=(), remote_keys=None) -> State:
        return cls(
            snapshot,
            RouteTable(snapshot),
            TokenVerifier([*snapshot.issuers, *extra_issuers], remote_keys),
            frozenset(snapshot.revoked),
            frozenset(snapshot.application_ids),
            frozenset(snapshot.disconnect),
        )

    def with_snapshot(self, snapshot: Snapshot) -> State:
        """This state with a snapshot that differs only by deltas (revocations, subscriptions):
        the compiled routes and the verifier, with its cache of checked tokens, are kept."""
        return State(
            snapshot, self.routes, self.verifier, frozenset(snapshot.revoked), self.application_ids, self.disconnect
        )


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    description: str
    headers: tuple[tuple[str, str], ...] = ()
    refresh_issuer: str = ""  # fetching this issuer's keys again may change the answer
    # Refused only for what this gateway may not have seen yet (an API context, application
    # keys or a subscription the portal just created): pulling the snapshot may change the answer.
    sync_miss: bool = False

    def body(self) -> dict[str, str]:
        return {"code": self.code, "error_message": self.message, "error_description": self.description}


@dataclass(frozen=True)
class Admission:
    match: Match
    endpoint: str
    query: str
    key_type: str
    token: VerifiedToken | None = None
    application: ApplicationConfig | None = None
    subscription: SubscriptionConfig | None = None
    # Header names (lower-case) never sent upstream.
    strip_headers: frozenset[str] = field(default_factory=frozenset)
    # The decoded path routed on (what open connections are judged again with).
    path: str = ""

    @property
    def upstream_url(self) -> str:
        """Built when a connection is opened, not each time an open one is re-judged."""
        return backend_url(self.endpoint, self.match.topic.uri_mapping, self.match.params, self.query)


def _not_found(path: str) -> Refusal:
    return Refusal(404, "404", "Not Found", f"No API, version or topic matches {path}", sync_miss=True)


def _unauthorized(
    code: str,
    description: str,
    message: str = "Invalid Credentials",
    refresh_issuer: str = "",
    sync_miss: bool = False,
) -> Refusal:
    challenge = 'Bearer realm="tidegate", error="invalid_token", error_description="The provided token is invalid"'
    return Refusal(401, code, message, description, (("www-authenticate", challenge),), refresh_issuer, sync_miss)


def _credential(headers: dict[str, str], query: str, auth_header: str) -> tuple[str | None, bool]:
    """The raw token and whether it came as an Internal-Key."""
    value = headers.get(auth_header)
    if value:
        scheme, _, token = value.partition(" ")
        return (token.strip() if scheme.lower() == "bearer" and token.strip() else ""), False
    if headers.get(INTERNAL_KEY_HEADER):
        return headers[INTERNAL_KEY_HEADER].strip(), True
    for name, val in parse_qsl(query, keep_blank_values=True):
        if name == "access_token":
            return val, False
    return None, False


def _needs_token(match: Match) -> bool:
    return match.api.lifecycle_status != "PROTOTYPED" and match.topic.secured


def bad_path(description: str) -> Refusal:
    return Refusal(400, "400", "Bad Request", description)


def admit(
    state: State, raw_path: str, query: str, headers: dict[str, str], now: float | None = None
) -> Admission | Refusal:
    """Decide a handshake. ``raw_path`` is the path as the client sent it (percent-encoded,
    ``routing.raw_request_path``); ``headers`` are lower-cased names to values."""
    try:
        path = request_path(raw_path)
    except UnsafePath as exc:
        return bad_path(str(exc))
    match = state.routes.match(path)
    if match is None:
        return _not_found(path)
    for value in match.params.values():
        why = unsafe_param(value)
        if why:
            return bad_path(why)
    token = None
    if match.api.lifecycle_status != "BLOCKED" and _needs_token(match):
        raw, internal = _credential(headers, query, match.api.authorization_header.lower())
        if raw is None:
            return _unauthorized(
                "900902",
                "Invalid Credentials. Make sure your API invocation call has a header: "
                f"'{match.api.authorization_header} : Bearer ACCESS_TOKEN' or a query parameter access_token",
                "Missing Credentials",
            )
        if not raw:
            return _unauthorized("900901", "The Authorization header must be 'Bearer <token>'")
        try:
            token = state.verifier.verify(raw, now)
        except TokenRejected as exc:
            return _unauthorized(exc.code, exc.description, refresh_issuer=exc.refresh_issuer)
        # An Internal-Key is a Publisher try-out key and nothing else; such keys come only that way.
        if internal != (token.claims.get("token_type") == "InternalKey"):
            return _unauthorized("900901", "Internal keys go in the Internal-Key header, and only there")
    return judge(state, path, query, token, now)


def judge(
    state: State, path: str, query: str, token: VerifiedToken | None, now: float | None = None
) -> Admission | Refusal:
    """Everything after the signature check: route, lifecycle, expiry, revocation,
    subscription, scopes and the backend URL. Cheap enough to run for every open
    connection whenever the snapshot changes."""
    match = state.routes.match(path)
    if match is None:
        return _not_found(path)
    api, topic = match.api, match.topic
    strip = frozenset({api.authorization_header.lower(), INTERNAL_KEY_HEADER})
    if api.lifecycle_status == "BLOCKED":
        return Refusal(503, "700700", "API blocked", "This API has been blocked temporarily")

    key_type, app, sub = "PRODUCTION", None, None
    if _needs_token(match):
        if token is None:
            return _unauthorized("900902", "This topic now requires an access token", "Missing Credentials")
        claims = token.claims
        if token.issuer.issuer not in state.verifier.issuers:
            return _unauthorized("900901", "The token's issuer is no longer trusted")
        if claims.get("exp", 0) <= (now if now is not None else time.time()):
            return _unauthorized("900903", "Access Token Expired")
        if claims.get("jti") in state.revoked:
            return _unauthorized("900901", "The access token has been revoked")
        key_type = str(claims.get("keytype") or "PRODUCTION").upper()
        if token.issuer.validate_subscription and isinstance(claims.get("subscribedAPIs"), list):
            # A self-contained token (WSO2's older shape, and Internal-Keys) names its subscriptions.
            app, sub = _self_contained(claims, api, key_type)
            if sub is None:
                return Refusal(
                    403,
                    "900908",
                    "Resource forbidden",
                    f"User is NOT authorized to access the Resource. The token is not subscribed to {api.name}",
                )
        elif token.issuer.validate_subscription:
            consumer_key = claims.get(token.issuer.consumer_key_claim)
            app = state.snapshot.applications.get(consumer_key) if isinstance(consumer_key, str) else None
            if app is None:
                return _unauthorized(
                    "900901", "The token's application keys are not known to this gateway", sync_miss=True
                )
            key_type = app.key_type
            sub = app.subscription_for(api.id)
            if sub is None:
                return Refusal(
                    403,
                    "900908",
                    "Resource forbidden",
                    f"User is NOT authorized to access the Resource. Application {app.name} is not subscribed to {api.name}",
                    sync_miss=True,
                )
            if sub.status == "BLOCKED" or (sub.status == "PROD_ONLY_BLOCKED" and key_type == "PRODUCTION"):
                # An unblock just confirmed by the portal counts as a miss too.
                return Refusal(
                    403, "900908", "Resource forbidden", "The subscription to this API is blocked", sync_miss=True
                )
        needed = _scope_refusal(topic, token.scopes)
        if needed:
            return Refusal(
                403,
                "900910",
                "The access token does not allow you to access the requested resource",
                f"User is NOT authorized to access the Resource: {topic.name}. Scope validation failed: "
                f"the topic needs {needed}.",
            )

    endpoint = api.sandbox_endpoint if key_type == "SANDBOX" else api.production_endpoint
    if not endpoint:
        return Refusal(
            403,
            "900908",
            "Resource forbidden",
            f"{key_type.title()} key offered to an API with no {key_type.lower()} endpoint",
        )
    return Admission(match, endpoint, query, key_type, token, app, sub, strip, path)


def _scope_refusal(topic: TopicConfig, held: frozenset[str]) -> str:
    """What ``topic`` needs, publish's scopes first, when the token's scopes fall short;
    empty when they suffice. One handshake opens both operations, so each operation that
    lists scopes needs one of its scopes."""
    listed = [
        (verb, scopes)
        for verb, scopes in (("publish", topic.publish_scopes), ("subscribe", topic.subscribe_scopes))
        if scopes
    ]
    if all(held & set(scopes) for _, scopes in listed):
        return ""
    return " and ".join(f"one of {', '.join(scopes)} ({verb})" for verb, scopes in listed)


def _self_contained(claims: dict, api, key_type: str) -> tuple[ApplicationConfig, SubscriptionConfig | None]:
    base = f"{api.context}/{api.version}"
    entry = next(
        (
            s
            for s in claims["subscribedAPIs"]
            if isinstance(s, dict)
            and (s.get("context") == base or (s.get("context") == api.context and s.get("version") == api.version))
        ),
        None,
    )
    info = claims.get("application") if isinstance(claims.get("application"), dict) else {}
    internal = claims.get("token_type") == "InternalKey"
    app_id = str(info.get("uuid") or info.get("id") or ("internal-key-app" if internal else claims.get("sub", "")))
    sub = None
    if entry is not None:
        tier = entry.get("subscriptionTier") or "Unlimited"
        sub = SubscriptionConfig(id=f"{app_id}:{api.id}", api_id=api.id, policy=tier, status="UNBLOCKED")
    app = ApplicationConfig(
        id=app_id,
        name=str(info.get("name") or ("internal-key-app" if internal else app_id)),
        owner=str(info.get("owner") or claims.get("sub", "")),
        policy=str(info.get("tier") or "Unlimited"),
        key_type=key_type,
        subscriptions=(sub,) if sub else (),
        self_contained=True,
    )
    return app, sub


MAX_CLOSE_REASON = 123  # bytes of UTF-8 a close frame's reason may hold (RFC 6455 5.5)


def close_reason(text: str) -> str:
    """``text`` cut to what a close frame can carry, on a character boundary: a longer
    reason makes the server drop the connection without any close frame."""
    return text.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")


def close_code_for(state: State, refusal: Refusal, api_id: str, app_id: str | None) -> tuple[int, str]:
    """The close code (brief section 4, live enforcement) for an open connection that its
    re-judgement now refuses, with a reason a close frame can carry."""
    code, reason = _close_code_for(state, refusal, api_id, app_id)
    return code, close_reason(reason)


def _close_code_for(state: State, refusal: Refusal, api_id: str, app_id: str | None) -> tuple[int, str]:
    if refusal.status == 404:
        deployed = any(a.id == api_id for a in state.snapshot.apis)
        return (1008, "Topic no longer available") if deployed else (1001, "API undeployed")
    if refusal.code == "700700":
        return 1001, "API blocked"
    if refusal.code == "900903":
        return 4001, "Access token expired"
    if refusal.code == "900901":
        if app_id is not None and app_id not in state.application_ids:  # only apps the snapshot knows
            return 4002, "Application deleted"
        return 4001, refusal.description
    if refusal.code == "900908":
        return 4002, refusal.description
    if refusal.code == "900910":
        return 1008, "Scope validation failed: the token lacks a scope the topic now needs"
    return 1008, refusal.description  # security change


def rejudge(
    state: State,
    path: str,
    query: str,
    token: VerifiedToken | None,
    api_id: str,
    app_id: str | None,
    now: float | None = None,
) -> tuple[int, str] | None:
    """None while the connection may stay open, else (close code, reason)."""
    decision = judge(state, path, query, token, now)
    if isinstance(decision, Refusal):
        return close_code_for(state, decision, api_id, app_id)
    if decision.match.api.id != api_id:
        return 1008, "The route now leads elsewhere"
    return None

"""The handshake decision, and the same judgement again for open connections.

``admit`` decides a new handshake: may it open a connection, and to where? It matches the
route once and hands the match on. ``judge`` is the part after the token's signature was
checked, so a connection can be re-judged cheaply whenever the snapshot changes
(``rejudge`` turns a refusal into its close, gateway/refusals.py). ``connection_refusal``
is the last word on a handshake: the application's concurrent-connection limit. All are
plain functions over the gateway's current ``State``.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

from gateway.backend import backend_url
from gateway.deny import Address, DenyList
from gateway.jwks import JwksCache
from gateway.payloads import NO_VALIDATION, PayloadValidators
from gateway.ratelimit import LimitPlan, limits_for
from gateway.refusals import Close, Reason, Refusal
from gateway.routing import Match, RouteTable, UnsafePath, request_path, unsafe_param
from gateway.tickets import MalformedBearerProtocol, TicketGrant, bearer_from_protocols, ticket_param
from gateway.tokens import TokenRejected, TokenVerifier, VerifiedToken, expired, expired_api_key
from gateway_contract.origins import origin_allowed
from gateway_contract.snapshot import (
    ApiConfig,
    ApplicationConfig,
    IssuerConfig,
    Snapshot,
    SubscriptionConfig,
    TopicConfig,
)

MAX_PLANS = 4096
INTERNAL_KEY_HEADER = "internal-key"
API_KEY_HEADER = "apikey"  # and the ``apikey`` query parameter (WSO2)
# What a limit plan is built from (``limit_plan``): the API's id and policy, the
# subscription's and the application's (None without one).
PlanKey = tuple[str, str, str | None, str | None, str | None, str | None]


@dataclass(frozen=True)
class State:
    """What one gateway process enforces right now; replaced whole when a snapshot arrives."""

    snapshot: Snapshot
    routes: RouteTable
    verifier: TokenVerifier
    revoked: frozenset[str]
    application_ids: frozenset[str]
    disconnect: frozenset[str]
    deny: DenyList = field(default_factory=DenyList)
    payloads: PayloadValidators = NO_VALIDATION  # compiled payload schemas (gateway/payloads.py)
    # The rate limits of each (API, subscription, application) seen with this snapshot
    # (``limit_plan``); a new state starts with none.
    plans: dict[PlanKey, LimitPlan] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        snapshot: Snapshot,
        extra_issuers: Iterable[IssuerConfig] = (),
        remote_keys: JwksCache | None = None,
        leeway: float = 0,
    ) -> State:
        return cls(
            snapshot,
            RouteTable(snapshot),
            TokenVerifier([*snapshot.issuers, *extra_issuers], remote_keys, leeway),
            frozenset(snapshot.revoked),
            frozenset(snapshot.application_ids),
            frozenset(snapshot.disconnect),
            DenyList(snapshot.deny),
            payloads=PayloadValidators(snapshot),
        )

    def limit_plan(
        self, api: ApiConfig, subscription: SubscriptionConfig | None, application: ApplicationConfig | None
    ) -> LimitPlan:
        """The limits a connection to ``api`` is subject to (``limits_for``), built once per
        API, subscription and application (and the policies they name) for this snapshot."""
        key = (
            api.id,
            api.api_policy,
            subscription.id if subscription else None,
            subscription.policy if subscription else None,
            application.id if application else None,
            application.policy if application else None,
        )
        plan = self.plans.get(key)
        if plan is None:
            if len(self.plans) >= MAX_PLANS:  # applications from tokens alone are unbounded
                self.plans.clear()
            plan = self.plans[key] = LimitPlan(
                limits_for(snapshot=self.snapshot, api=api, subscription=subscription, application=application)
            )
        return plan

    def with_snapshot(self, snapshot: Snapshot) -> State:
        """This state with a snapshot that differs only by deltas (revocations, subscriptions):
        the compiled routes and the verifier, with its cache of checked tokens, are kept."""
        return State(
            snapshot,
            self.routes,
            self.verifier,
            frozenset(snapshot.revoked),
            self.application_ids,
            self.disconnect,
            self.deny,
            payloads=self.payloads,  # deltas never change an API: its compiled schemas stay
        )


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
    return Refusal(Reason.NOT_FOUND, f"No API, version or topic matches {path}", sync_miss=True)


def _credential(
    headers: dict[str, str], query: str, auth_header: str, bearer: str | None = None
) -> tuple[str | None, bool]:
    """The raw token and whether it came as an Internal-Key; ``bearer`` is the token of a
    ``Sec-WebSocket-Protocol`` entry (gateway/tickets.py)."""
    value = headers.get(auth_header)
    if value:
        scheme, _, token = value.partition(" ")
        return (token.strip() if scheme.lower() == "bearer" and token.strip() else ""), False
    if headers.get(INTERNAL_KEY_HEADER):
        return headers[INTERNAL_KEY_HEADER].strip(), True
    if bearer is not None:
        return bearer, False
    for name, val in parse_qsl(query, keep_blank_values=True):
        if name == "access_token":
            return val, False
    return None, False


def _ticket_token(state: State, match: Match, grant: TicketGrant | None, now: float) -> VerifiedToken | Refusal:
    """The token a connect ticket stands for (its claims, verified when it was issued), if
    the ticket is good for this API on this gateway now. The token's own expiry, revocation,
    subscription and scopes are judged afterwards as for any token."""
    if grant is None:
        return Refusal(Reason.INVALID_CREDENTIALS, "The connect ticket is unknown or already used", match=match)
    if grant.expired(now):
        return Refusal(Reason.INVALID_CREDENTIALS, "The connect ticket has expired", match=match)
    if grant.api_id != match.api.id:
        return Refusal(Reason.INVALID_CREDENTIALS, "The connect ticket was issued for another API", match=match)
    if not set(grant.environments) & set(state.snapshot.environments):
        return Refusal(Reason.INVALID_CREDENTIALS, "The connect ticket was issued for another environment", match=match)
    trusted = state.verifier.issuers.get(grant.issuer)
    if trusted is None or grant.claims.get("token_type") == "InternalKey":
        return Refusal(Reason.INVALID_CREDENTIALS, "The connect ticket's token is no longer trusted", match=match)
    return VerifiedToken(grant.claims, trusted[0])


def _api_key(headers: dict[str, str], query: str) -> str | None:
    """The raw API key from the ``apikey`` header, else the ``apikey`` query parameter."""
    value = headers.get(API_KEY_HEADER)
    if value is not None:
        return value.strip()
    for name, val in parse_qsl(query, keep_blank_values=True):
        if name == "apikey":
            return val.strip()
    return None


def _missing(api: ApiConfig) -> str:
    kinds = []
    if "oauth2" in api.security_schemes:
        kinds.append(f"a header '{api.authorization_header} : Bearer ACCESS_TOKEN' or a query parameter access_token")
    if "api_key" in api.security_schemes:
        kinds.append("an 'apikey' header or query parameter holding an API key")
    return "Invalid Credentials. Make sure your API invocation call has " + ", or ".join(kinds)


def _ip_permitted(permitted: str, client: Address | None) -> bool:
    for entry in permitted.split(","):
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            continue
        if client is not None and client.version == network.version and client in network:
            return True
    return False


def _wildcard_match(pattern: str, text: str) -> bool:
    """``pattern`` matches all of ``text``, ``*`` standing for any run of characters: the
    text must start with what comes before the first star and end with what follows the
    last, and hold the pieces between in order, each found leftmost (``str.find``). Linear
    in the text for each piece; no regular expression built from what a developer typed.
    (The two-pointer match it replaces backtracked: a pattern of 253 characters against a
    16 KB Referer took a second.)"""
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return pattern == text
    first, last = pieces[0], pieces[-1]
    if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(last):
        return False
    at, end = len(first), len(text) - len(last)
    for piece in pieces[1:-1]:
        if piece:
            found = text.find(piece, at, end)
            if found < 0:
                return False
            at = found + len(piece)
    return True


MAX_REFERER = 2048  # longer than any page's address a browser sends; judged no further


def _referer_permitted(permitted: str, referer: str | None) -> bool:
    """WSO2's rule: a pattern matches the whole Referer, ``*`` standing for any run of
    characters other than a space (a Referer with a space matches none, and so does one
    over MAX_REFERER characters)."""
    if not referer or " " in referer or len(referer) > MAX_REFERER:
        return False
    return any(_wildcard_match(pattern.strip(), referer) for pattern in permitted.split(",") if pattern.strip())


def _api_key_restriction(claims: dict[str, Any], client: Address | None, referer: str | None) -> Refusal | None:
    """An API key's ``permittedIP`` (the peer's address) and ``permittedReferer`` (the
    handshake's Referer): WSO2 refuses either with 403 900908."""
    ips, referers = claims.get("permittedIP"), claims.get("permittedReferer")
    if isinstance(ips, str) and ips.strip() and not _ip_permitted(ips, client):
        return Refusal(Reason.FORBIDDEN, "Access forbidden for the invocations: the API key is not for this IP address")
    if isinstance(referers, str) and referers.strip() and not _referer_permitted(referers, referer):
        return Refusal(Reason.FORBIDDEN, "Access forbidden for the invocations: the API key is not for this referer")
    return None


def _needs_token(match: Match) -> bool:
    return match.api.lifecycle_status != "PROTOTYPED" and match.topic.secured


def _origin_refusal(api: ApiConfig, origin: str | None) -> Refusal | None:
    """The API's Origin allow-list (docs/gateway.md): with a list, an Origin must be on it;
    no Origin at all (a client that is not a browser) passes unless the API is for browsers
    only. A refusal may be for a list this gateway has not seen grow yet: a miss."""
    if not origin:
        if api.origin_required:
            return Refusal(
                Reason.ORIGIN_REFUSED, "This API accepts browsers only: the handshake has no Origin", sync_miss=True
            )
        return None
    if api.allowed_origins and not origin_allowed(origin, api.allowed_origins):
        return Refusal(
            Reason.ORIGIN_REFUSED, "The handshake's Origin is not on this API's list of allowed origins", sync_miss=True
        )
    return None


def _denied(what: str) -> Refusal:
    """A deny policy matches (WSO2's "Message blocked", 900805). A miss: the policy may just
    have been disabled, and letting a client in is read at once (docs/gateway.md)."""
    return Refusal(
        Reason.DENIED, f"You have been blocked from accessing the resource: a deny policy on {what}", sync_miss=True
    )


def _deny_refusal(deny: DenyList, api: ApiConfig, client: Address | None) -> Refusal | None:
    """The deny policies a handshake meets before any credential: its address and its API."""
    if deny.spans and deny.address_denied(client):
        return _denied("the client's IP address")
    if deny.apis and deny.api_denied(api.context, api.version):
        return _denied("this API")
    return None


def _identity_deny_refusal(deny: DenyList, token: VerifiedToken, app: ApplicationConfig | None) -> Refusal | None:
    """The deny policies on who connects: the token's user (``sub``) and its application."""
    sub = token.claims.get("sub")
    if deny.users and isinstance(sub, str) and deny.user_denied(sub):
        return _denied("this user")
    if deny.applications and app is not None and deny.application_denied(app.owner, app.name):
        return _denied("this application")
    return None


def bad_path(description: str) -> Refusal:
    return Refusal(Reason.BAD_PATH, description)


def admit(
    state: State,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    now: float | None = None,
    client: Address | None = None,
    protocols: Sequence[str] = (),
    grant: TicketGrant | None = None,
) -> Admission | Refusal:
    """Decide a handshake. ``raw_path`` is the path as the client sent it (percent-encoded,
    ``routing.raw_request_path``); ``headers`` are lower-cased names to values; ``client``
    the peer's address (``deny.client_address``), for deny policies; ``protocols`` the
    subprotocols offered (one may carry the token); ``grant`` what the ``?ticket=`` of the
    query stood for when the relay spent it (None: unknown or spent)."""
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
            return Refusal(Reason.BAD_PATH, why, match=match)
    if state.deny:  # a denied address or API is refused before any credential is read
        denied = _deny_refusal(state.deny, match.api, client)
        if denied is not None:
            return replace(denied, match=match)
    if match.api.allowed_origins or match.api.origin_required:  # before any credential is looked at
        refused = _origin_refusal(match.api, headers.get("origin"))
        if refused is not None:
            return replace(refused, match=match)
    token = None
    if match.api.lifecycle_status != "BLOCKED" and _needs_token(match):
        api = match.api
        if "oauth2" in api.security_schemes:
            try:
                bearer = bearer_from_protocols(protocols) if protocols else None
            except MalformedBearerProtocol:  # its text is never echoed: it may be most of a token
                return Refusal(
                    Reason.INVALID_CREDENTIALS, "The bearer entry in Sec-WebSocket-Protocol is malformed", match=match
                )
            raw, internal = _credential(headers, query, api.authorization_header.lower(), bearer)
            if raw is None and ticket_param(query) is not None:
                ticket_token = _ticket_token(state, match, grant, now if now is not None else time.time())
                if isinstance(ticket_token, Refusal):
                    return ticket_token
                return _judge(state, match, path, query, ticket_token, now, client)
        else:  # an API-key-only API: a bearer token is no credential here; a try-out key still is
            internal_key = headers.get(INTERNAL_KEY_HEADER)
            raw, internal = (internal_key.strip(), True) if internal_key else (None, False)
        if raw is None and "api_key" in api.security_schemes:
            key = _api_key(headers, query)
            if key is not None:
                return _admit_api_key(state, match, path, query, key, headers, now, client)
        if raw is None:
            return Refusal(Reason.MISSING_CREDENTIALS, _missing(api), match=match)
        if not raw:
            return Refusal(Reason.INVALID_CREDENTIALS, "The Authorization header must be 'Bearer <token>'", match=match)
        try:
            token = state.verifier.verify(raw, now)
        except TokenRejected as exc:
            return Refusal(exc.reason, exc.description, refresh_issuer=exc.refresh_issuer, match=match)
        # An Internal-Key is a Publisher try-out key and nothing else; such keys come only that way.
        if internal != (token.claims.get("token_type") == "InternalKey"):
            return Refusal(
                Reason.INVALID_CREDENTIALS, "Internal keys go in the Internal-Key header, and only there", match=match
            )
        if token.api_key:
            return Refusal(
                Reason.INVALID_CREDENTIALS,
                "An API key goes in the apikey header or query parameter, not as a bearer token",
                match=match,
            )
    return _judge(state, match, path, query, token, now, client)


def _admit_api_key(
    state: State,
    match: Match,
    path: str,
    query: str,
    key: str,
    headers: dict[str, str],
    now: float | None,
    client: Address | None,
) -> Admission | Refusal:
    """A handshake with an API key: its signature, expiry and restrictions (the peer's
    address, the Referer: both fixed for a connection, so judged here only), then ``judge``."""
    if not key:
        return Refusal(Reason.INVALID_CREDENTIALS, "The apikey header or query parameter is empty", match=match)
    try:
        token = state.verifier.verify_api_key(key, now)
    except TokenRejected as exc:
        return Refusal(exc.reason, exc.description, match=match)
    refused = _api_key_restriction(token.claims, client, headers.get("referer"))
    if refused is not None:
        return replace(refused, match=match)
    return _judge(state, match, path, query, token, now, client)


def judge(
    state: State,
    path: str,
    query: str,
    token: VerifiedToken | None,
    now: float | None = None,
    client: Address | None = None,
) -> Admission | Refusal:
    """Everything after the signature check: route, deny policies, lifecycle, expiry,
    revocation, subscription, scopes and the backend URL. Cheap enough to run for every
    open connection whenever the snapshot changes."""
    match = state.routes.match(path)
    if match is None:
        return _not_found(path)
    return _judge(state, match, path, query, token, now, client)


def _judge(
    state: State,
    match: Match,
    path: str,
    query: str,
    token: VerifiedToken | None,
    now: float | None,
    client: Address | None = None,
) -> Admission | Refusal:
    """``judge`` for a route already matched (a handshake matches once, in ``admit``)."""
    decision = _judgement(state, match, path, query, token, now, client)
    if isinstance(decision, Refusal):
        return replace(decision, match=match)
    return decision


@functools.lru_cache(maxsize=256)  # one per API's authorization header name
def _credential_headers(authorization_header: str) -> frozenset[str]:
    """The headers that carry a credential to the gateway, never sent upstream."""
    return frozenset({authorization_header.lower(), INTERNAL_KEY_HEADER, API_KEY_HEADER})


def _judgement(
    state: State,
    match: Match,
    path: str,
    query: str,
    token: VerifiedToken | None,
    now: float | None,
    client: Address | None,
) -> Admission | Refusal:
    api, topic = match.api, match.topic
    strip = _credential_headers(api.authorization_header)
    deny = state.deny
    if deny:
        denied = _deny_refusal(deny, api, client)
        if denied is not None:
            return denied
    if api.lifecycle_status == "BLOCKED":
        return Refusal(Reason.API_BLOCKED, "This API has been blocked temporarily")

    key_type, app, sub = "PRODUCTION", None, None
    if _needs_token(match):
        if token is None:
            return Refusal(Reason.MISSING_CREDENTIALS, "This topic now requires an access token")
        claims = token.claims
        if token.issuer.issuer not in state.verifier.issuers:
            return Refusal(Reason.INVALID_CREDENTIALS, "The token's issuer is no longer trusted")
        clock = now if now is not None else time.time()
        if token.api_key:
            if expired_api_key(claims, clock, state.verifier.leeway):
                return Refusal(Reason.TOKEN_EXPIRED, "API key expired")
            if "api_key" not in api.security_schemes:
                return Refusal(Reason.MISSING_CREDENTIALS, "This API does not accept API keys")
        elif expired(claims, clock, state.verifier.leeway):
            return Refusal(Reason.TOKEN_EXPIRED, "Access Token Expired")
        elif "oauth2" not in api.security_schemes and claims.get("token_type") != "InternalKey":
            return Refusal(Reason.MISSING_CREDENTIALS, "This API does not accept OAuth2 access tokens")
        if claims.get("jti") in state.revoked:
            what = "API key" if token.api_key else "access token"
            return Refusal(Reason.INVALID_CREDENTIALS, f"The {what} has been revoked")
        key_type = str(claims.get("keytype") or "PRODUCTION").upper()
        if token.api_key:
            app, sub, refused_key = _api_key_subscription(state, api, claims, key_type)
            if refused_key is not None:
                return refused_key
        elif token.issuer.validate_subscription and isinstance(claims.get("subscribedAPIs"), list):
            # A self-contained token (WSO2's older shape, and Internal-Keys) names its subscriptions.
            app, sub = _self_contained(claims, api, key_type)
            if sub is None:
                return Refusal(
                    Reason.FORBIDDEN,
                    f"User is NOT authorized to access the Resource. The token is not subscribed to {api.name}",
                )
        elif token.issuer.validate_subscription:
            consumer_key = claims.get(token.issuer.consumer_key_claim)
            app = state.snapshot.applications.get(consumer_key) if isinstance(consumer_key, str) else None
            if app is None:
                return Refusal(
                    Reason.INVALID_CREDENTIALS,
                    "The token's application keys are not known to this gateway",
                    sync_miss=True,
                )
            key_type = app.key_type
            sub = app.subscription_for(api.id)
            if sub is None:
                return Refusal(
                    Reason.FORBIDDEN,
                    f"User is NOT authorized to access the Resource. Application {app.name} is not subscribed to {api.name}",
                    sync_miss=True,
                )
            refused = _subscription_refusal(sub.status, key_type)
            if refused:
                # An unblock or an approval just confirmed by the portal counts as a miss too.
                return Refusal(Reason.FORBIDDEN, refused, sync_miss=True)
        if deny:
            denied = _identity_deny_refusal(deny, token, app)
            if denied is not None:
                return denied
        needed = _scope_refusal(topic, token.scopes)
        if needed:
            return Refusal(
                Reason.SCOPE_MISSING,
                f"User is NOT authorized to access the Resource: {topic.name}. Scope validation failed: "
                f"the topic needs {needed}.",
            )

    endpoint = api.sandbox_endpoint if key_type == "SANDBOX" else api.production_endpoint
    if not endpoint:
        return Refusal(
            Reason.FORBIDDEN, f"{key_type.title()} key offered to an API with no {key_type.lower()} endpoint"
        )
    return Admission(match, endpoint, query, key_type, token, app, sub, strip, path)


def _api_key_subscription(
    state: State, api: ApiConfig, claims: dict[str, Any], key_type: str
) -> tuple[ApplicationConfig | None, SubscriptionConfig | None, Refusal | None]:
    """The application an API key names (by its uuid) and its subscription to ``api``, as
    the snapshot has them now (not the key's ``subscribedAPIs``, frozen when it was made)."""
    info = claims.get("application")
    app_id = str(info.get("uuid") or "") if isinstance(info, dict) else ""
    app = state.snapshot.api_key_applications.get(app_id)
    if app is None:
        refusal = Refusal(
            Reason.INVALID_CREDENTIALS, "The API key's application is not known to this gateway", sync_miss=True
        )
        return None, None, refusal
    app = replace(app, key_type=key_type)
    sub = app.subscription_for(api.id)
    if sub is None:
        return (
            app,
            None,
            Refusal(
                Reason.FORBIDDEN,
                f"User is NOT authorized to access the Resource. Application {app.name} is not subscribed to {api.name}",
                sync_miss=True,
            ),
        )
    refused = _subscription_refusal(sub.status, key_type)
    if refused:
        return app, sub, Refusal(Reason.FORBIDDEN, refused, sync_miss=True)
    return app, sub, None


# Why a subscription in each state other than UNBLOCKED refuses; a state not listed refuses too.
_SUBSCRIPTION_REFUSALS = {
    "BLOCKED": "The subscription to this API is blocked",
    "ON_HOLD": "The subscription to this API is waiting for an administrator's approval",
    "REJECTED": "The subscription to this API was rejected by an administrator",
}


def _subscription_refusal(status: str, key_type: str) -> str:
    """Why a subscription in ``status`` does not let a key of ``key_type`` in; empty when it
    does. Only UNBLOCKED does, and PROD_ONLY_BLOCKED for sandbox keys: any other state, even
    one this gateway does not know, refuses."""
    if status == "UNBLOCKED" or (status == "PROD_ONLY_BLOCKED" and key_type != "PRODUCTION"):
        return ""
    if status == "PROD_ONLY_BLOCKED":
        return "The subscription to this API is blocked for production keys"
    return _SUBSCRIPTION_REFUSALS.get(status, f"The subscription to this API is {status}")


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


def _self_contained(
    claims: dict[str, Any], api: ApiConfig, key_type: str
) -> tuple[ApplicationConfig, SubscriptionConfig | None]:
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
    application = claims.get("application")
    info: dict[str, Any] = application if isinstance(application, dict) else {}
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


def connection_refusal(state: State, app: ApplicationConfig | None, open_connections: int) -> Refusal | None:
    """The application's limit of concurrent connections (its policy's ``max_connections``),
    given how many it holds open on this gateway now; None while there is room."""
    if app is None:
        return None
    policy = state.snapshot.policy("application", app.policy)
    if policy and policy.max_connections and open_connections >= policy.max_connections:
        return Refusal(
            Reason.CONNECTION_LIMIT,
            f"Application {app.name} has reached its limit of {policy.max_connections} concurrent connections",
        )
    return None


def close_for(state: State, refusal: Refusal, api_id: str, app_id: str | None) -> Close:
    """The close (brief section 4, live enforcement) for an open connection that its
    re-judgement now refuses. Two reasons read more exactly once the connection is open:
    a route gone with its whole API is an undeployment, and credentials refused because
    the application is no longer in the snapshot are a deleted application."""
    reason = refusal.reason
    if reason is Reason.NOT_FOUND and not any(a.id == api_id for a in state.snapshot.apis):
        refusal = replace(refusal, reason=Reason.API_UNDEPLOYED)
    elif reason is Reason.INVALID_CREDENTIALS and app_id is not None and app_id not in state.application_ids:
        refusal = replace(refusal, reason=Reason.APPLICATION_DELETED)  # only apps the snapshot knows
    return refusal.close()


def rejudge(
    state: State,
    path: str,
    query: str,
    token: VerifiedToken | None,
    api_id: str,
    app_id: str | None,
    now: float | None = None,
    client: Address | None = None,
) -> Close | None:
    """None while the connection may stay open, else how to close it."""
    decision = judge(state, path, query, token, now, client)
    if isinstance(decision, Refusal):
        return close_for(state, decision, api_id, app_id)
    if decision.match.api.id != api_id:
        return Close(1008, "The route now leads elsewhere")
    return None

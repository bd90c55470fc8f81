"""The handshake decision as a plain function: tokens, subscriptions, scopes, lifecycle."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gateway.decisions import Admission, Refusal, State, admit
from gateway_contract.snapshot import (
    ApiConfig,
    ApplicationConfig,
    IssuerConfig,
    Snapshot,
    SubscriptionConfig,
    TopicConfig,
)
from testsupport.snapshots import api_config

ISS = "https://km.test/oauth2/token"
TESTKEY_ISS = "https://gw.test/testkey"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}, private=True)
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"}, private=True)
TESTKEY = RSAKey.generate_key(2048, parameters={"kid": "t1", "alg": "RS256"}, private=True)
NOW = 1_800_000_000


def sign(claims, key=KEY, header=None):
    return jwt.encode(header or {"alg": "RS256", "kid": key.kid}, claims, KeySet([key]))


def claims(**over):
    base = {"iss": ISS, "sub": "dev", "azp": "ck-prod", "iat": NOW - 10, "exp": NOW + 3600, "jti": "j1", "scope": ""}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


API = api_config(
    production_endpoint="ws://prod:1/v2",
    sandbox_endpoint="",
    topics=(
        TopicConfig(name="/notifications", uri_mapping="/notifications"),
        TopicConfig(name="/admin", publish_scopes=("admin", "ops")),
        TopicConfig(name="/public", secured=False),
    ),
)


def state(api=API, sub_status="UNBLOCKED", subscribed=True):
    subs = (
        (SubscriptionConfig(id="s1", api_id=api.id, policy="AsyncUnlimited", status=sub_status),) if subscribed else ()
    )
    apps = {
        "ck-prod": ApplicationConfig(
            id="app1", name="App", owner="dev", policy="Unlimited", key_type="PRODUCTION", subscriptions=subs
        ),
        "ck-sand": ApplicationConfig(
            id="app1", name="App", owner="dev", policy="Unlimited", key_type="SANDBOX", subscriptions=subs
        ),
    }
    issuers = (
        IssuerConfig(issuer=ISS, jwks={"keys": [KEY.as_dict(private=False)]}),
        IssuerConfig(issuer=TESTKEY_ISS, jwks={"keys": [TESTKEY.as_dict(private=False)]}, validate_subscription=False),
    )
    return State.build(
        Snapshot(
            version=1,
            environments=("Default",),
            apis=(api,),
            applications=apps,
            issuers=issuers,
            application_ids=("app1",),
        )
    )


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def test_subscribed_application_is_admitted_to_the_mapped_backend_url():
    decision = admit(state(), "/chat/1.0.0/notifications", "a=1", bearer(sign(claims())), now=NOW)
    assert isinstance(decision, Admission)
    assert decision.upstream_url == "ws://prod:1/v2/notifications?a=1"
    assert decision.application.name == "App"
    assert "authorization" in decision.strip_headers and "internal-key" in decision.strip_headers


def test_access_token_query_parameter_is_accepted_and_not_forwarded():
    decision = admit(state(), "/chat/1.0.0/notifications", f"access_token={sign(claims())}&x=1", {}, now=NOW)
    assert isinstance(decision, Admission)
    assert decision.upstream_url == "ws://prod:1/v2/notifications?x=1"


def _refusal(decision) -> tuple[int, str]:
    assert isinstance(decision, Refusal), decision
    return decision.status, decision.code


def test_no_credentials_is_401_900902_with_a_challenge():
    decision = admit(state(), "/chat/1.0.0/notifications", "", {}, now=NOW)
    assert _refusal(decision) == (401, "900902")
    assert dict(decision.headers)["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(sign(claims(), key=OTHER_KEY), id="signed-by-another-key"),
        pytest.param(sign(claims(iss="https://evil/token")), id="unknown-issuer"),
        pytest.param("not.a.jwt", id="malformed"),
        pytest.param("abc", id="garbage"),
        pytest.param(sign(claims(nbf=NOW + 600)), id="nbf-in-the-future"),
        pytest.param(sign(claims(exp=None)), id="no-exp"),
        # JSON nested thousands deep raised RecursionError past the parser's ValueError: a 500.
        pytest.param(
            "eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=") + ".x",
            id="payload-nested-5000-deep",
        ),
        pytest.param(
            base64.urlsafe_b64encode(b'{"a":' * 5000).decode().rstrip("=") + ".e30.x", id="header-nested-5000-deep"
        ),
    ],
)
def test_bad_tokens_are_401_900901(token):
    assert _refusal(admit(state(), "/chat/1.0.0/notifications", "", bearer(token), now=NOW)) == (401, "900901")


def _b64(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused():
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."
    assert _refusal(admit(state(), "/chat/1.0.0/notifications", "", bearer(token), now=NOW)) == (401, "900901")


def test_hs256_signed_with_the_public_key_is_refused():
    # The classic key-confusion forgery: HMAC over the token with the RSA public key as secret.
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims())}"
    mac = hmac.new(KEY.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert _refusal(admit(state(), "/chat/1.0.0/notifications", "", bearer(token), now=NOW)) == (401, "900901")


def test_tampered_payload_is_refused():
    head, _, sig = sign(claims()).split(".")
    token = f"{head}.{_b64(claims(sub='admin'))}.{sig}"
    assert _refusal(admit(state(), "/chat/1.0.0/notifications", "", bearer(token), now=NOW)) == (401, "900901")


def test_expired_token_is_401_900903():
    token = sign(claims(exp=NOW - 120))
    assert _refusal(admit(state(), "/chat/1.0.0/notifications", "", bearer(token), now=NOW)) == (401, "900903")


def test_application_not_subscribed_is_403_900908():
    decision = admit(state(subscribed=False), "/chat/1.0.0/notifications", "", bearer(sign(claims())), now=NOW)
    assert _refusal(decision) == (403, "900908")


@pytest.mark.parametrize(
    "status, consumer_key, refused",
    [
        ("BLOCKED", "ck-prod", True),
        ("PROD_ONLY_BLOCKED", "ck-prod", True),
        ("PROD_ONLY_BLOCKED", "ck-sand", False),
    ],
)
def test_blocked_subscriptions_are_refused(status, consumer_key, refused):
    api = ApiConfig(**{**API.__dict__, "sandbox_endpoint": "ws://sandbox:1"})
    decision = admit(
        state(api=api, sub_status=status),
        "/chat/1.0.0/notifications",
        "",
        bearer(sign(claims(azp=consumer_key))),
        now=NOW,
    )
    if refused:
        assert _refusal(decision) == (403, "900908")
    else:
        assert decision.upstream_url == "ws://sandbox:1/notifications"


def test_sandbox_key_without_a_sandbox_endpoint_is_403():
    decision = admit(state(), "/chat/1.0.0/notifications", "", bearer(sign(claims(azp="ck-sand"))), now=NOW)
    assert _refusal(decision) == (403, "900908")


@pytest.mark.parametrize("scope, allowed", [("", False), ("reader", False), ("ops", True), ("reader admin", True)])
def test_any_one_listed_scope_suffices(scope, allowed):
    decision = admit(state(), "/chat/1.0.0/admin", "", bearer(sign(claims(scope=scope))), now=NOW)
    if allowed:
        assert isinstance(decision, Admission)
    else:
        assert _refusal(decision) == (403, "900910")


def test_topic_with_security_off_needs_no_token():
    assert isinstance(admit(state(), "/chat/1.0.0/public", "", {}, now=NOW), Admission)


def test_testkey_tokens_need_no_subscription():
    token = sign(
        {"iss": TESTKEY_ISS, "sub": "admin", "keytype": "PRODUCTION", "iat": NOW, "exp": NOW + 60, "jti": "t"},
        key=TESTKEY,
    )
    assert isinstance(
        admit(state(subscribed=False), "/chat/1.0.0/notifications", "", bearer(token), now=NOW), Admission
    )


def test_blocked_api_is_503_700700_and_prototyped_needs_no_auth():
    blocked = ApiConfig(**{**API.__dict__, "lifecycle_status": "BLOCKED"})
    assert _refusal(admit(state(api=blocked), "/chat/1.0.0/notifications", "", {}, now=NOW)) == (503, "700700")
    proto = ApiConfig(**{**API.__dict__, "lifecycle_status": "PROTOTYPED"})
    assert isinstance(admit(state(api=proto), "/chat/1.0.0/notifications", "", {}, now=NOW), Admission)


def test_unknown_topic_is_404():
    assert _refusal(admit(state(), "/chat/1.0.0/nothing-here", "", {}, now=NOW)) == (404, "404")


def _internal_key(**over):
    subscribed = [{"name": "Chat", "context": "/chat/1.0.0", "version": "1.0.0", "publisher": "admin"}]
    return sign(claims(azp=None, token_type="InternalKey", keytype="PRODUCTION", subscribedAPIs=subscribed, **over))


def test_internal_key_header_takes_publisher_try_out_keys():
    decision = admit(
        state(subscribed=False), "/chat/1.0.0/notifications", "", {"internal-key": _internal_key()}, now=NOW
    )
    assert isinstance(decision, Admission)
    assert decision.application.name == "internal-key-app" and decision.application.self_contained


def test_internal_keys_and_access_tokens_do_not_stand_in_for_each_other():
    as_bearer = admit(state(), "/chat/1.0.0/notifications", "", bearer(_internal_key()), now=NOW)
    assert _refusal(as_bearer) == (401, "900901")
    normal_in_internal_key = admit(state(), "/chat/1.0.0/notifications", "", {"internal-key": sign(claims())}, now=NOW)
    assert _refusal(normal_in_internal_key) == (401, "900901")


def test_self_contained_tokens_are_judged_by_their_subscribed_apis():
    subscribed = [{"name": "Chat", "context": "/chat/1.0.0", "version": "1.0.0", "subscriptionTier": "Gold"}]
    app = {"uuid": "u-1", "name": "TestApp", "owner": "dev", "tier": "10PerMin"}
    token = sign(claims(azp=None, subscribedAPIs=subscribed, application=app))
    decision = admit(state(subscribed=False), "/chat/1.0.0/notifications", "", bearer(token), now=NOW)
    assert isinstance(decision, Admission)
    assert (decision.application.name, decision.application.policy, decision.subscription.policy) == (
        "TestApp",
        "10PerMin",
        "Gold",
    )
    other = sign(claims(azp=None, subscribedAPIs=[{"context": "/other/1.0.0"}], application=app))
    assert _refusal(admit(state(), "/chat/1.0.0/notifications", "", bearer(other), now=NOW)) == (403, "900908")


def test_real_clock_is_used_when_no_time_is_given():
    now = int(time.time())
    token = sign(claims(iat=now, exp=now + 60))
    assert isinstance(admit(state(), "/chat/1.0.0/notifications", "", bearer(token)), Admission)


# --- re-judging open connections: what changed maps to the brief's close code ---------------

from gateway.decisions import rejudge  # noqa: E402


def _verified(token_claims):
    st = state()
    return st.verifier.verify(sign(token_claims), NOW)


def test_open_connection_stays_while_nothing_changed():
    tok = _verified(claims())
    assert rejudge(state(), "/chat/1.0.0/notifications", "", tok, "api-1", "app1", now=NOW) is None


@pytest.mark.parametrize(
    "change, code",
    [
        ("revoked", 4001),
        ("expired", 4001),
        ("blocked-subscription", 4002),
        ("unsubscribed", 4002),
        ("app-deleted", 4002),
        ("api-blocked", 1001),
        ("undeployed", 1001),
        ("scope-added", 1008),
    ],
)
def test_changes_close_open_connections_with_the_briefs_codes(change, code):
    tok = _verified(claims())
    now = NOW
    st = state()
    if change == "revoked":
        st = State.build(Snapshot(**{**st.snapshot.__dict__, "revoked": ("j1",)}))
    elif change == "expired":
        now = NOW + 3601
    elif change == "blocked-subscription":
        st = state(sub_status="BLOCKED")
    elif change == "unsubscribed":
        st = state(subscribed=False)
    elif change == "app-deleted":
        st = State.build(Snapshot(**{**st.snapshot.__dict__, "applications": {}, "application_ids": ()}))
    elif change == "api-blocked":
        st = state(api=ApiConfig(**{**API.__dict__, "lifecycle_status": "BLOCKED"}))
    elif change == "undeployed":
        st = State.build(Snapshot(**{**st.snapshot.__dict__, "apis": ()}))
    elif change == "scope-added":
        topics = (TopicConfig(name="/notifications", publish_scopes=("admin",)),)
        st = state(api=ApiConfig(**{**API.__dict__, "topics": topics}))
    verdict = rejudge(st, "/chat/1.0.0/notifications", "", tok, "api-1", "app1", now=now)
    assert verdict is not None and verdict[0] == code


def test_a_subscribe_scope_added_closes_with_1008_and_a_reason_a_close_frame_can_carry():
    tok = _verified(claims())
    topics = (
        TopicConfig(name="/notifications", subscribe_scopes=tuple(f"scope_{i:03d}_for_readers" for i in range(20))),
    )
    st = state(api=ApiConfig(**{**API.__dict__, "topics": topics}))
    code, reason = rejudge(st, "/chat/1.0.0/notifications", "", tok, "api-1", "app1", now=NOW)
    assert code == 1008 and 0 < len(reason.encode()) <= 123


@pytest.mark.parametrize(
    "status, reason",
    [
        ("ON_HOLD", "waiting for an administrator's approval"),
        ("REJECTED", "rejected by an administrator"),
        ("SOME_FUTURE_STATE", "SOME_FUTURE_STATE"),
    ],
)
def test_a_subscription_waiting_for_approval_rejected_or_unknown_is_refused(status, reason):
    """Only UNBLOCKED (and PROD_ONLY_BLOCKED for sandbox keys) lets a key in: a subscription
    waiting for approval, rejected, or in a state this gateway does not know is 403 900908."""
    decision = admit(state(sub_status=status), "/chat/1.0.0/notifications", "", bearer(sign(claims())), now=NOW)
    assert _refusal(decision) == (403, "900908")
    assert reason in decision.description


# ---------------------------------------------------------------- API keys' permitted Referers

import re as _re  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gateway.decisions import MAX_REFERER, _referer_permitted, _wildcard_match  # noqa: E402
from testsupport.hypothesis_profiles import examples  # noqa: E402


def _reference(pattern: str, text: str) -> bool:
    """What ``*`` means, written the obvious way (slow, for small inputs)."""
    regex = ".*".join(_re.escape(piece) for piece in pattern.split("*"))
    return _re.fullmatch(regex, text, _re.DOTALL) is not None


@examples(300)
@given(pattern=st.text("ab*", max_size=8), text=st.text("ab", max_size=10))
def test_the_referer_wildcard_means_any_run_of_characters(pattern, text):
    assert _wildcard_match(pattern, text) == _reference(pattern, text)


def test_a_referer_over_the_limit_matches_no_pattern():
    # A developer's own patterns against a 16 KB Referer backtracked for seconds per
    # handshake, holding the worker's loop: such a Referer is not judged at all.
    assert _referer_permitted("https://*", "https://" + "a" * (MAX_REFERER - 8))
    assert not _referer_permitted("https://*", "https://" + "a" * MAX_REFERER)
    patterns = ",".join(["*" + "a" * 253 + "b"] * 20)
    assert not _referer_permitted(patterns, "a" * 16_000)

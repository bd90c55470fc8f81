"""Read your writes at the gateway: what the portal just confirmed (keys, a token, a
subscription, a deployment) works on the very next handshake.

The stack has no Redis and pulls only every 5 s, so only the gateway's pull on a miss and
the deploy that waits for gateways can make these pass."""

import base64
import threading
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from testsupport import documents, flow
from testsupport.flow import DEV, PUB, call
from testsupport.stack import Stack, metric, wait_until

pytestmark = pytest.mark.e2e
MISS_INTERVAL = 0.25


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    with Stack(
        tmp_path_factory.mktemp("ryw"),
        extra_env={
            "REDIS_URL": "",
            "TIDEGATE_REDIS_URL": "",
            "TIDEGATE_SYNC_INTERVAL": "5",
            "TIDEGATE_MISS_SYNC_INTERVAL": str(MISS_INTERVAL),
        },
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def session(slow):
    return slow.session()


def _deploy(session, api_id: str, environment: str = "Default", expect=201, **params):
    rev = call(session, "POST", f"{PUB}/apis/{api_id}/revisions", 201, json={})
    resp = session.post(
        f"{session.base}{PUB}/apis/{api_id}/deploy-revision",
        params={"revisionId": rev["id"], **params},
        json=[{"name": environment}],
        timeout=60,
    )
    assert resp.status_code == expect, resp.text
    return rev, resp.json()


@pytest.fixture(scope="module")
def api(slow, session):
    """An API deployed (waiting for the gateway) and published."""
    api = flow.import_api(session, documents.chat_doc(slow.backend_url, "Quick"), context="/quick")
    _deploy(session, api["id"], wait="true")
    call(session, "POST", f"{PUB}/apis/change-lifecycle", 200, params={"apiId": api["id"], "action": "Publish"})
    return api


def _metric(stack, name: str, labels: str = "") -> float:
    value = metric(stack.gateway_http, name, labels)
    assert value is not None, f"{name}{labels} not in /metrics"
    return value


def _miss_pulls(stack) -> float:
    return _metric(stack, "tidegate_sync_pulls_total", '{cause="miss"}')


def _portal_version(stack) -> int:
    resp = requests.get(
        f"{stack.portal_url}/internal/gateway/snapshot",
        headers={"Authorization": "Bearer dev-gateway-token"},
        timeout=5,
    )
    return int(resp.headers["ETag"].strip('"'))


def test_a_token_used_at_once_connects_ten_times_in_a_row(slow, session, api):
    url = f"{slow.gateway_ws}/quick/1.0.0/plain"
    statuses = []
    for i in range(10):
        app = flow.application_with_token(session, f"Quick{i}", api["id"])
        statuses.append(flow.handshake_status(url, app["headers"]))
    assert statuses == [(101, None)] * 10


def test_a_subscription_created_and_used_at_once_connects(slow, session, api):
    url = f"{slow.gateway_ws}/quick/1.0.0/plain"
    app = flow.application_with_token(session, "Subscriber", None)
    status, body = flow.handshake_status(url, app["headers"])
    assert (status, body["code"]) == (403, "900908")  # its keys were fetched at once, no subscription yet
    sub = call(
        session,
        "POST",
        f"{DEV}/subscriptions",
        201,
        json={"applicationId": app["id"], "apiId": api["id"], "throttlingPolicy": "AsyncUnlimited"},
    )
    assert flow.handshake_status(url, app["headers"]) == (101, None)

    # Unblocking is read at once too (blocking takes effect at the gateway's next pull).
    call(
        session,
        "POST",
        f"{PUB}/subscriptions/block-subscription",
        params={"subscriptionId": sub["subscriptionId"], "blockState": "BLOCKED"},
    )
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 403, 20, what="the block applied")
    call(session, "POST", f"{PUB}/subscriptions/unblock-subscription", params={"subscriptionId": sub["subscriptionId"]})
    assert flow.handshake_status(url, app["headers"]) == (101, None)


def test_deploy_and_undeploy_with_wait_are_applied_when_they_answer(slow, session):
    deployed = flow.import_api(session, documents.chat_doc(slow.backend_url, "Waited"), context="/waited")
    rev, body = _deploy(session, deployed["id"], wait="true")
    assert [d["name"] for d in body] == ["Default"]
    # Applied before any handshake asked for it: the gateway already enforces that version.
    health = requests.get(f"{slow.gateway_http}/health", timeout=5).json()
    assert health["snapshotVersion"] >= _portal_version(slow)
    url = f"{slow.gateway_ws}/waited/1.0.0/public"
    assert flow.handshake_status(url)[0] == 101

    resp = session.post(
        f"{session.base}{PUB}/apis/{deployed['id']}/undeploy-revision",
        params={"revisionId": rev["id"], "wait": "true"},
        json=[{"name": "Default"}],
        timeout=60,
    )
    assert resp.status_code == 201, resp.text
    assert flow.handshake_status(url)[0] == 404
    # the change-to-applied time is measured and shown
    assert _metric(slow, "tidegate_config_apply_seconds_count") >= 2


def test_a_wait_that_times_out_names_the_gateways_that_had_not_applied(slow, session):
    call(
        session,
        "POST",
        "/api/am/admin/v4/environments",
        201,
        json={"name": "Lagging", "displayName": "Lagging gateways", "vhosts": [{"host": "lag.localhost"}]},
    )
    # A gateway of that environment that pulls once a minute and reports the version it holds.
    version = _portal_version(slow)
    resp = requests.get(
        f"{slow.portal_url}/internal/gateway/snapshot",
        params={"environments": "Lagging"},
        headers={
            "Authorization": "Bearer dev-gateway-token",
            "If-None-Match": f'"{version}"',
            "X-Tidegate-Gateway": "lagging-host:4242",
            "X-Tidegate-Sync-Interval": "60",
        },
        timeout=5,
    )
    assert resp.status_code == 304
    api = flow.import_api(session, documents.chat_doc(slow.backend_url, "Lagged"), context="/lagged")
    _, body = _deploy(session, api["id"], "Lagging", expect=202, wait="true", timeout="0.5")
    assert [d["name"] for d in body["deployments"]] == ["Lagging"]
    assert body["configVersion"] > version
    assert [(g["gatewayId"], g["appliedVersion"]) for g in body["pendingGateways"]] == [("lagging-host:4242", version)]


def test_bad_wait_parameters_are_refused_and_deploy_nothing(slow, session):
    api = flow.import_api(session, documents.chat_doc(slow.backend_url, "Unsure"), context="/unsure")
    for params in ({"wait": "yes"}, {"wait": "true", "timeout": "soon"}, {"wait": "true", "timeout": "0"}):
        _, body = _deploy(session, api["id"], expect=400, **params)
        assert body["code"] == 400 and body["description"]
    assert call(session, "GET", f"{PUB}/apis/{api['id']}/deployments")["list"] == []


def _forged(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0xFF
    return f"{head}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def test_forged_unknown_issuer_and_expired_tokens_cause_no_pull(slow, session, api):
    url = f"{slow.gateway_ws}/quick/1.0.0/plain"
    app = flow.application_with_token(session, "Genuine", api["id"])
    assert flow.handshake_status(url, app["headers"])[0] == 101
    expired = flow.application_with_token(session, "Brief", api["id"], validity=1)
    exp = flow.jwt_claims(expired["token"])["exp"]
    wait_until(lambda: time.time() > exp + 1, 10, what="the short token expired")
    claims = {**flow.jwt_claims(app["token"]), "iss": "https://stranger.example/oauth2/token"}
    stranger = RSAKey.generate_key(2048, parameters={"kid": "s1", "alg": "RS256"}, private=True)
    unknown_issuer = jwt.encode({"alg": "RS256", "kid": "s1"}, claims, KeySet([stranger]))

    before = _miss_pulls(slow)
    misses = _metric(slow, "tidegate_sync_misses_total")
    for token, code in (
        (_forged(app["token"]), "900901"),
        (unknown_issuer, "900901"),
        (expired["token"], "900903"),
    ):
        status, body = flow.handshake_status(url, {"Authorization": f"Bearer {token}"})
        assert (status, body["code"]) == (401, code)
    assert (_miss_pulls(slow), _metric(slow, "tidegate_sync_misses_total")) == (before, misses)


def test_a_flood_of_unknown_keys_pulls_at_most_once_per_interval(slow, session, api):
    url = f"{slow.gateway_ws}/quick/1.0.0/plain"
    app = flow.application_with_token(session, "Gone", api["id"])
    assert flow.handshake_status(url, app["headers"])[0] == 101
    call(session, "DELETE", f"{DEV}/applications/{app['id']}")
    # A validly signed token whose application keys no longer exist anywhere.
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 401, 20, what="the deletion applied")

    before = _miss_pulls(slow)
    statuses = []
    started = time.monotonic()

    def knock():
        for _ in range(4):
            statuses.append(flow.handshake_status(url, app["headers"]))

    threads = [threading.Thread(target=knock) for _ in range(15)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    pulls = _miss_pulls(slow) - before
    assert len(statuses) == 60 and {s for s, _ in statuses} == {401}
    assert {b["code"] for _, b in statuses} == {"900901"}
    assert 1 <= pulls <= int(elapsed / MISS_INTERVAL) + 1

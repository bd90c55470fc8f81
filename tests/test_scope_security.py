"""Issue 14 items 2 and 10 through the real portal and gateway: another creator cannot hand
out a scope that guards an admin-only topic, and a scope written only on a topic's
subscribe operation is required at the handshake (and closes open connections once
deployed)."""

import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.flow import DEV, PUB, call
from testsupport.stack import wait_until

pytestmark = pytest.mark.e2e


def _ops(title: str, backend: str, scope: str, bindings: str) -> str:
    """An API whose /admin topic needs ``scope`` to publish, bound to the roles in ``bindings``."""
    channels = f"  /status:\n    publish: {{}}\n  /admin:\n    publish: {{x-scopes: [{scope}]}}\n    subscribe: {{}}\n"
    return documents.asyncapi_doc(title, f"{backend}/v2", channels, scopes=f"{scope}: Administer", bindings=bindings)


def _token(stack, keys: dict, **form) -> requests.Response:
    return requests.post(
        f"{stack.portal_url}/oauth2/token", data=form, auth=(keys["consumerKey"], keys["consumerSecret"]), timeout=30
    )


def _bearer(resp: requests.Response) -> dict:
    assert resp.status_code == 200, resp.text
    flow.SECRETS.append(resp.json()["access_token"])
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_another_creators_copy_of_an_admin_scope_grants_nothing(stack):
    alice = flow.signed_up(stack, "alice-ops", "creator", "publisher")
    bob = flow.signed_up(stack, "bob-grab", "creator", "publisher")
    dev = flow.signed_up(stack, "dev-noroles")
    ops = flow.import_api(
        alice,
        _ops("Ops", stack.backend_url, "ops_admin", "ops_admin: admin"),
        context="/opsx",
    )
    flow.deploy_and_publish(alice, ops["id"])

    # Bob's API declares the same scope without a binding: refused, naming Alice's API.
    grab_doc = _ops("Grab", stack.backend_url, "ops_admin", "")
    resp = bob.post(
        f"{stack.portal_url}{PUB}/apis/import-asyncapi",
        files={"file": ("api.yaml", grab_doc.encode(), "application/yaml")},
        data={"additionalProperties": '{"context": "/grabx"}'},
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    assert "Ops 1.0.0" in resp.json()["description"] and "alice-ops" in resp.json()["description"]
    grab = flow.import_api(bob, grab_doc.replace("ops_admin", "grab_read"), context="/grabx")
    flow.deploy_and_publish(bob, grab["id"])

    # A developer with no roles, subscribed to both, asks for ops_admin with both grants.
    app = call(dev, "POST", f"{DEV}/applications", 201, json={"name": "Both", "throttlingPolicy": "Unlimited"})
    for api in (ops, grab):
        call(
            dev,
            "POST",
            f"{DEV}/subscriptions",
            201,
            json={"applicationId": app["applicationId"], "apiId": api["id"], "throttlingPolicy": "AsyncUnlimited"},
        )
    keys = call(
        dev,
        "POST",
        f"{DEV}/applications/{app['applicationId']}/generate-keys",
        200,
        json={"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials", "password"]},
    )
    flow.SECRETS.append(keys["consumerSecret"])
    password = dict(grant_type="password", username="dev-noroles", password=dev.password)
    for form in ({"grant_type": "client_credentials"}, password):
        refused = _token(stack, keys, **form, scope="ops_admin")
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope", refused.text
    granted = _token(stack, keys, **password, scope="ops_admin grab_read")
    assert granted.json()["scope"] == "grab_read"
    headers = _bearer(granted)

    # The gateway refuses the admin-only topic to that token.
    base = f"{stack.gateway_ws}/opsx/1.0.0"
    wait_until(lambda: flow.handshake_status(f"{base}/status", headers)[0] == 101, 10, what="subscription at gateway")
    status, body = flow.handshake_status(f"{base}/admin", headers)
    assert (status, body["code"]) == (403, "900910")

    # With the admin role, the same keys get the scope and the topic opens.
    stack.manage("grant_role", "dev-noroles", "admin")
    admin_headers = _bearer(_token(stack, keys, **password, scope="ops_admin"))
    assert flow.handshake_status(f"{base}/admin", admin_headers)[0] == 101


def _feed(backend: str) -> str:
    """An API with a scope only on a topic's subscribe operation (/feed) and on both (/both)."""
    channels = """\
  /open:
    publish: {}
  /feed:
    publish: {}
    subscribe: {x-scopes: [feed_read]}
  /both:
    publish: {x-scopes: [feed_write]}
    subscribe: {x-scopes: [feed_read]}
"""
    return documents.asyncapi_doc(
        "Feed", f"{backend}/v2", channels, scopes="feed_read: Read the feed, feed_write: Write to it"
    )


def test_a_scope_only_on_subscribe_is_required_at_the_handshake(stack, admin_http):
    api = flow.import_api(admin_http, _feed(stack.backend_url), context="/feedx")
    flow.deploy_and_publish(admin_http, api["id"])
    plain = flow.application_with_token(admin_http, "FeedPlain", api["id"])
    reader = flow.application_with_token(admin_http, "FeedReader", api["id"], scopes=["feed_read"])
    base = f"{stack.gateway_ws}/feedx/1.0.0"
    for app in (plain, reader):
        wait_until(lambda a=app: flow.handshake_status(f"{base}/open", a["headers"])[0] == 101, 10, what="gateway")

    status, body = flow.handshake_status(f"{base}/feed", plain["headers"])
    assert (status, body["code"]) == (403, "900910")
    assert "feed_read (subscribe)" in body["error_description"]
    assert flow.handshake_status(f"{base}/feed", reader["headers"])[0] == 101

    # Both operations scoped: the token needs one scope of each; the refusal names publish's first.
    status, body = flow.handshake_status(f"{base}/both", reader["headers"])
    assert (status, body["code"]) == (403, "900910")
    assert "one of feed_write (publish) and one of feed_read (subscribe)" in body["error_description"]


def test_deploying_a_subscribe_scope_closes_open_connections_with_1008(stack, admin_http):
    doc = _feed(stack.backend_url).replace("title: Feed", "title: Live")
    unscoped = doc.replace("subscribe: {x-scopes: [feed_read]}\n  /both", "subscribe: {}\n  /both")
    api = flow.import_api(admin_http, unscoped, context="/feedlive")
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, "FeedLive", api["id"])
    url = f"{stack.gateway_ws}/feedlive/1.0.0/feed"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 10, what="subscription at gateway")

    call(admin_http, "PUT", f"{PUB}/apis/{api['id']}/asyncapi", files={"file": ("a.yaml", doc.encode())})
    rev = call(admin_http, "POST", f"{PUB}/apis/{api['id']}/revisions", 201, json={})
    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("still here")
        assert ws.recv(timeout=5) == "still here"
        flow.deploy_revision(admin_http, api["id"], rev["id"])
        deadline = time.monotonic() + 10
        with pytest.raises(ConnectionClosed) as exc:
            while time.monotonic() < deadline:
                ws.recv(timeout=deadline - time.monotonic())
    assert exc.value.rcvd is not None, repr(exc.value)
    assert exc.value.rcvd.code == 1008
    assert flow.handshake_status(url, app["headers"])[0] == 403

"""Dev Portal REST and the Key Manager's token endpoint."""

import base64

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from joserfc import jwt
from joserfc.jwk import KeySet
from rest_framework.test import APIClient

from devportal import services as dp
from devportal.models import Subscription
from keymanager.models import OAuthClient
from keymanager.services import keys_generate
from portal.models import AuditEvent
from publisher import services as publisher_services
from tests import factories

BASE = "/api/am/devportal/v3"
pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def dev():
    return factories.user("dev")


@pytest.fixture
def client(dev):
    c = APIClient()
    c.force_authenticate(dev)
    return c


def test_every_user_has_a_default_application(client):
    names = [a["name"] for a in client.get(f"{BASE}/applications").json()["list"]]
    assert names == ["DefaultApplication"]


def test_catalog_lists_published_apis_only(client, owner):
    factories.published_api(owner, context="/live")
    factories.api(owner, context="/draft")
    listed = [a["context"] for a in client.get(f"{BASE}/apis").json()["list"]]
    assert listed == ["/live"]


def test_subscribe_generate_keys_and_token(client, owner, dev):
    api = factories.published_api(owner)
    scope = {"name": "chat_admin", "description": "Administer", "bindings": ["admin"]}
    publisher_services.api_update(api=api, user=owner, changes={"scopes": [scope]})
    factories.redeploy(api, owner)  # tokens get the scopes of the deployed revision
    app = client.post(f"{BASE}/applications", {"name": "Chatter", "throttlingPolicy": "10PerMin"}, format="json").json()
    sub = client.post(
        f"{BASE}/subscriptions",
        {"applicationId": app["applicationId"], "apiId": str(api.id), "throttlingPolicy": "AsyncGold"},
        format="json",
    )
    assert sub.status_code == 201 and sub.json()["status"] == "UNBLOCKED"

    keys = client.post(
        f"{BASE}/applications/{app['applicationId']}/generate-keys",
        {"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]},
        format="json",
    ).json()
    secret = keys["consumerSecret"]
    stored = OAuthClient.objects.get(client_id=keys["consumerKey"])
    assert secret and secret not in stored.client_secret_digest and stored.check_client_secret(secret)
    listed = client.get(f"{BASE}/applications/{app['applicationId']}/oauth-keys").json()["list"]
    assert listed[0]["consumerSecret"] is None  # shown once, never again

    token_url = f"{BASE}/applications/{app['applicationId']}/oauth-keys/{keys['keyMappingId']}/generate-token"
    body = {"consumerSecret": secret, "validityPeriod": 600, "scopes": ["chat_admin"]}
    # chat_admin is bound to the admin role (x-scopes-bindings), which dev does not hold.
    refused = client.post(token_url, body, format="json")
    assert refused.status_code == 400 and "chat_admin" in refused.json()["description"]
    dev.groups.add(Group.objects.get(name="admin"))
    token = client.post(token_url, body, format="json")
    assert token.status_code == 200
    jwks = APIClient().get("/oauth2/jwks").json()
    decoded = jwt.decode(token.json()["accessToken"], KeySet.import_key_set(jwks))
    assert decoded.header["kid"] == jwks["keys"][0]["kid"]
    claims = decoded.claims
    assert claims["azp"] == keys["consumerKey"] and claims["keytype"] == "PRODUCTION"
    assert claims["sub"] == "dev" and claims["scope"] == "chat_admin"
    assert claims["exp"] - claims["iat"] == 600
    assert "http://org.wso2.apimgt/gateway" in claims["aud"]


def test_generate_token_with_wrong_secret_is_401(client, dev):
    app = client.get(f"{BASE}/applications").json()["list"][0]
    keys = client.post(
        f"{BASE}/applications/{app['applicationId']}/generate-keys", {"keyType": "PRODUCTION"}, format="json"
    ).json()
    resp = client.post(
        f"{BASE}/applications/{app['applicationId']}/oauth-keys/{keys['keyMappingId']}/generate-token",
        {"consumerSecret": "wrong"},
        format="json",
    )
    assert resp.status_code == 401


def test_another_users_application_is_404(client, owner):
    other = APIClient()
    other.force_authenticate(owner)
    theirs = other.get(f"{BASE}/applications").json()["list"][0]["applicationId"]
    assert client.get(f"{BASE}/applications/{theirs}").status_code == 404
    assert (
        client.post(f"{BASE}/applications/{theirs}/generate-keys", {"keyType": "PRODUCTION"}, format="json").status_code
        == 404
    )


def test_subscribing_twice_or_to_an_unpublished_api_is_409(client, owner):
    api = factories.published_api(owner)
    app = client.get(f"{BASE}/applications").json()["list"][0]["applicationId"]
    body = {"applicationId": app, "apiId": str(api.id), "throttlingPolicy": "AsyncUnlimited"}
    assert client.post(f"{BASE}/subscriptions", body, format="json").status_code == 201
    assert client.post(f"{BASE}/subscriptions", body, format="json").status_code == 409
    from publisher.services import api_change_lifecycle

    api_change_lifecycle(api=api, action="Deprecate", user=owner)
    other = client.post(f"{BASE}/applications", {"name": "Second"}, format="json").json()["applicationId"]
    resp = client.post(f"{BASE}/subscriptions", {**body, "applicationId": other}, format="json")
    assert resp.status_code == 409 and "DEPRECATED" in resp.json()["description"]
    assert Subscription.objects.count() == 1


def test_plan_not_offered_is_400(client, owner):
    api = factories.published_api(owner, policies=["AsyncGold"])
    app = client.get(f"{BASE}/applications").json()["list"][0]["applicationId"]
    resp = client.post(
        f"{BASE}/subscriptions",
        {"applicationId": app, "apiId": str(api.id), "throttlingPolicy": "AsyncBronze"},
        format="json",
    )
    assert resp.status_code == 400 and Subscription.objects.count() == 0


def test_oauth2_token_endpoint_client_credentials(client):
    app = client.get(f"{BASE}/applications").json()["list"][0]
    keys = client.post(
        f"{BASE}/applications/{app['applicationId']}/generate-keys", {"keyType": "SANDBOX"}, format="json"
    ).json()
    basic = base64.b64encode(f"{keys['consumerKey']}:{keys['consumerSecret']}".encode()).decode()
    anonymous = APIClient()
    resp = anonymous.post(
        "/oauth2/token",
        "grant_type=client_credentials&scope=apim:subscribe apim:admin",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], KeySet.import_key_set(anonymous.get("/oauth2/jwks").json())).claims
    # dev holds no admin role: the allowed subset is granted and named in the answer.
    assert claims["keytype"] == "SANDBOX" and claims["scope"] == "apim:subscribe" == body["scope"]

    wrong = base64.b64encode(f"{keys['consumerKey']}:nope".encode()).decode()
    resp = anonymous.post(
        "/oauth2/token",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {wrong}",
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


@pytest.mark.parametrize("state", ["BLOCKED", "PROD_ONLY_BLOCKED"])
def test_a_blocked_subscription_cannot_be_deleted_and_resubscribed_unblocked(client, owner, state):
    api = factories.published_api(owner)
    app = client.post(f"{BASE}/applications", {"name": "Blocked", "throttlingPolicy": "Unlimited"}, format="json")
    body = {"applicationId": app.json()["applicationId"], "apiId": str(api.id), "throttlingPolicy": "AsyncGold"}
    sub_id = client.post(f"{BASE}/subscriptions", body, format="json").json()["subscriptionId"]
    publisher = APIClient()
    publisher.force_authenticate(owner)
    blocked = publisher.post(
        f"/api/am/publisher/v4/subscriptions/block-subscription?subscriptionId={sub_id}&blockState={state}"
    )
    assert blocked.status_code == 200, blocked.content

    deleted = client.delete(f"{BASE}/subscriptions/{sub_id}")
    assert deleted.status_code == 409, deleted.content
    assert deleted.json()["code"] == 409 and "unblocks" in deleted.json()["description"]
    again = client.post(f"{BASE}/subscriptions", body, format="json")
    assert again.status_code == 409, again.content
    assert client.get(f"{BASE}/subscriptions/{sub_id}").json()["status"] == state

    # Once the publisher unblocks it, the developer may unsubscribe as before.
    publisher.post(f"/api/am/publisher/v4/subscriptions/unblock-subscription?subscriptionId={sub_id}")
    assert client.delete(f"{BASE}/subscriptions/{sub_id}").status_code == 200


def _block(owner, subscription_id, state):
    publisher = APIClient()
    publisher.force_authenticate(owner)
    resp = publisher.post(
        f"/api/am/publisher/v4/subscriptions/block-subscription?subscriptionId={subscription_id}&blockState={state}"
    )
    assert resp.status_code == 200, resp.content
    return publisher


@pytest.mark.parametrize("state", ["BLOCKED", "PROD_ONLY_BLOCKED"])
def test_an_application_with_a_blocked_subscription_cannot_be_deleted_and_made_again(client, owner, dev, state):
    """Deleting the application and making one of the same name would subscribe again
    unblocked: refused (409, naming the blocked API), and the block stays."""
    api = factories.published_api(owner)
    default = client.get(f"{BASE}/applications").json()["list"][0]
    assert default["name"] == "DefaultApplication"
    body = {"applicationId": default["applicationId"], "apiId": str(api.id), "throttlingPolicy": "AsyncGold"}
    sub_id = client.post(f"{BASE}/subscriptions", body, format="json").json()["subscriptionId"]
    publisher = _block(owner, sub_id, state)

    deleted = client.delete(f"{BASE}/applications/{default['applicationId']}")
    assert deleted.status_code == 409, deleted.content
    description = deleted.json()["description"]
    assert f"Chat 1.0.0 ({state})" in description and "cannot be deleted" in description
    assert client.get(f"{BASE}/subscriptions/{sub_id}").json()["status"] == state
    again = client.post(f"{BASE}/applications", {"name": "DefaultApplication"}, format="json")
    assert again.status_code == 409, again.content

    # Unblocked, it is deleted as before, with its subscriptions.
    publisher.post(f"/api/am/publisher/v4/subscriptions/unblock-subscription?subscriptionId={sub_id}")
    assert client.delete(f"{BASE}/applications/{default['applicationId']}").status_code == 200
    assert not Subscription.objects.filter(pk=sub_id).exists()


@pytest.mark.parametrize("state", ["BLOCKED", "PROD_ONLY_BLOCKED"])
def test_a_block_on_one_version_holds_when_subscribing_to_another(client, owner, state):
    """Published with "Requires re-subscription" ticked, v2 gets no copies; the application
    blocked on v1 that subscribes to v2 is blocked there too (the strictest it holds), and
    the audit log says where that came from. Another application subscribes unblocked."""
    v1 = factories.published_api(owner)
    blocked_app = client.post(f"{BASE}/applications", {"name": "Blocked"}, format="json").json()["applicationId"]
    open_app = client.post(f"{BASE}/applications", {"name": "Open"}, format="json").json()["applicationId"]
    on_v1 = {}
    for app in (blocked_app, open_app):
        body = {"applicationId": app, "apiId": str(v1.id), "throttlingPolicy": "AsyncGold"}
        on_v1[app] = client.post(f"{BASE}/subscriptions", body, format="json").json()["subscriptionId"]
    _block(owner, on_v1[blocked_app], state)
    v2 = factories.api(owner, version="2.0.0")
    publisher_services.api_change_lifecycle(
        api=v2, action="Publish", user=owner, checklist={"Requires re-subscription when publishing the API": True}
    )
    assert not Subscription.objects.filter(api=v2).exists()

    statuses = {}
    for app in (blocked_app, open_app):
        body = {"applicationId": app, "apiId": str(v2.id), "throttlingPolicy": "AsyncGold"}
        resp = client.post(f"{BASE}/subscriptions", body, format="json")
        assert resp.status_code == 201, resp.content
        statuses[app] = (resp.json()["subscriptionId"], resp.json()["status"])
    assert {app: status for app, (_, status) in statuses.items()} == {blocked_app: state, open_app: "UNBLOCKED"}
    audit = AuditEvent.objects.get(action="subscription.create", target_id=statuses[blocked_app][0])
    assert audit.detail["status"] == state and audit.detail["statusFrom"]["subscription"] == on_v1[blocked_app]


def test_a_signed_in_session_cannot_write_without_the_csrf_token(dev):
    """A page on another site that makes the developer's browser post (cross-site request
    forgery) gets 403 from REST and pages alike, and nothing is created."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(dev)
    resp = browser.post(f"{BASE}/applications", {"name": "Forged", "throttlingPolicy": "Unlimited"})
    assert resp.status_code == 403 and "CSRF" in resp.json()["description"]
    resp = browser.post("/devportal/applications", {"name": "Forged", "throttling_policy": "Unlimited"})
    assert resp.status_code == 403
    assert not dev.applications.filter(name="Forged").exists()
    # The same browser with the token from a page of ours may.
    browser.get("/devportal/applications")
    token = browser.cookies["csrftoken"].value
    resp = browser.post(
        f"{BASE}/applications",
        {"name": "Mine", "throttlingPolicy": "Unlimited"},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 201, resp.content


def test_the_application_list_costs_the_same_queries_for_two_applications_or_seven(client, dev, owner):
    """Each application's owner, keys and subscription count are read with the list, not one
    query per application: the page of a developer with many applications stays fast."""
    api = factories.published_api(owner)

    def add_applications(names):
        for name in names:
            app = dp.application_create(owner=dev, name=name)
            keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=dev)
            keys_generate(application=app, key_type="SANDBOX", grant_types=None, user=dev)
            if not name.startswith("Idle"):
                dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)

    add_applications(["A1", "Idle1"])
    client.get(f"{BASE}/applications")  # the DefaultApplication is made on the first visit
    with CaptureQueriesContext(connection) as two:
        assert client.get(f"{BASE}/applications").json()["count"] == 3
    add_applications(["A3", "A4", "A5", "Idle2", "Idle3"])
    with CaptureQueriesContext(connection) as seven:
        listed = client.get(f"{BASE}/applications").json()["list"]
    assert len(seven.captured_queries) == len(two.captured_queries)
    by_name = {a["name"]: a for a in listed}
    assert by_name["A5"]["subscriptionCount"] == 1 and by_name["Idle3"]["subscriptionCount"] == 0
    assert sorted(k["keyType"] for k in by_name["Idle3"]["keys"]) == ["PRODUCTION", "SANDBOX"]
    assert {a["owner"] for a in listed} == {"dev"}

"""Dev Portal pages and the REST calls they stand on: sign-up, catalog search by tag,
application edit and delete, keys, tokens with scopes and revocation, plan changes."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from devportal import services as dp
from devportal.models import Application, Subscription
from keymanager.models import IssuedToken
from publisher import asyncapi
from publisher import services as pub
from tests import factories

pytestmark = pytest.mark.django_db
DEV = "/api/am/devportal/v3"


@pytest.fixture
def owner():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def api(owner):
    api = factories.published_api(owner)
    pub.api_update(
        api=api,
        user=owner,
        changes={
            "tags": ["Chat", "realtime"],
            "scopes": [{"name": "chat_read", "description": "Read", "bindings": []}],
        },
    )
    factories.redeploy(api, owner)  # tokens get the scopes of the deployed revision
    api.refresh_from_db()
    return api


@pytest.fixture
def dev():
    return factories.user("dev")


def _web(user):
    c = Client()
    c.force_login(user)
    return c


def test_sign_up_makes_a_developer_with_a_default_application():
    resp = Client().post(
        "/signup/",
        {"username": "newbie", "password1": "Long-enough-pass-1", "password2": "Long-enough-pass-1"},
        follow=True,
    )
    assert "Welcome, newbie." in resp.content.decode()
    user = get_user_model().objects.get(username="newbie")
    assert Application.objects.filter(owner=user, name="DefaultApplication").exists()
    assert not user.groups.exists() and not user.is_superuser


def test_sign_up_explains_errors_and_creates_nothing():
    resp = Client().post("/signup/", {"username": "x y", "password1": "a", "password2": "b"})
    body = resp.content.decode()
    assert resp.status_code == 200 and "field-error" in body
    assert not get_user_model().objects.filter(username="x y").exists()


def test_sign_up_can_be_switched_off(settings):
    settings.TIDEGATE = {**settings.TIDEGATE, "SIGNUP_ENABLED": False}
    assert Client().get("/signup/").status_code == 404
    assert "Create a developer account" not in Client().get("/login/").content.decode()


def test_catalog_searches_name_context_and_tags(api, dev):
    web = _web(dev)
    assert "Chat" in web.get("/devportal/?q=tag:chat").content.decode()
    assert "No APIs are published" in web.get("/devportal/?q=tag:nope").content.decode()
    assert "Chat" in web.get("/devportal/?q=real").content.decode()  # part of a tag
    rest = APIClient()
    rest.force_authenticate(dev)
    assert rest.get(f"{DEV}/apis?query=tag:realtime").json()["count"] == 1
    assert rest.get(f"{DEV}/apis?query=chat nope").json()["count"] == 0


def test_application_edit_and_delete_over_rest_and_another_users_is_404(dev):
    rest = APIClient()
    rest.force_authenticate(dev)
    app = rest.post(f"{DEV}/applications", {"name": "A"}, format="json").json()
    resp = rest.put(
        f"{DEV}/applications/{app['applicationId']}", {"name": "B", "throttlingPolicy": "10PerMin"}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["name"] == "B" and resp.json()["throttlingPolicy"] == "10PerMin"
    bad = rest.put(f"{DEV}/applications/{app['applicationId']}", {"throttlingPolicy": "Nope"}, format="json")
    assert bad.status_code == 400 and Application.objects.get(pk=app["applicationId"]).throttling_policy == "10PerMin"
    other = APIClient()
    other.force_authenticate(factories.user("eve"))
    assert other.get(f"{DEV}/applications/{app['applicationId']}").status_code == 404
    assert other.put(f"{DEV}/applications/{app['applicationId']}", {"name": "X"}, format="json").status_code == 404
    assert other.delete(f"{DEV}/applications/{app['applicationId']}").status_code == 404
    assert rest.delete(f"{DEV}/applications/{app['applicationId']}").status_code == 200


def test_plan_change_and_deprecated_api_refuses_new_subscriptions(api, owner, dev):
    app = dp.application_create(owner=dev, name="App")
    rest = APIClient()
    rest.force_authenticate(dev)
    sub = rest.post(
        f"{DEV}/subscriptions",
        {"applicationId": str(app.id), "apiId": str(api.id), "throttlingPolicy": "AsyncUnlimited"},
        format="json",
    ).json()
    resp = rest.put(f"{DEV}/subscriptions/{sub['subscriptionId']}", {"throttlingPolicy": "AsyncGold"}, format="json")
    assert resp.status_code == 200 and resp.json()["throttlingPolicy"] == "AsyncGold"
    bad = rest.put(f"{DEV}/subscriptions/{sub['subscriptionId']}", {"throttlingPolicy": "Platinum"}, format="json")
    assert bad.status_code == 400 and "not offered" in bad.json()["description"]

    pub.api_change_lifecycle(api=api, action="Deprecate", user=owner)
    other = dp.application_create(owner=dev, name="Other")
    refused = rest.post(
        f"{DEV}/subscriptions",
        {"applicationId": str(other.id), "apiId": str(api.id), "throttlingPolicy": "AsyncUnlimited"},
        format="json",
    )
    assert refused.status_code == 409 and "DEPRECATED" in refused.json()["description"]
    assert not Subscription.objects.filter(application=other).exists()


def test_application_page_keys_token_with_scope_list_and_revoke(api, dev):
    app = dp.application_create(owner=dev, name="App")
    dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    web = _web(dev)
    page = f"/devportal/applications/{app.id}"
    body = web.post(
        f"{page}/keys/generate", {"key_type": "SANDBOX", "grant_types": ["client_credentials"]}
    ).content.decode()
    assert "Copy the consumer secret now." in body
    assert app.oauth_clients.get().grant_types == ["client_credentials"]
    body = web.post(
        f"{page}/tokens/generate", {"key_type": "SANDBOX", "scopes": ["chat_read"], "validity": "120"}
    ).content.decode()
    assert "scopes <code>chat_read</code>" in body
    issued = IssuedToken.objects.get()
    assert (issued.expires_at - issued.issued_at).total_seconds() == 120
    assert issued.jti[:9] in web.get(page).content.decode()  # listed while active
    web.post(f"{page}/tokens/revoke", {"jti": issued.jti})
    issued.refresh_from_db()
    assert issued.revoked and "No active tokens." in web.get(page).content.decode()
    # Bad validity is explained and issues nothing.
    resp = web.post(f"{page}/tokens/generate", {"key_type": "SANDBOX", "validity": "5"}, follow=True)
    assert "between 60 seconds and a year" in resp.content.decode() and IssuedToken.objects.count() == 1


def test_application_page_plan_change_unsubscribe_and_delete(api, dev):
    app = dp.application_create(owner=dev, name="App")
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    web = _web(dev)
    resp = web.post(f"/devportal/subscriptions/{sub.id}/plan", {"plan": "AsyncGold"}, follow=True)
    assert "is now on AsyncGold" in resp.content.decode()
    sub.refresh_from_db()
    assert sub.throttling_policy == "AsyncGold"
    assert _web(factories.user("eve")).post(f"/devportal/subscriptions/{sub.id}/unsubscribe").status_code == 404
    web.post(f"/devportal/subscriptions/{sub.id}/unsubscribe")
    assert not Subscription.objects.filter(pk=sub.pk).exists()
    resp = web.post(f"/devportal/applications/{app.id}/delete", follow=True)
    assert "Deleted App" in resp.content.decode() and not Application.objects.filter(pk=app.pk).exists()


def test_api_page_has_documentation_snippets_and_console(api, dev):
    web = _web(dev)
    body = web.get(f"/devportal/apis/{api.id}").content.decode()
    assert f'src="/devportal/apis/{api.id}/documentation" sandbox="allow-scripts"' in body
    frame = web.get(f"/devportal/apis/{api.id}/documentation").content.decode()
    assert 'id="asyncapi-definition"' in frame and "vendor/asyncapi/asyncapi-web-component.js" in frame
    assert 'id="console-topics"' in body and 'id="snippet-python"' in body
    assert "https://" not in body.split("<body")[1].replace("https://localhost", "")  # nothing from the internet


def test_the_documentation_shows_the_gateway_not_the_backend(api, dev):
    # The definition keeps the backend's endpoints as its servers; the frame (to visitors
    # too) embedded them, an address that reaches the backend around the gateway's checks.
    backend = asyncapi.server_url(api.definition, "production")
    assert backend
    for web in (_web(dev), Client()):
        frame = web.get(f"/devportal/apis/{api.id}/documentation").content.decode()
        assert backend not in frame
        assert f"{api.context}/{api.version}" in frame  # the gateway's URL of the API


def test_message_example_prefers_the_message_example_then_the_schema():
    doc = asyncapi.parse_and_validate(open("demo/notifications.asyncapi.yaml").read())
    assert asyncapi.message_example(doc, "/rooms/{roomID}") == '{"from": "alice", "text": "Hello, room!"}'
    doc["channels"]["/x"] = {"publish": {"message": {"payload": {"type": "string", "example": "ping"}}}}
    assert asyncapi.message_example(doc, "/x") == "ping"
    assert asyncapi.message_example(doc, "/missing") == ""


def test_application_page_refuses_to_unsubscribe_a_blocked_subscription(api, dev, owner):
    app = dp.application_create(owner=dev, name="App")
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    publisher = _web(owner)
    resp = publisher.post(
        f"/publisher/apis/{api.id}/subscriptions/block", {"subscription": sub.id, "state": "BLOCKED"}, follow=True
    )
    assert "subscription is now BLOCKED" in resp.content.decode()
    web = _web(dev)
    resp = web.post(f"/devportal/subscriptions/{sub.id}/unsubscribe", follow=True)
    assert "cannot be removed until the API&#x27;s publisher unblocks it" in resp.content.decode()
    # Subscribing again from the API page is refused too: the one subscription stays BLOCKED.
    resp = web.post(
        f"/devportal/apis/{api.id}/subscribe",
        {"application": str(app.id), "plan": "AsyncUnlimited"},
        follow=True,
    )
    assert "already subscribed" in resp.content.decode()
    assert list(Subscription.objects.filter(application=app, api=api).values_list("status", flat=True)) == ["BLOCKED"]


def test_api_page_never_renders_a_stored_link_that_is_not_http(api, dev):
    # A definition stored before such links were refused at import.
    definition = {
        **api.definition,
        "externalDocs": {"url": "javascript:alert(document.cookie)"},
        "info": {
            **api.definition["info"],
            "termsOfService": "JAVASCRIPT:alert(1)",
            "contact": {"url": "https://ok.example"},
        },
        "tags": [{"name": "chat", "externalDocs": {"url": "data:text/html,<script>x</script>"}}],
    }
    type(api).objects.filter(pk=api.pk).update(definition=definition)
    body = _web(dev).get(f"/devportal/apis/{api.id}/documentation").content.decode()
    assert 'id="asyncapi-definition"' in body
    lowered = body.lower()
    assert "javascript:" not in lowered and "data:text/html" not in lowered
    assert "https://ok.example" in body  # http(s) links stay


def test_application_page_refuses_to_delete_an_application_with_a_blocked_subscription(api, dev, owner):
    app = dp.application_ensure_default(user=dev)
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    resp = _web(owner).post(
        f"/publisher/apis/{api.id}/subscriptions/block",
        {"subscription": sub.id, "state": "PROD_ONLY_BLOCKED"},
        follow=True,
    )
    assert "subscription is now PROD_ONLY_BLOCKED" in resp.content.decode()
    web = _web(dev)
    resp = web.post(f"/devportal/applications/{app.id}/delete", follow=True)
    body = resp.content.decode()
    assert "DefaultApplication has blocked subscriptions (Chat 1.0.0 (PROD_ONLY_BLOCKED))" in body
    assert "cannot be deleted until the API&#x27;s publisher unblocks them" in body
    assert Subscription.objects.get(pk=sub.pk).status == "PROD_ONLY_BLOCKED"


def test_subscribing_from_the_api_page_to_a_new_version_keeps_the_block(api, dev, owner):
    app = dp.application_create(owner=dev, name="App")
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    dp.subscription_block(subscription=sub, state="BLOCKED", acting_user=owner)
    v2 = factories.api(owner, version="2.0.0")
    pub.api_change_lifecycle(
        api=v2, action="Publish", user=owner, checklist={"Requires re-subscription when publishing the API": True}
    )
    resp = _web(dev).post(
        f"/devportal/apis/{v2.id}/subscribe",
        {"application": str(app.id), "plan": "AsyncUnlimited"},
        follow=True,
    )
    assert "App is subscribed to Chat" in resp.content.decode()
    assert Subscription.objects.get(application=app, api=v2).status == "BLOCKED"


# One view per form (issue 16): the API page's Subscribe and GET TEST KEY and the application
# page's subscription rows post to URLs of their own; the pages answer GET only.


def test_api_page_forms_post_to_their_own_urls_and_the_page_takes_no_post(api, dev):
    app = dp.application_create(owner=dev, name="App")
    web = _web(dev)
    body = web.get(f"/devportal/apis/{api.id}").content.decode()
    assert f'action="/devportal/apis/{api.id}/subscribe#subscribe"' in body
    assert f'action="/devportal/apis/{api.id}/test-key#tryout"' in body
    assert 'name="do"' not in body
    # The page itself no longer subscribes on a POST.
    form = {"do": "subscribe", "application": str(app.id), "plan": "AsyncUnlimited"}
    assert web.post(f"/devportal/apis/{api.id}", form).status_code == 405
    assert not Subscription.objects.filter(application=app).exists()
    for action in ("subscribe", "test-key"):
        assert web.get(f"/devportal/apis/{api.id}/{action}").status_code == 405

    resp = web.post(f"/devportal/apis/{api.id}/subscribe", {"application": str(app.id), "plan": "Nope"})
    assert resp.status_code == 200 and "field-error" in resp.content.decode()  # the form again, explained
    assert not Subscription.objects.filter(application=app).exists()
    resp = web.post(
        f"/devportal/apis/{api.id}/subscribe", {"application": str(app.id), "plan": "AsyncUnlimited"}, follow=True
    )
    assert resp.redirect_chain[-1][0] == f"/devportal/apis/{api.id}"
    assert "App is subscribed to Chat with AsyncUnlimited." in resp.content.decode()


def test_get_test_key_shows_a_token_for_ones_own_application_only(api, dev):
    app = dp.application_create(owner=dev, name="App")
    dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    web = _web(dev)
    resp = web.post(f"/devportal/apis/{api.id}/test-key", {"application": str(app.id), "key_type": "SANDBOX"})
    body = resp.content.decode()
    token = IssuedToken.objects.get()
    assert resp.status_code == 200 and 'id="test-token"' in body
    assert token.client.application_id == app.id and token.client.key_type == "SANDBOX"  # keys made on the spot
    shown = re.search(r'<pre id="test-token">([^<]+)</pre>', body).group(1)
    assert f"Bearer {shown}" in body  # filled into the wscat commands

    eve = _web(factories.user("eve"))
    resp = eve.post(f"/devportal/apis/{api.id}/test-key", {"application": str(app.id), "key_type": "PRODUCTION"})
    assert (
        "Choose one of your applications." in resp.content.decode() and 'id="test-token"' not in resp.content.decode()
    )
    assert IssuedToken.objects.count() == 1 and app.oauth_clients.count() == 1


def test_subscription_row_forms_post_to_their_own_urls(api, dev):
    app = dp.application_create(owner=dev, name="App")
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    web = _web(dev)
    body = web.get(f"/devportal/applications/{app.id}").content.decode()
    assert f'action="/devportal/subscriptions/{sub.id}/plan"' in body
    assert f'action="/devportal/subscriptions/{sub.id}/unsubscribe"' in body
    assert 'name="do"' not in body
    for action in ("plan", "unsubscribe"):
        assert web.get(f"/devportal/subscriptions/{sub.id}/{action}").status_code == 405
    eve = _web(factories.user("eve"))
    assert eve.post(f"/devportal/subscriptions/{sub.id}/plan", {"plan": "AsyncGold"}).status_code == 404
    assert Subscription.objects.get(pk=sub.pk).throttling_policy == "AsyncUnlimited"
    # The old dispatcher's URL is gone.
    assert web.post(f"/devportal/subscriptions/{sub.id}", {"do": "unsubscribe"}).status_code == 404
    assert Subscription.objects.filter(pk=sub.pk).exists()

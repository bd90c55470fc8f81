"""An API's content is its provider's (issue 14 follow-up, F1): only the provider or an
admin changes its fields, topics, scopes, endpoints or definition, or deletes it; any other
creator or publisher gets 403 naming the provider and nothing changes. Publishers still run
every API's revisions, deployments, lifecycle and subscriptions."""

import base64

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from devportal import services as dp
from keymanager.services import keys_generate
from portal.models import AuditEvent
from publisher import services
from publisher.dto import api_dto
from publisher.models import Api
from tests import factories
from testsupport import documents

pytestmark = pytest.mark.django_db
BASE = "/api/am/publisher/v4"
DEV_PASSWORD = "dev-Password-1"
REFUSED = "This API belongs to alice; only its provider or an admin may change it"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the token endpoint counts failed client authentications
    yield
    cache.clear()


@pytest.fixture
def alice():
    return factories.user("alice", roles=["creator", "publisher"])


@pytest.fixture
def secret(alice):
    """Alice's /secret: published and deployed, its scope ops_admin bound to the admin role."""
    api = factories.published_api(alice, context="/secret")
    scope = {"name": "ops_admin", "description": "Operate", "bindings": ["admin"]}
    services.api_update(api=api, user=alice, changes={"scopes": [scope], "operations": _ops("ops_admin")})
    factories.redeploy(api, alice)
    return Api.objects.get(pk=api.pk)


def _ops(scope):
    return [{"target": "/*", "verb": verb, "scopes": [scope], "authType": "Any"} for verb in ("PUBLISH", "SUBSCRIBE")]


def _rest(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def _web(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _working_copy(api) -> dict:
    api = Api.objects.get(pk=api.pk)
    return {**api_dto(api), "definition": api.definition}


def _granted(dev, api, scope) -> str | None:
    """The scope /oauth2/token grants a developer's application subscribed to ``api``, or None."""
    app = dp.application_create(owner=dev, name="Ops")
    dp.subscription_create(application=app, api=api, throttling_policy="AsyncUnlimited", user=dev)
    client, key_secret = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=dev)
    auth = "Basic " + base64.b64encode(f"{client.client_id}:{key_secret}".encode()).decode()
    resp = Client().post("/oauth2/token", {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=auth)
    if resp.status_code == 400 and resp.json()["error"] == "invalid_scope":
        return None
    assert resp.status_code == 200, resp.content
    return resp.json()["scope"] or None


def _refused(resp):
    assert resp.status_code == 403, resp.content
    body = resp.json()
    assert body["code"] == 403 and body["description"] == REFUSED, body


def test_another_publisher_cannot_unbind_the_providers_scope_and_no_developer_gets_it(alice, secret):
    bob = factories.user("bob", roles=["creator", "publisher"])
    before = _working_copy(secret)
    audits = AuditEvent.objects.count()

    resp = _rest(bob).put(
        f"{BASE}/apis/{secret.id}", {"scopes": [{"scope": {"name": "ops_admin", "bindings": []}}]}, format="json"
    )
    _refused(resp)
    assert _working_copy(secret) == before
    assert AuditEvent.objects.count() == audits

    # Bob still runs revisions and deployments of Alice's API: they hold Alice's content.
    rev = _rest(bob).post(f"{BASE}/apis/{secret.id}/revisions", {"description": "bob's"}, format="json")
    assert rev.status_code == 201, rev.content
    deployed = _rest(bob).post(
        f"{BASE}/apis/{secret.id}/deploy-revision?revisionId={rev.json()['id']}", [{"name": "Default"}], format="json"
    )
    assert deployed.status_code == 201, deployed.content

    dev = factories.user("dev", password=DEV_PASSWORD)
    assert _granted(dev, secret, "ops_admin") is None


def test_a_creator_cannot_move_another_providers_endpoint_replace_its_definition_or_delete_it(alice, secret):
    carol = _rest(factories.user("carol", roles=["creator"]))
    draft = factories.api(alice, context="/draft")
    before, draft_before = _working_copy(secret), _working_copy(draft)
    audits = AuditEvent.objects.count()

    _refused(
        carol.put(
            f"{BASE}/apis/{secret.id}",
            {"endpointConfig": {"production_endpoints": {"url": "ws://attacker.example/"}}},
            format="json",
        )
    )
    _refused(
        carol.put(
            f"{BASE}/apis/{secret.id}/asyncapi",
            {"inlineAPIDefinition": documents.CHAT_ASYNCAPI},
            format="json",
        )
    )
    _refused(carol.delete(f"{BASE}/apis/{draft.id}"))

    assert _working_copy(secret) == before and _working_copy(draft) == draft_before
    assert AuditEvent.objects.count() == audits
    # Reading stays open to every creator and publisher.
    assert carol.get(f"{BASE}/apis/{secret.id}").status_code == 200
    assert carol.get(f"{BASE}/apis/{secret.id}/asyncapi").status_code == 200

    # The provider and admins (the admin role, or a superuser) still change and delete it.
    moved = {"endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:2/v9"}}}
    resp = _rest(alice).put(f"{BASE}/apis/{secret.id}", moved, format="json")
    assert resp.status_code == 200, resp.content
    root = _rest(factories.user("root", superuser=True))
    resp = root.put(
        f"{BASE}/apis/{secret.id}/asyncapi", {"inlineAPIDefinition": documents.CHAT_ASYNCAPI}, format="json"
    )
    assert resp.status_code == 200, resp.content
    ops = _rest(factories.user("ops", roles=["creator", "admin"]))
    assert ops.delete(f"{BASE}/apis/{draft.id}").status_code == 200
    assert not Api.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize(
    "tab, action, form",
    [
        ("topics", "save", {"target": "/grab", "publish": "on", "secured": "on"}),
        ("topics", "save", {"original": "/*", "target": "/*", "publish": "on", "subscribe": "on"}),
        ("scopes", "save", {"original": "ops_admin", "name": "ops_admin", "bindings": ""}),
        ("scopes", "delete", {"original": "ops_admin"}),
        ("endpoints", "save", {"production": "ws://attacker.example/", "sandbox": ""}),
        ("plans", "save", {"policies": ["AsyncUnlimited"], "description": "bob's"}),
        ("definition", "save", {"definition": documents.CHAT_ASYNCAPI}),
    ],
)
def test_design_pages_offer_another_creator_no_edits_and_refuse_them_with_the_reason(alice, secret, tab, action, form):
    web = _web(factories.user("bob", roles=["creator", "publisher"]))
    page = web.get(f"/publisher/apis/{secret.id}/{tab}").content.decode()
    assert REFUSED in page
    for control in ("Add a topic", "Add scope", "Save endpoints", "Save plans and security", "Save definition"):
        assert control not in page, control
    before = _working_copy(secret)
    audits = AuditEvent.objects.count()

    resp = web.post(
        f"/publisher/apis/{secret.id}/{tab}/{action}", {**form, "etag": services.api_etag(secret)}, follow=True
    )
    assert resp.status_code == 200
    assert f'role="alert">{REFUSED}</p>' in resp.content.decode()
    assert _working_copy(secret) == before
    assert AuditEvent.objects.count() == audits
    # Alice's own page offers the controls.
    mine = _web(alice).get(f"/publisher/apis/{secret.id}/{tab}").content.decode()
    assert REFUSED not in mine


def test_another_creator_cannot_make_restore_or_delete_the_providers_revisions(alice, secret):
    """The review: a creator who is neither the provider nor a publisher restored a revision
    of another provider's API, rewriting its endpoints, definition and name."""
    carol = _rest(factories.user("carol", roles=["creator"]))
    revisions = _rest(alice).get(f"{BASE}/apis/{secret.id}/revisions").json()["list"]
    spare = _rest(alice).post(f"{BASE}/apis/{secret.id}/revisions", {"description": "spare"}, format="json").json()
    before, audits = _working_copy(secret), AuditEvent.objects.count()

    for resp in (
        carol.post(f"{BASE}/apis/{secret.id}/restore-revision?revisionId={revisions[0]['id']}"),
        carol.post(f"{BASE}/apis/{secret.id}/revisions", {"description": "mine"}, format="json"),
        carol.delete(f"{BASE}/apis/{secret.id}/revisions/{spare['id']}"),
    ):
        assert resp.status_code == 403, resp.content
        assert "only its provider, an admin or a publisher" in resp.json()["description"]

    secret.refresh_from_db()
    assert _working_copy(secret) == before and AuditEvent.objects.count() == audits
    assert len(_rest(alice).get(f"{BASE}/apis/{secret.id}/revisions").json()["list"]) == len(revisions) + 1
    # A publisher who is not the provider still runs them (docs/security.md).
    paul = _rest(factories.user("paul", roles=["publisher"]))
    assert paul.post(f"{BASE}/apis/{secret.id}/restore-revision?revisionId={revisions[0]['id']}").status_code == 201

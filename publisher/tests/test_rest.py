"""Publisher REST: each endpoint's success and its refusals (status, body, nothing changed)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from portal.models import AuditEvent
from publisher.models import Api, Deployment, LifecycleEvent
from tests import factories
from testsupport import documents

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db


def _create_body(**over):
    body = {
        "name": "Chat",
        "context": "/chat",
        "version": "1.0.0",
        "type": "WS",
        "policies": ["AsyncUnlimited"],
        "endpointConfig": {"endpoint_type": "ws", "production_endpoints": {"url": "ws://backend:8080/v2"}},
    }
    body.update(over)
    return body


def test_create_from_form_gives_the_default_topic(client):
    resp = client.post(f"{BASE}/apis", _create_body(), format="json")
    assert resp.status_code == 201
    data = resp.json()
    assert data["lifeCycleStatus"] == "CREATED"
    assert [(o["target"], o["verb"]) for o in data["operations"]] == [("/*", "PUBLISH"), ("/*", "SUBSCRIBE")]
    assert data["endpointConfig"]["production_endpoints"]["url"] == "ws://backend:8080/v2"
    assert AuditEvent.objects.filter(action="api.create").count() == 1


def test_a_new_api_starts_as_asyncapi_3_0_as_in_wso2_4_7(client):
    """A new API's definition is AsyncAPI 3.0.0: the catch-all channel ``/*`` with a receive
    (PUBLISH) and a send (SUBSCRIBE) operation, its servers the API's endpoint."""
    created = client.post(f"{BASE}/apis", _create_body(), format="json").json()
    doc = client.get(f"{BASE}/apis/{created['id']}/asyncapi").json()
    assert doc["asyncapi"] == "3.0.0"
    (channel,) = doc["channels"].values()
    assert channel["address"] == "/*"
    assert sorted(op["action"] for op in doc["operations"].values()) == ["receive", "send"]
    assert doc["servers"]["production"] == {"host": "backend:8080", "protocol": "ws", "pathname": "/v2"}


def test_duplicate_context_and_version_is_409_and_creates_nothing(client):
    assert client.post(f"{BASE}/apis", _create_body(), format="json").status_code == 201
    resp = client.post(f"{BASE}/apis", _create_body(name="Other"), format="json")
    assert resp.status_code == 409
    assert resp.json()["code"] == 409 and "already exists" in resp.json()["description"]
    assert Api.objects.count() == 1


@pytest.mark.parametrize("url", ["http://backend:8080", "backend:8080", "ws://", "ftp://x"])
def test_endpoint_that_is_not_ws_is_400(client, url):
    body = _create_body(endpointConfig={"production_endpoints": {"url": url}})
    resp = client.post(f"{BASE}/apis", body, format="json")
    assert resp.status_code == 400
    assert "ws://" in resp.json()["description"]
    assert Api.objects.count() == 0


def test_import_asyncapi_file_creates_topics_from_channels(client):
    upload = SimpleUploadedFile("chat.yaml", documents.CHAT_ASYNCAPI.encode(), content_type="application/yaml")
    props = json.dumps({"context": "/chats", "policies": ["AsyncGold"]})
    resp = client.post(
        f"{BASE}/apis/import-asyncapi", {"file": upload, "additionalProperties": props}, format="multipart"
    )
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert (data["name"], data["version"], data["context"]) == ("Chat", "1.0.0", "/chats")
    targets = {(o["target"], o["verb"], o["uriMapping"]) for o in data["operations"]}
    assert ("/rooms/{roomID}", "PUBLISH", "/rooms?room={uri.var.roomID}") in targets
    assert data["scopes"][0]["scope"]["name"] == "chat_admin"
    assert data["scopes"][0]["scope"]["bindings"] == ["admin"]


def test_invalid_asyncapi_is_400_with_pointers_and_lines_and_creates_nothing(client):
    broken = documents.CHAT_ASYNCAPI.replace("scopes: {chat_admin: Administer chats}", "scopes: {}")
    upload = SimpleUploadedFile("chat.yaml", broken.encode())
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"file": upload, "additionalProperties": '{"context": "/c"}'},
        format="multipart",
    )
    assert resp.status_code == 400
    # The scope's binding now binds nothing declared: reported after the topic's error.
    error, binding = resp.json()["error"]
    assert error["pointer"] == "/channels/~1admin/publish/x-scopes" and error["line"] == 14
    assert binding["pointer"].endswith("/x-scopes-bindings/chat_admin")
    assert Api.objects.count() == 0


def test_validate_asyncapi_reports_without_creating(client):
    upload = SimpleUploadedFile("x.yaml", b"asyncapi: 2.0.0\ninfo: {title: x}\nchannels: {}\n")
    resp = client.post(f"{BASE}/apis/validate-asyncapi", {"file": upload}, format="multipart")
    assert resp.status_code == 200
    assert resp.json()["isValid"] is False and resp.json()["errors"][0]["pointer"] == "/info"
    assert Api.objects.count() == 0


def test_revision_deploy_publish_flow(client, publisher):
    api = factories.api(publisher)
    rev = client.post(f"{BASE}/apis/{api.id}/revisions", {"description": "first"}, format="json")
    assert rev.status_code == 201 and rev.json()["displayName"] == "REVISION 1"
    dep = client.post(
        f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev.json()['id']}",
        [{"name": "Default", "vhost": "localhost", "displayOnDevportal": True}],
        format="json",
    )
    assert dep.status_code == 201 and dep.json()[0]["name"] == "Default"
    life = client.post(f"{BASE}/apis/change-lifecycle?apiId={api.id}&action=Publish")
    assert life.status_code == 200 and life.json()["lifecycleState"]["state"] == "PUBLISHED"
    history = client.get(f"{BASE}/apis/{api.id}/lifecycle-history").json()["list"]
    assert history == [
        {
            "previousState": "CREATED",
            "postState": "PUBLISHED",
            "user": "pub",
            "updatedTime": history[0]["updatedTime"],
            "action": "Publish",
        }
    ]
    assert client.get(f"{BASE}/apis/{api.id}/deployments").json()["list"][0]["revisionUuid"] == rev.json()["id"]


@pytest.mark.parametrize(
    "vhost",
    [
        "evil.example; script-src-elem * 'unsafe-inline'; x",
        "gw.example/path",
        "gw.example:9999",
        "two words",
        42,
        "gw.example\n",
    ],
)
def test_a_deployment_vhost_that_is_not_a_host_name_is_400_and_deploys_nothing(client, publisher, vhost):
    """The vhost goes into gateway URLs, wscat commands and the Dev Portal's CSP header: a host
    name only, as for an environment. A bad one in a list refuses the whole list."""
    api = factories.api(publisher)
    rev = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").json()
    audits = AuditEvent.objects.count()
    resp = client.post(
        f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}",
        [{"name": "Default", "vhost": "gw.example.com"}, {"name": "Default", "vhost": vhost}],
        format="json",
    )
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert body["code"] == 400 and body["error"] == [{"field": "vhost", "message": "not a host name"}]
    assert "vhost must be a host name" in body["description"]
    assert not Deployment.objects.exists() and AuditEvent.objects.count() == audits
    ok = client.post(
        f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}",
        [{"name": "Default", "vhost": "gw-1.example.com"}],
        format="json",
    )
    assert ok.status_code == 201 and ok.json()[0]["vhost"] == "gw-1.example.com"


def test_sixth_revision_is_refused(client, publisher):
    api = factories.api(publisher)
    for _ in range(5):
        assert client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").status_code == 201
    resp = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json")
    assert resp.status_code == 409 and "at most 5" in resp.json()["description"]


def test_lifecycle_action_not_allowed_is_409_listing_allowed_ones(client, publisher):
    api = factories.api(publisher)
    resp = client.post(f"{BASE}/apis/change-lifecycle?apiId={api.id}&action=Retire")
    assert resp.status_code == 409
    assert "allowed: Publish, Deploy as a Prototype" in resp.json()["description"]
    assert LifecycleEvent.objects.count() == 0


def test_deploy_to_unknown_environment_is_400_and_deploys_nothing(client, publisher):
    api = factories.api(publisher)
    rev = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").json()
    resp = client.post(
        f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev['id']}", [{"name": "Nowhere"}], format="json"
    )
    assert resp.status_code == 400
    assert Deployment.objects.count() == 0


def test_unknown_api_is_404_json(client):
    resp = client.get(f"{BASE}/apis/not-a-uuid")
    assert resp.status_code == 404 and resp.json()["code"] == 404


def test_anonymous_is_401_and_developer_without_role_is_403():
    someone = factories.user("someone")
    anonymous = APIClient()
    resp = anonymous.get(f"{BASE}/apis")
    assert resp.status_code == 401 and resp.json()["code"] == 401
    dev = APIClient()
    dev.force_login(someone)  # a session; every password check goes through the lockout (axes)
    assert dev.get(f"{BASE}/apis").status_code == 403


def test_http_basic_works_for_scripts(publisher):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION="Basic cHViOnB3LVNlY3JldC0xMjM=")  # pub:pw-Secret-123
    assert c.get(f"{BASE}/apis").status_code == 200


def test_creator_cannot_deploy_or_publish(publisher):
    """Even their own API: a creator makes revisions, a publisher deploys and publishes them."""
    creator = factories.user("maker", roles=["creator"])
    api = factories.api(creator)
    c = APIClient()
    c.force_authenticate(creator)
    rev = c.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json")
    assert rev.status_code == 201
    assert (
        c.post(
            f"{BASE}/apis/{api.id}/deploy-revision?revisionId={rev.json()['id']}", [{"name": "Default"}], format="json"
        ).status_code
        == 403
    )
    assert c.post(f"{BASE}/apis/change-lifecycle?apiId={api.id}&action=Publish").status_code == 403


def test_a_plan_reads_the_same_in_the_publisher_the_devportal_and_the_admin_api():
    """A subscription plan made in the Admin API is offered with the same limits by the
    Publisher (to attach to an API) and the Dev Portal (to subscribe with)."""
    admin = APIClient()
    admin.force_authenticate(factories.user("root", roles=["admin"]))
    made = admin.post(
        "/api/am/admin/v4/throttling/policies/subscription",
        {
            "policyName": "Silver",
            "displayName": "Silver plan",
            "description": "for the test",
            "defaultLimit": {
                "type": "EVENTCOUNTLIMIT",
                "eventCount": {"timeUnit": "min", "unitTime": 2, "eventCount": 700},
            },
            "stopOnQuotaReach": False,
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    limit = made.json()["defaultLimit"]["eventCount"]
    everyone = APIClient()
    everyone.force_authenticate(factories.user("both", roles=["creator", "publisher"]))
    published = everyone.get(f"{BASE}/throttling-policies/streaming/subscription").json()["list"]
    offered = everyone.get("/api/am/devportal/v3/throttling-policies/subscription").json()["list"]
    plan = {
        "name": "Silver",
        "displayName": "Silver plan",
        "description": "for the test",
        "requestCount": limit["eventCount"],
        "timeUnit": limit["timeUnit"],
        "unitTime": limit["unitTime"],
        "stopOnQuotaReach": False,
        "requiresApproval": False,
    }
    assert next(p for p in published if p["name"] == "Silver") == {**plan, "tierPlan": "FREE"}
    assert next(p for p in offered if p["name"] == "Silver") == {**plan, "policyLevel": "subscription"}

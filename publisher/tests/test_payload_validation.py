"""The Publisher's side of payload validation: the ``payloadValidation`` field over REST and the
Plans & security tab (validated, audit-recorded), frozen into revisions, refused at revision
time when a schema does not compile, restored with a revision, carried to gateways in the
snapshot; and the Dev Portal's line saying when it applies."""

import json

import pytest
from django.test import Client

from gateway_contract.snapshot import snapshot_from_dict, snapshot_to_dict
from portal.models import AuditEvent
from publisher import services
from publisher.models import Api, ApiRevision
from tests import factories
from testsupport import documents
from tidegate.snapshot.builder import snapshot_build

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db
DEFAULT = {"mode": "off", "onClientFailure": "error", "onBackendFailure": "drop"}


def _import(client, document: str, context: str = "/orders") -> Api:
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"inlineAPIDefinition": document, "additionalProperties": json.dumps({"context": context})},
    )
    assert resp.status_code == 201, resp.content
    return Api.objects.get(pk=resp.json()["id"])


@pytest.fixture
def orders(client):
    return _import(client, documents.orders_doc("ws://127.0.0.1:1", "2.x"))


def _put(client, api, body):
    return client.put(f"{BASE}/apis/{api.id}", body, format="json")


def test_off_by_default_and_set_over_rest_field_by_field(client, orders):
    assert client.get(f"{BASE}/apis/{orders.id}").json()["payloadValidation"] == DEFAULT
    resp = _put(client, orders, {"payloadValidation": {"mode": "both", "onBackendFailure": "close"}})
    assert resp.status_code == 200, resp.content
    assert resp.json()["payloadValidation"] == {"mode": "both", "onClientFailure": "error", "onBackendFailure": "close"}
    resp = _put(client, orders, {"payloadValidation": {"onClientFailure": "close"}})
    assert resp.json()["payloadValidation"] == {"mode": "both", "onClientFailure": "close", "onBackendFailure": "close"}
    event = AuditEvent.objects.filter(action="api.update").latest("id")
    assert event.detail["changed"] == ["payloadValidation"]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"mode": "sometimes"}, "payloadValidation.mode"),
        ({"mode": "client", "onClientFailure": "ignore"}, "payloadValidation.onClientFailure"),
        ({"onBackendFailure": 1011}, "payloadValidation.onBackendFailure"),
        ({"mode": "client", "strict": True}, "payloadValidation.strict"),
        ("client", "payloadValidation"),
    ],
)
def test_a_bad_setting_is_refused_and_changes_nothing(client, orders, value, field):
    audits = AuditEvent.objects.count()
    resp = _put(client, orders, {"payloadValidation": value, "description": "changed"})
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert body["code"] == 400 and field in [d["field"] for d in body["error"]]
    orders.refresh_from_db()
    assert orders.payload_validation == "off" and orders.description == ""
    assert AuditEvent.objects.count() == audits


def test_the_setting_is_frozen_into_the_revision_and_restored_with_it(client, orders):
    _put(client, orders, {"payloadValidation": {"mode": "client", "onClientFailure": "close"}})
    rev = client.post(f"{BASE}/apis/{orders.id}/revisions", {"description": "v"}, format="json").json()
    _put(client, orders, {"payloadValidation": {"mode": "off"}})
    frozen = ApiRevision.objects.get(pk=rev["id"]).frozen
    assert frozen["payloadValidation"]["mode"] == "client"
    resp = client.post(f"{BASE}/apis/{orders.id}/restore-revision?revisionId={rev['id']}")
    assert resp.status_code == 201, resp.content
    assert client.get(f"{BASE}/apis/{orders.id}").json()["payloadValidation"] == {
        "mode": "client",
        "onClientFailure": "close",
        "onBackendFailure": "drop",
    }


BAD_PATTERN = "symbol: {type: string}\n        qty: {type: integer, minimum: 1}"


@pytest.mark.parametrize(
    ("replacement", "pointer", "words"),
    [
        (
            "symbol: {type: string, pattern: '(unclosed'}\n        qty: {type: integer, minimum: 1}",
            "/components/schemas/Order/properties/symbol/pattern",
            "not a regular expression",
        ),
        (
            "symbol: {$ref: 'https://schemas.example.com/symbol.json'}\n        qty: {type: integer, minimum: 1}",
            "/components/schemas/Order/properties/symbol/$ref",
            "only local references",
        ),
        (
            "symbol: {$ref: '#/components/schemas/Missing'}\n        qty: {type: integer, minimum: 1}",
            "/components/schemas/Order/properties/symbol/$ref",
            "does not resolve",
        ),
    ],
)
def test_a_schema_the_gateway_cannot_compile_refuses_the_revision(client, replacement, pointer, words):
    """Refused with 400 naming where in the document, nothing created; with validation off the
    same definition makes a revision (its schemas are not used)."""
    doc = documents.orders_doc("ws://127.0.0.1:1", "2.x").replace(BAD_PATTERN, replacement, 1)
    api = _import(client, doc)
    assert client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").status_code == 201
    _put(client, api, {"payloadValidation": {"mode": "client"}})
    resp = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json")
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert words in body["description"] and pointer in body["description"]
    assert [d["pointer"] for d in body["error"]] == [pointer]
    assert api.revisions.count() == 1


def test_a_backend_schema_is_checked_only_when_both_directions_are_validated(client):
    doc = documents.orders_doc("ws://127.0.0.1:1", "3.0").replace(
        "fill: {payload: {type: object, required: [symbol, price], properties: {price: {type: number}}}}",
        "fill: {payload: {$ref: 'fills.yaml#/Fill'}}",
        1,
    )
    assert "fills.yaml" in doc
    api = _import(client, doc)
    _put(client, api, {"payloadValidation": {"mode": "client"}})
    assert client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json").status_code == 201
    _put(client, api, {"payloadValidation": {"mode": "both"}})
    resp = client.post(f"{BASE}/apis/{api.id}/revisions", {}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"][0]["pointer"] == "/components/messages/fill/payload/$ref"


def test_the_snapshot_carries_the_deployed_revisions_setting_and_schemas(client, publisher, orders):
    _put(client, orders, {"payloadValidation": {"mode": "client", "onClientFailure": "close"}})
    factories.redeploy(orders, publisher)
    _put(client, orders, {"payloadValidation": {"mode": "both"}})  # not deployed: not seen
    snapshot = snapshot_from_dict(snapshot_to_dict(snapshot_build(environments=["Default"], version=1)))
    (api,) = [a for a in snapshot.apis if a.id == str(orders.id)]
    assert (api.payload_validation, api.payload_client_failure, api.payload_backend_failure) == (
        "client",
        "close",
        "drop",
    )
    topics = {t.name: t for t in api.topics}
    assert topics["/orders"].publish_schema["$defs"]["Order"]["required"] == ["symbol", "qty"]
    assert topics["/orders"].subscribe_schema is None  # client messages only
    assert topics["/notes"].publish_schema is None  # text/plain


def test_plans_and_security_tab_sets_it(publisher, orders):
    web = Client()
    web.force_login(publisher)
    page = web.get(f"/publisher/apis/{orders.id}/plans")
    assert 'name="payload_validation"' in page.content.decode()
    etag = services.api_etag(orders)
    form = {
        "etag": etag,
        "policies": orders.policies,
        "secured": "on",
        "authorization_header": "Authorization",
        "payload_validation": "both",
        "payload_client_failure": "close",
        "payload_backend_failure": "close",
    }
    resp = web.post(f"/publisher/apis/{orders.id}/plans/save", form)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    orders.refresh_from_db()
    assert (orders.payload_validation, orders.payload_client_failure, orders.payload_backend_failure) == (
        "both",
        "close",
        "close",
    )
    page = web.get(f"/publisher/apis/{orders.id}/plans").content.decode()
    assert '<option value="both" selected>' in page
    form["etag"] = services.api_etag(orders)
    resp = web.post(f"/publisher/apis/{orders.id}/plans/save", {**form, "payload_validation": "maybe"})
    assert resp.status_code == 200 and "one of off, client, both" in resp.content.decode()
    orders.refresh_from_db()
    assert orders.payload_validation == "both"


def test_the_dev_portal_says_when_validation_applies(client, publisher, orders):
    _put(client, orders, {"payloadValidation": {"mode": "client", "onClientFailure": "close"}})
    factories.redeploy(orders, publisher)
    services.api_change_lifecycle(api=orders, action="Publish", user=publisher)
    web = Client()
    web.force_login(factories.user("devuser"))
    page = web.get(f"/devportal/apis/{orders.id}").content.decode()
    assert 'id="payload-validation"' in page
    assert "the JSON messages you send" in page and "connection closed (1007)" in page
    _put(client, orders, {"payloadValidation": {"mode": "off"}})  # the working copy: not deployed
    assert "the JSON messages you send" in web.get(f"/devportal/apis/{orders.id}").content.decode()
    factories.redeploy(orders, publisher)
    assert 'id="payload-validation"' not in web.get(f"/devportal/apis/{orders.id}").content.decode()

"""Issue 16: every "create, or 409 when it exists" goes through one helper
(portal.errors.create_or_conflict). Over REST, the second of two equal creates is 409 with
the JSON error body naming what exists, and adds nothing: no object, no audit record."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from devportal.models import Application, Subscription
from keymanager.models import ExternalIssuer
from portal.models import AuditEvent
from publisher.models import Api, Environment, ThrottlingPolicy
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Root-123"
LIMIT = {"type": "EVENTCOUNTLIMIT", "eventCount": {"timeUnit": "min", "unitTime": 1, "eventCount": 10}}


@pytest.fixture
def root():
    factories.user("root", superuser=True, password=PASSWORD)
    auth = "Basic " + base64.b64encode(f"root:{PASSWORD}".encode()).decode()
    return Client(HTTP_AUTHORIZATION=auth)


def _twice(client, path, body, model, description):
    first = client.post(path, body, content_type="application/json")
    assert first.status_code == 201, first.content
    objects, audits = model.objects.count(), AuditEvent.objects.count()
    second = client.post(path, body, content_type="application/json")
    assert second.status_code == 409, second.content
    assert second.json() == {"code": 409, "message": "Conflict", "description": description}
    assert (model.objects.count(), AuditEvent.objects.count()) == (objects, audits)
    return first.json()


def test_each_create_twice_is_a_409_naming_what_exists_and_adds_nothing(root):
    adm, pub, dev = "/api/am/admin/v4", "/api/am/publisher/v4", "/api/am/devportal/v3"
    _twice(root, f"{adm}/environments", {"name": "Edge"}, Environment, "An environment named 'Edge' already exists")
    _twice(
        root,
        f"{adm}/throttling/policies/subscription",
        {"policyName": "Twice", "defaultLimit": LIMIT},
        ThrottlingPolicy,
        "A subscription policy named 'Twice' already exists",
    )
    _twice(
        root,
        f"{adm}/key-managers",
        {
            "name": "idp",
            "issuer": "https://idp.example",
            "certificates": {"type": "JWKS", "value": "https://idp.example/jwks"},
        },
        ExternalIssuer,
        "A key manager with this name or issuer already exists",
    )
    api = _twice(
        root,
        f"{pub}/apis",
        {
            "name": "Twice",
            "context": "/twice",
            "version": "1.0.0",
            "endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:1/twice"}},
            "policies": ["AsyncUnlimited"],
        },
        Api,
        "An API with context /twice and version 1.0.0 already exists",
    )
    app = _twice(
        root, f"{dev}/applications", {"name": "Twice"}, Application, "You already have an application named 'Twice'"
    )
    root.post(f"{pub}/apis/{api['id']}/revisions", {}, content_type="application/json")
    revision = root.get(f"{pub}/apis/{api['id']}/revisions").json()["list"][0]["id"]
    deployed = root.post(
        f"{pub}/apis/{api['id']}/deploy-revision?revisionId={revision}",
        [{"name": "Default"}],
        content_type="application/json",
    )
    assert deployed.status_code == 201, deployed.content
    published = root.post(f"{pub}/apis/change-lifecycle?apiId={api['id']}&action=Publish")
    assert published.status_code == 200, published.content
    _twice(
        root,
        f"{dev}/subscriptions",
        {"applicationId": app["applicationId"], "apiId": api["id"], "throttlingPolicy": "AsyncUnlimited"},
        Subscription,
        "Application Twice is already subscribed to Twice",
    )

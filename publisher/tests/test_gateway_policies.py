"""An API's gateway policies read live (issue 18): the Origin allow-list and the backend JWT,
through the Publisher REST API and the Plans & security tab, and what the snapshot gives
gateways. Gateways enforcing them are tested end to end in tests/test_origin_and_backend_jwt.py."""

import pytest
from django.test import Client

from gateway_sync.services import config_version
from portal.models import AuditEvent
from publisher import services
from publisher.models import Api
from tests import factories
from tidegate.snapshot.builder import snapshot_build

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db


@pytest.fixture
def api(publisher):
    return factories.published_api(publisher)


def _put(client, api, body):
    return client.put(f"{BASE}/apis/{api.id}", body, format="json")


def _policies(api):
    a = Api.objects.get(pk=api.pk)
    return (a.allowed_origins, a.origin_required, a.backend_jwt_enabled, a.backend_jwt_header)


def test_off_by_default(client, api):
    data = client.get(f"{BASE}/apis/{api.id}").json()
    assert data["originConfiguration"] == {"allowedOrigins": [], "browsersOnly": False}
    assert data["backendJWTConfiguration"] == {"enabled": False, "header": "X-JWT-Assertion"}
    (snap_api,) = snapshot_build(environments=["Default"], version=1).apis
    assert (snap_api.allowed_origins, snap_api.origin_required, snap_api.backend_jwt_header) == ((), False, "")


def test_put_sets_both_normalised_audited_and_read_live_without_a_revision(
    client, api, publisher, django_capture_on_commit_callbacks
):
    revisions = list(api.revisions.values_list("id", "frozen"))
    before = config_version()
    with django_capture_on_commit_callbacks(execute=True):
        resp = _put(
            client,
            api,
            {
                "originConfiguration": {
                    "allowedOrigins": ["https://App.Example.com:443", "https://*.example.org", "http://localhost:3000"],
                    "browsersOnly": True,
                },
                "backendJWTConfiguration": {"enabled": True, "header": "X-End-User"},
            },
        )
    assert resp.status_code == 200, resp.json()
    assert resp.json()["originConfiguration"] == {
        "allowedOrigins": ["https://app.example.com", "https://*.example.org", "http://localhost:3000"],
        "browsersOnly": True,
    }
    assert resp.json()["backendJWTConfiguration"] == {"enabled": True, "header": "X-End-User"}
    event = AuditEvent.objects.filter(action="api.update").latest("id")
    assert event.detail["changed"] == ["backendJWTConfiguration", "originConfiguration"]
    # Gateways are told at once, and read it from the API: no revision made or changed.
    assert config_version() == before + 1
    assert list(api.revisions.values_list("id", "frozen")) == revisions
    (snap_api,) = snapshot_build(environments=["Default"], version=2).apis
    assert snap_api.allowed_origins == ("https://app.example.com", "https://*.example.org", "http://localhost:3000")
    assert snap_api.origin_required is True
    assert snap_api.backend_jwt_header == "X-End-User"
    # Other edits of the working copy reach gateways through revisions, as before, and a
    # revision made now does not freeze the live settings.
    with django_capture_on_commit_callbacks(execute=True):
        assert _put(client, api, {"description": "words"}).status_code == 200
    assert config_version() == before + 1
    rev = services.api_revision_create(api=Api.objects.get(pk=api.pk), created_by=publisher)
    assert "originConfiguration" not in rev.frozen and "backendJWTConfiguration" not in rev.frozen


def test_a_field_left_out_keeps_its_value(client, api):
    _put(client, api, {"originConfiguration": {"allowedOrigins": ["https://a.example"], "browsersOnly": True}})
    resp = _put(client, api, {"originConfiguration": {"browsersOnly": False}, "name": "Chat"})
    assert resp.json()["originConfiguration"] == {"allowedOrigins": ["https://a.example"], "browsersOnly": False}


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"originConfiguration": {"allowedOrigins": ["https://a.example/path"]}},
            "originConfiguration.allowedOrigins[0]",
        ),
        ({"originConfiguration": {"allowedOrigins": ["https://ok.example", "a.example"]}}, "allowedOrigins[1]"),
        ({"originConfiguration": {"allowedOrigins": ["https://*."]}}, "allowedOrigins[0]"),
        ({"originConfiguration": {"allowedOrigins": ["https://a.*.example"]}}, "allowedOrigins[0]"),
        ({"originConfiguration": {"allowedOrigins": ["null"]}}, "allowedOrigins[0]"),
        ({"originConfiguration": {"allowedOrigins": ["https://user@a.example"]}}, "allowedOrigins[0]"),
        ({"originConfiguration": {"allowedOrigins": ["https://a.example:99999"]}}, "allowedOrigins[0]"),
        ({"originConfiguration": {"allowedOrigins": [" https://a.example"]}}, "allowedOrigins[0]"),
        ({"originConfiguration": {"allowedOrigins": [7]}}, "allowedOrigins[0]"),
        ({"originConfiguration": {"allowedOrigins": "https://a.example"}}, "originConfiguration.allowedOrigins"),
        (
            {"originConfiguration": {"allowedOrigins": [f"https://h{i}.example" for i in range(101)]}},
            "at most 100",
        ),
        ({"originConfiguration": {"browsersOnly": "true"}}, "originConfiguration.browsersOnly"),
        ({"originConfiguration": {"origins": []}}, "originConfiguration.origins"),
        ({"originConfiguration": ["https://a.example"]}, "originConfiguration must be an object"),
        ({"originConfiguration": None}, "originConfiguration must be an object"),
        ({"backendJWTConfiguration": {"enabled": 1}}, "backendJWTConfiguration.enabled"),
        ({"backendJWTConfiguration": {"enabled": True, "header": "Host"}}, "backendJWTConfiguration.header"),
        ({"backendJWTConfiguration": {"header": "X JWT"}}, "backendJWTConfiguration.header"),
        ({"backendJWTConfiguration": {"header": "authorization"}}, "backendJWTConfiguration.header"),
        ({"backendJWTConfiguration": {"signed": True}}, "backendJWTConfiguration.signed"),
        # A final newline passed ``^...$``: never a header the gateway could read or write.
        ({"backendJWTConfiguration": {"header": "X-JWT\n"}}, "backendJWTConfiguration.header"),
        ({"authorizationHeader": "Authorization\n"}, "authorizationHeader"),
        ({"authorizationHeader": "A" * 60 + "\n"}, "authorizationHeader"),
        ({"name": "Chat\n"}, "name"),
        ({"name": "Chat\x07Room"}, "name"),
        ({"scopes": [{"scope": {"name": "chat_read\n", "description": "d"}, "shared": False}]}, "scope name"),
        # Headers the gateway reads or writes itself cannot carry the client's token.
        ({"authorizationHeader": "Internal-Key"}, "authorizationHeader"),
        ({"authorizationHeader": "apikey"}, "authorizationHeader"),
        ({"authorizationHeader": "Sec-WebSocket-Key"}, "authorizationHeader"),
        # "" is the default header: the backend JWT cannot take it either.
        (
            {"authorizationHeader": "", "backendJWTConfiguration": {"header": "Authorization"}},
            "backendJWTConfiguration.header",
        ),
        ({"backendJWTConfiguration": {"x" * 100_000: 1}}, "backendJWTConfiguration." + "x" * 60 + " is not"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_changes_nothing(
    client, api, body, field, django_capture_on_commit_callbacks
):
    before, version, audits = _policies(api), config_version(), AuditEvent.objects.count()
    etag = client.get(f"{BASE}/apis/{api.id}").headers["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        resp = _put(client, api, {**body, "description": "changed too?"})
    assert resp.status_code == 400
    assert resp.json()["code"] == 400 and field in resp.json()["description"]
    assert len(resp.json()["description"]) < 2000  # what it echoes is cut short
    assert _policies(api) == before and Api.objects.get(pk=api.pk).description == ""
    assert client.get(f"{BASE}/apis/{api.id}").headers["ETag"] == etag
    assert (config_version(), AuditEvent.objects.count()) == (version, audits)


def _web(user):
    c = Client()
    c.force_login(user)
    return c


def test_plans_tab_edits_them(publisher, api):
    web = _web(publisher)
    page = web.get(f"/publisher/apis/{api.id}/plans").content.decode()
    assert 'name="allowed_origins"' in page and 'name="backend_jwt"' in page
    resp = web.post(
        f"/publisher/apis/{api.id}/plans/save",
        {
            "etag": services.api_etag(api),
            "policies": ["AsyncUnlimited"],
            "secured": "on",
            "allowed_origins": "https://app.example.com\r\nhttps://*.example.org",
            "browsers_only": "on",
            "backend_jwt": "on",
            "backend_jwt_header": "X-Who",
        },
        follow=True,
    )
    assert "Saved plans and security." in resp.content.decode()
    assert _policies(api) == (["https://app.example.com", "https://*.example.org"], True, True, "X-Who")
    page = resp.content.decode()
    assert "https://app.example.com&#10;https://*.example.org&#10;</textarea>" in page


def test_plans_tab_explains_a_bad_origin_and_changes_nothing(publisher, api):
    web = _web(publisher)
    before = _policies(api)
    resp = web.post(
        f"/publisher/apis/{api.id}/plans/save",
        {
            "etag": services.api_etag(api),
            "policies": ["AsyncUnlimited"],
            "allowed_origins": "https://ok.example ftp:/x",
        },
        follow=True,
    )
    assert "allowedOrigins[1]" in resp.content.decode() and "is not an origin" in resp.content.decode()
    assert _policies(api) == before


def test_devportal_page_says_when_they_apply(client, api):
    dev = _web(factories.user("dev1"))
    page = dev.get(f"/devportal/apis/{api.id}").content.decode()
    assert 'id="origin-policy"' not in page and 'id="backend-jwt"' not in page
    _put(
        client,
        api,
        {
            "originConfiguration": {"allowedOrigins": ["https://app.example.com"], "browsersOnly": True},
            "backendJWTConfiguration": {"enabled": True},
        },
    )
    page = dev.get(f"/devportal/apis/{api.id}").content.decode()
    assert "browsers connect only from <code>https://app.example.com</code>" in page
    assert "clients without an <code>Origin</code> header are refused" in page
    assert "signed JWT (<code>X-JWT-Assertion</code>)" in page

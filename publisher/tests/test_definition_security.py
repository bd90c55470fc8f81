"""What a definition may not say (issue 14): another provider's scope, WSO2's own apim:
scopes, and links that are not http(s). Each is refused over REST with 400 and the JSON
pointer, and nothing changes."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from publisher.models import Api
from tests import factories
from testsupport import documents

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db

OPS = documents.asyncapi_doc(
    "Ops",
    "ws://127.0.0.1:1/v2",
    "  /admin:\n    publish: {x-scopes: [ops_admin]}\n",
    scopes="ops_admin: Administer",
    bindings="ops_admin: admin",
)
# The same scope, unbound: had it been accepted, anyone subscribed to it would get ops_admin.
GRAB = OPS.replace("title: Ops", "title: Grab").replace(
    "x-scopes-bindings: {ops_admin: admin}", "x-scopes-bindings: {}"
)
SCOPES_POINTER = "/components/securitySchemes/oauth2/flows/implicit/scopes"


def _as(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def _import(client, document: str, context: str):
    upload = SimpleUploadedFile("api.yaml", document.encode(), content_type="application/yaml")
    props = json.dumps({"context": context, "policies": ["AsyncUnlimited"]})
    return client.post(
        f"{BASE}/apis/import-asyncapi", {"file": upload, "additionalProperties": props}, format="multipart"
    )


@pytest.fixture
def alice():
    return factories.user("alice", roles=["creator", "publisher"])


@pytest.fixture
def bob():
    return factories.user("bob", roles=["creator", "publisher"])


@pytest.fixture
def ops(alice):
    resp = _import(_as(alice), OPS, "/ops")
    assert resp.status_code == 201, resp.json()
    return resp.json()


def _names_the_owner(resp, pointer=f"{SCOPES_POINTER}/ops_admin"):
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert "ops_admin" in body["description"] and "Ops 1.0.0" in body["description"] and "alice" in body["description"]
    assert [e["pointer"] for e in body["error"]] == [pointer]


def test_another_providers_scope_is_refused_on_import_naming_its_owner(ops, bob):
    resp = _import(_as(bob), GRAB, "/grab")
    _names_the_owner(resp)
    assert not Api.objects.filter(context="/grab").exists()


def test_another_providers_scope_is_refused_on_archive_import(ops, bob):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("Grab-1.0.0/api.yaml", "type: api\ndata: {name: Grab, context: /grab, version: 1.0.0, type: WS}\n")
        z.writestr("Grab-1.0.0/Definitions/asyncapi.yaml", GRAB)
    resp = _as(bob).post(
        f"{BASE}/apis/import", {"file": SimpleUploadedFile("p.zip", buffer.getvalue())}, format="multipart"
    )
    _names_the_owner(resp)
    assert not Api.objects.filter(context="/grab").exists()


def test_another_providers_scope_is_refused_on_definition_and_design_updates(ops, bob):
    client = _as(bob)
    mine = _import(client, GRAB.replace("ops_admin", "grab_read"), "/grab").json()
    before = client.get(f"{BASE}/apis/{mine['id']}/asyncapi").json()

    upload = SimpleUploadedFile("api.yaml", GRAB.encode())
    _names_the_owner(client.put(f"{BASE}/apis/{mine['id']}/asyncapi", {"file": upload}, format="multipart"))

    design = {
        "scopes": [
            {"scope": {"name": "grab_read", "description": "Read", "bindings": []}},
            {"scope": {"name": "ops_admin", "description": "mine now", "bindings": []}},
        ]
    }
    _names_the_owner(client.put(f"{BASE}/apis/{mine['id']}", design, format="json"))
    assert client.get(f"{BASE}/apis/{mine['id']}/asyncapi").json() == before


def test_the_same_provider_may_declare_its_scope_again(ops, alice):
    resp = _import(_as(alice), GRAB, "/ops2")
    assert resp.status_code == 201, resp.json()


def test_apim_scopes_are_refused_in_a_definition_with_their_pointer(bob):
    sneaky = OPS.replace("ops_admin", "apim:admin")
    resp = _import(_as(bob), sneaky, "/sneaky")
    assert resp.status_code == 400, resp.json()
    pointers = [e["pointer"] for e in resp.json()["error"]]
    assert f"{SCOPES_POINTER}/apim:admin" in pointers
    assert not Api.objects.filter(context="/sneaky").exists()

    api = factories.api(bob, context="/plainapi")
    design = {"scopes": [{"scope": {"name": "apim:admin", "description": "", "bindings": []}}]}
    resp = _as(bob).put(f"{BASE}/apis/{api.id}", design, format="json")
    assert resp.status_code == 400 and resp.json()["error"][0]["pointer"] == "/scopes/0/name"


LINKED = OPS.replace(
    "info: {title: Ops, version: 1.0.0}",
    "info: {title: Ops, version: 1.0.0, license: {name: MIT, url: 'https://opensource.org/license/mit'}}\n"
    "externalDocs: {url: 'javascript:alert(document.cookie)'}\n"
    "tags: [{name: ops, externalDocs: {url: 'https://example.org/ops'}}]",
)


def test_a_javascript_link_is_refused_at_import_with_its_pointer(bob):
    resp = _import(_as(bob), LINKED, "/linked")
    assert resp.status_code == 400, resp.json()
    [error] = resp.json()["error"]
    assert error["pointer"] == "/externalDocs/url" and error["line"] == 3
    assert not Api.objects.filter(context="/linked").exists()

    upload = SimpleUploadedFile("x.yaml", LINKED.encode())
    report = _as(bob).post(f"{BASE}/apis/validate-asyncapi", {"file": upload}, format="multipart").json()
    assert report["isValid"] is False and [e["pointer"] for e in report["errors"]] == ["/externalDocs/url"]


@pytest.mark.parametrize(
    "field, pointer",
    [
        ("info: {title: Ops, version: 1.0.0, termsOfService: 'data:text/html,x'}", "/info/termsOfService"),
        ("info: {title: Ops, version: 1.0.0, contact: {url: ' javascript:x'}}", "/info/contact/url"),
        ("info: {title: Ops, version: 1.0.0, license: {name: x, url: 'vbscript:x'}}", "/info/license/url"),
    ],
)
def test_info_links_must_be_http_on_definition_update(bob, field, pointer):
    api = factories.api(bob, context="/plainapi")
    document = OPS.replace("ops_admin", "x_read").replace("info: {title: Ops, version: 1.0.0}", field)
    upload = SimpleUploadedFile("api.yaml", document.encode())
    resp = _as(bob).put(f"{BASE}/apis/{api.id}/asyncapi", {"file": upload}, format="multipart")
    assert resp.status_code == 400 and [e["pointer"] for e in resp.json()["error"]] == [pointer]


# A binding that misses its scope (case, a stray space) or names no role used to leave the
# scope unbound, granted to anyone subscribed: each is refused with its pointer.
BINDINGS_POINTER = "/components/securitySchemes/oauth2/flows/implicit/x-scopes-bindings"
BAD_BINDINGS = [
    ("{Ops_Admin: admin}", f"{BINDINGS_POINTER}/Ops_Admin"),
    ("{'ops_admin ': admin}", f"{BINDINGS_POINTER}/ops_admin "),
    ("{ops_admin: ' '}", f"{BINDINGS_POINTER}/ops_admin"),
    ("{ops_admin: ' , '}", f"{BINDINGS_POINTER}/ops_admin"),
    ("{ops_admin: null}", f"{BINDINGS_POINTER}/ops_admin"),
    ("'ops_admin: admin'", BINDINGS_POINTER),
]


@pytest.mark.parametrize("bindings, pointer", BAD_BINDINGS)
def test_a_binding_that_binds_no_declared_scope_is_refused_on_import_and_validate(bob, bindings, pointer):
    document = OPS.replace("x-scopes-bindings: {ops_admin: admin}", f"x-scopes-bindings: {bindings}")
    resp = _import(_as(bob), document, "/typo")
    assert resp.status_code == 400, resp.json()
    assert [e["pointer"] for e in resp.json()["error"]] == [pointer]
    assert not Api.objects.filter(context="/typo").exists()

    upload = SimpleUploadedFile("api.yaml", document.encode(), content_type="application/yaml")
    checked = _as(bob).post(f"{BASE}/apis/validate-asyncapi", {"file": upload}, format="multipart")
    assert checked.status_code == 200 and checked.json()["isValid"] is False
    assert [e["pointer"] for e in checked.json()["errors"]] == [pointer]


def test_a_mistyped_binding_is_refused_on_archive_definition_and_design_updates(bob):
    typo = OPS.replace("x-scopes-bindings: {ops_admin: admin}", "x-scopes-bindings: {Ops_Admin: admin}")
    pointer = f"{BINDINGS_POINTER}/Ops_Admin"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("Typo-1.0.0/api.yaml", "type: api\ndata: {name: Typo, context: /typo, version: 1.0.0, type: WS}\n")
        z.writestr("Typo-1.0.0/Definitions/asyncapi.yaml", typo)
    client = _as(bob)
    resp = client.post(
        f"{BASE}/apis/import", {"file": SimpleUploadedFile("p.zip", buffer.getvalue())}, format="multipart"
    )
    assert resp.status_code == 400 and [e["pointer"] for e in resp.json()["error"]] == [pointer], resp.json()
    assert not Api.objects.filter(context="/typo").exists()

    mine = _import(client, OPS, "/ops").json()
    before = client.get(f"{BASE}/apis/{mine['id']}/asyncapi").json()
    upload = SimpleUploadedFile("api.yaml", typo.encode())
    resp = client.put(f"{BASE}/apis/{mine['id']}/asyncapi", {"file": upload}, format="multipart")
    assert resp.status_code == 400 and [e["pointer"] for e in resp.json()["error"]] == [pointer], resp.json()

    for bindings, where in (
        ([" "], "/scopes/0/bindings/0"),
        (["admin", ""], "/scopes/0/bindings/1"),
        (" ", "/scopes/0/bindings"),
    ):
        design = {"scopes": [{"scope": {"name": "ops_admin", "description": "Administer", "bindings": bindings}}]}
        resp = client.put(f"{BASE}/apis/{mine['id']}", design, format="json")
        assert resp.status_code == 400 and [e["pointer"] for e in resp.json()["error"]] == [where], resp.json()
    assert client.get(f"{BASE}/apis/{mine['id']}/asyncapi").json() == before

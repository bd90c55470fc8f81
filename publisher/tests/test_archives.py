"""API project archives: export then import gives the same API, WSO2's exports import
unchanged, and hostile archives are refused with a clear message, changing nothing."""

import io
import zipfile

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from publisher import services
from publisher.models import Api
from tests import factories
from testsupport import documents

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db

WSO2_API_YAML = """\
type: api
version: v4.1.0
data:
  id: 9bc3dbd7-7635-406e-bfd2-2c71dcb05b98
  name: WebSocket
  context: /websocket
  version: 1.0.0
  provider: admin
  lifeCycleStatus: PUBLISHED
  type: WS
  policies:
   - AsyncUnlimited
  apiThrottlingPolicy: 50KPerMin
  authorizationHeader: Authorization
  securityScheme: [oauth2, oauth_basic_auth_api_key_mandatory]
  endpointConfig:
    endpoint_type: ws
    sandbox_endpoints: {url: 'ws://ws.ifelse.io:80'}
    production_endpoints: {url: 'ws://ws.ifelse.io:80'}
  scopes:
   - scope: {name: creator, displayName: creator, description: creator, bindings: [admin]}
     shared: false
  operations:
   - {id: "", target: /notifications, verb: SUBSCRIBE, authType: Any, scopes: [creator], uriMapping: /notifications}
   - {id: "", target: /notifications, verb: PUBLISH, authType: Any, scopes: [], uriMapping: /notifications}
"""

WSO2_ASYNCAPI = """\
asyncapi: 2.0.0
info:
  title: WebSocket
  version: 1.0.0
servers:
  production:
    url: ws://ws.ifelse.io:80
    protocol: ws
channels:
  /notifications:
    publish:
      x-uri-mapping: /notifications
    subscribe:
      x-uri-mapping: /notifications
      x-scopes:
        "0": creator
    x-auth-type: Any
components:
  securitySchemes:
    oauth2:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: http://localhost:9999
          scopes:
            creator: creator
          x-scopes-bindings:
            creator: admin
"""


def _zip(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buffer.getvalue()


def _import(client, content: bytes):
    return client.post(f"{BASE}/apis/import", {"file": SimpleUploadedFile("p.zip", content)}, format="multipart")


def test_export_then_import_gives_back_the_same_api(client, publisher):
    original = services.api_import_asyncapi(
        provider=publisher,
        document=documents.CHAT_ASYNCAPI,
        properties={
            "context": "/chat",
            "policies": ["AsyncGold"],
            "endpointConfig": {
                "production_endpoints": {"url": "ws://backend:1/v2"},
                "sandbox_endpoints": {"url": "ws://sandbox:1"},
            },
        },
    )
    exported = client.get(f"{BASE}/apis/export", {"apiId": str(original.id)})
    assert exported.status_code == 200 and exported["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert {"Chat-1.0.0/api.yaml", "Chat-1.0.0/Definitions/asyncapi.yaml", "Chat-1.0.0/api_meta.yaml"} <= set(names)
    before = client.get(f"{BASE}/apis/{original.id}").json()
    services.api_delete(api=original, user=publisher)

    resp = _import(client, exported.content)
    assert resp.status_code == 201, resp.json()
    after = resp.json()
    for field in ("name", "context", "version", "policies", "endpointConfig", "scopes", "operations"):
        assert after[field] == before[field], field


def test_a_revision_exports_with_its_deployment_environments(client, publisher):
    api = factories.published_api(publisher)
    resp = client.get(f"{BASE}/apis/export", {"apiId": str(api.id), "revisionNumber": "1"})
    archive = zipfile.ZipFile(io.BytesIO(resp.content))
    assert b"deploymentEnvironment: Default" in archive.read("Chat-1.0.0/deployment_environments.yaml")


def test_a_project_exported_by_wso2_imports_unchanged(client):
    content = _zip(
        {
            "WebSocket-1.0.0/api.yaml": WSO2_API_YAML,
            "WebSocket-1.0.0/Definitions/asyncapi.yaml": WSO2_ASYNCAPI,
            "WebSocket-1.0.0/api_meta.yaml": "name: WebSocket\nversion: 1.0.0\n",
            "WebSocket-1.0.0/Docs/": "",
            "WebSocket-1.0.0/Image/": "",
        }
    )
    resp = _import(client, content)
    assert resp.status_code == 201, resp.json()
    api = resp.json()
    assert (api["context"], api["version"], api["apiThrottlingPolicy"]) == ("/websocket", "1.0.0", "50KPerMin")
    assert api["endpointConfig"]["sandbox_endpoints"]["url"] == "ws://ws.ifelse.io:80"
    subscribe = next(o for o in api["operations"] if o["verb"] == "SUBSCRIBE")
    assert subscribe["scopes"] == ["creator"]  # the map form, read as a list
    assert api["lifeCycleStatus"] == "CREATED"


ENFORCEMENT = {
    "authorizationHeader": "X-Token",
    "securityScheme": ["oauth2", "api_key"],
    "payloadValidation": {"mode": "both", "onClientFailure": "close", "onBackendFailure": "close"},
    "originConfiguration": {"allowedOrigins": ["https://app.example.com"], "browsersOnly": True},
    "backendJWTConfiguration": {"enabled": True, "header": "X-JWT-Assertion"},
}


def test_export_then_import_keeps_how_the_gateway_enforces_the_api(client, publisher):
    # Each of these was dropped on import, and by standalone gateways: an API exported with
    # an Origin allow-list and payload validation came back open to any page and any payload.
    api = services.api_import_asyncapi(
        provider=publisher, document=documents.orders_doc("ws://backend:1", "2.x"), properties={"context": "/orders"}
    )
    services.api_update(api=api, user=publisher, changes=ENFORCEMENT)
    before = client.get(f"{BASE}/apis/{api.id}").json()
    exported = client.get(f"{BASE}/apis/export", {"apiId": str(api.id)}).content
    services.api_delete(api=api, user=publisher)

    resp = _import(client, exported)
    assert resp.status_code == 201, resp.json()
    for field in ENFORCEMENT:
        assert resp.json()[field] == before[field] == ENFORCEMENT[field], field

    from tidegate.snapshot.archives import api_from_archive  # what a standalone gateway enforces

    config = api_from_archive(exported)
    assert (config.authorization_header, config.allowed_origins, config.origin_required) == (
        "X-Token",
        ("https://app.example.com",),
        True,
    )
    assert config.backend_jwt_header == "X-JWT-Assertion"
    assert (config.payload_validation, config.payload_client_failure, config.payload_backend_failure) == (
        "both",
        "close",
        "close",
    )
    assert any(t.publish_schema and t.subscribe_schema for t in config.topics)  # what it validates against


def test_a_wso2_security_scheme_keeps_the_kinds_tidegate_has(client):
    # WSO2 lists modifiers (oauth_basic_auth_api_key_mandatory) and kinds Tidegate has not.
    api_yaml = WSO2_API_YAML.replace(
        "securityScheme: [oauth2, oauth_basic_auth_api_key_mandatory]",
        "securityScheme: [api_key, basic_auth, oauth_basic_auth_api_key_mandatory]",
    )
    content = _zip({"W-1.0.0/api.yaml": api_yaml, "W-1.0.0/Definitions/asyncapi.yaml": WSO2_ASYNCAPI})
    resp = _import(client, content)
    assert resp.status_code == 201, resp.json()
    assert resp.json()["securityScheme"] == ["api_key"]


def _with_enforcement(**fields) -> bytes:
    """WSO2's project with ``fields`` of api.yaml's data written as given (YAML)."""
    kept = [line for line in WSO2_API_YAML.splitlines() if line.split(":")[0].strip() not in fields]
    api_yaml = "\n".join(kept) + "\n" + "".join(f"  {key}: {value}\n" for key, value in fields.items())
    return _zip({"P-1/api.yaml": api_yaml, "P-1/Definitions/asyncapi.yaml": WSO2_ASYNCAPI})


BOMB_YAML = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b]\n"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("not a zip", b"plain text, no zip", "not a zip file"),
        ("path traversal", _zip({"P-1/api.yaml": WSO2_API_YAML, "../../etc/evil": "x"}), "escapes the archive"),
        ("absolute path", _zip({"/etc/passwd": "x"}), "escapes the archive"),
        (
            "zip bomb",
            _zip({"P-1/api.yaml": WSO2_API_YAML, "P-1/Docs/big.txt": b"\0" * (6 * 1024 * 1024)}),
            "expands beyond",
        ),
        ("too many files", _zip({f"P-1/Docs/{i}.md": "x" for i in range(201)}), "more than 200 files"),
        (
            "alias bomb",
            _zip({"P-1/api.yaml": BOMB_YAML, "P-1/Definitions/asyncapi.yaml": WSO2_ASYNCAPI}),
            "aliases are not allowed",
        ),
        ("two projects", _zip({"A-1/api.yaml": WSO2_API_YAML, "B-1/api.yaml": WSO2_API_YAML}), "one project folder"),
        ("no definition", _zip({"P-1/api.yaml": WSO2_API_YAML}), "no Definitions/asyncapi.yaml"),
        (
            "origins not a list",
            _with_enforcement(originConfiguration="{allowedOrigins: https://a.example}"),
            "api.yaml: originConfiguration.allowedOrigins must be a list",
        ),
        ("origin not an origin", _with_enforcement(originConfiguration="{allowedOrigins: [a b]}"), "is not an origin"),
        (
            "unknown validation mode",
            _with_enforcement(payloadValidation="{mode: sometimes}"),
            "payloadValidation.mode",
        ),
        ("header not a name", _with_enforcement(authorizationHeader="'X Token'"), "authorizationHeader must be"),
        ("scheme not a list", _with_enforcement(securityScheme="oauth2"), "securityScheme must be a list"),
        (
            "backend JWT in a reserved header",
            _with_enforcement(backendJWTConfiguration="{enabled: true, header: Host}"),
            "backendJWTConfiguration.header",
        ),
        (
            "not WebSocket",
            _zip(
                {
                    "P-1/api.yaml": WSO2_API_YAML.replace("type: WS", "type: HTTP"),
                    "P-1/Definitions/asyncapi.yaml": WSO2_ASYNCAPI,
                }
            ),
            "only WebSocket APIs",
        ),
    ],
)
def test_hostile_or_broken_archives_are_refused_and_change_nothing(client, name, content, message):
    resp = _import(client, content)
    assert resp.status_code == 400, name
    assert message in resp.json()["description"], resp.json()
    assert Api.objects.count() == 0


def test_an_api_exports_straight_after_it_is_created(publisher):
    """The instance api_create returns exports as one read back from the database (its
    lifecycle status was an enum member, which the YAML writer refused)."""
    from publisher.archives import export_archive

    api = factories.api(publisher, context="/fresh")
    name, content = export_archive(api=api, user=publisher)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        api_yaml = archive.read(f"{name.removesuffix('.zip')}/api.yaml").decode()
    assert "lifeCycleStatus: CREATED" in api_yaml


@pytest.mark.parametrize("name", ["chat-rooms", "market", "sensors", "public-feed", "notifications"])
def test_a_3_0_api_exports_as_3_0_and_imports_back_the_same(client, publisher, name):
    original = services.api_import_asyncapi(
        provider=publisher,
        document=documents.twin(name, "3.0"),
        properties={"context": f"/{name}", "endpointConfig": {"production_endpoints": {"url": "ws://backend:1/v2"}}},
    )
    exported = client.get(f"{BASE}/apis/export", {"apiId": str(original.id)})
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        [definition_name] = [n for n in archive.namelist() if n.endswith("/Definitions/asyncapi.yaml")]
        definition = yaml.safe_load(archive.read(definition_name))
    assert definition["asyncapi"] == "3.0.0" and definition == original.definition
    before = client.get(f"{BASE}/apis/{original.id}").json()
    services.api_delete(api=original, user=publisher)

    resp = _import(client, exported.content)
    assert resp.status_code == 201, resp.json()
    after = resp.json()
    for field in ("name", "context", "version", "endpointConfig", "scopes", "operations", "securityScheme"):
        assert after[field] == before[field], field
    assert Api.objects.get(pk=after["id"]).definition == definition


# A project as WSO2 API Manager 4.7's apictl exports a WebSocket API it created: the
# definition in AsyncAPI 3.0, the scopes both as x-scopes and as the operation's security.
WSO2_ASYNCAPI_V3 = """\
asyncapi: 3.0.0
info:
  title: WebSocket
  version: 1.0.0
servers:
  production:
    host: ws.ifelse.io:80
    protocol: ws
channels:
  notifications:
    address: /notifications
    messages: {}
  rooms_roomId:
    address: /rooms/{roomId}
    parameters:
      roomId: {}
    x-auth-type: None
operations:
  receive_notifications:
    action: receive
    channel:
      $ref: '#/channels/notifications'
    x-uri-mapping: /notifications
    x-auth-type: Any
    security:
      - $ref: '#/components/securitySchemes/oauth2'
  send_notifications:
    action: send
    channel:
      $ref: '#/channels/notifications'
    x-uri-mapping: /notifications
    x-auth-type: Any
    x-scopes:
      "0": creator
    security:
      - type: oauth2
        flows:
          implicit:
            authorizationUrl: http://localhost:9999
            availableScopes:
              creator: creator
        scopes:
          - creator
  receive_rooms_roomId:
    action: receive
    channel:
      $ref: '#/channels/rooms_roomId'
    x-uri-mapping: /rooms?room={uri.var.roomId}
    x-auth-type: None
components:
  securitySchemes:
    oauth2:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: http://localhost:9999
          availableScopes:
            creator: creator
          x-scopes-bindings:
            creator: admin
"""


def test_a_wso2_project_with_an_asyncapi_3_0_definition_imports(client):
    content = _zip(
        {
            "WebSocket-1.0.0/api.yaml": WSO2_API_YAML.replace("version: v4.1.0", "version: v4.7.0"),
            "WebSocket-1.0.0/Definitions/asyncapi.yaml": WSO2_ASYNCAPI_V3,
            "WebSocket-1.0.0/api_meta.yaml": "name: WebSocket\nversion: 1.0.0\n",
            "WebSocket-1.0.0/Docs/": "",
        }
    )
    resp = _import(client, content)
    assert resp.status_code == 201, resp.json()
    api = resp.json()
    assert (api["context"], api["version"], api["apiThrottlingPolicy"]) == ("/websocket", "1.0.0", "50KPerMin")
    operations = {(o["target"], o["verb"]): o for o in api["operations"]}
    assert set(operations) == {
        ("/notifications", "PUBLISH"),
        ("/notifications", "SUBSCRIBE"),
        ("/rooms/{roomId}", "PUBLISH"),
    }
    assert operations["/notifications", "SUBSCRIBE"]["scopes"] == ["creator"]
    assert operations["/notifications", "PUBLISH"]["scopes"] == []
    assert operations["/rooms/{roomId}", "PUBLISH"]["uriMapping"] == "/rooms?room={uri.var.roomId}"
    assert operations["/rooms/{roomId}", "PUBLISH"]["authType"] == "None"
    assert [(s["scope"]["name"], s["scope"]["bindings"]) for s in api["scopes"]] == [("creator", ["admin"])]
    assert Api.objects.get(pk=api["id"]).definition["asyncapi"] == "3.0.0"


def test_an_export_leaves_out_documents_the_caller_may_not_read(client, publisher):
    # Owner-only documents were listed to their owners only, but every publisher's export
    # of the API carried them.
    from publisher import documents as docs

    api = factories.published_api(publisher)
    for name, visibility in (("Guide", "API_LEVEL"), ("Secret", "OWNER_ONLY")):
        docs.document_create(
            api=api,
            user=publisher,
            fields={"name": name, "type": "HOWTO", "sourceType": "MARKDOWN", "visibility": visibility},
            inline_content=f"{name} text",
        )
    other = factories.user("pub2", roles=["creator", "publisher"])
    names = {}
    for user in (publisher, other):
        rest = APIClient()
        rest.force_authenticate(user)
        resp = rest.get(f"{BASE}/apis/export", {"apiId": str(api.id)})
        assert resp.status_code == 200
        names[user.username] = {
            n.split("/")[2]
            for n in zipfile.ZipFile(io.BytesIO(resp.content)).namelist()
            if "/Docs/" in n and n.count("/") >= 3
        }
    assert names == {"pub": {"Guide", "Secret"}, "pub2": {"Guide"}}

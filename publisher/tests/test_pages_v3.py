"""The Publisher's design tabs on an AsyncAPI 3.0 API (issue 17), over Django's test client:
each tab edits a 3.0 definition as it edits a 2.x one and writes 3.0's shapes back (channels
with an address, receive and send operations, scopes on operations, servers with host and
pathname); the pages say which version a definition is and what a 3.0 document leaves out."""

import pytest
from django.test import Client

from publisher import asyncapi, services
from publisher.models import Api
from testsupport import documents

pytestmark = pytest.mark.django_db

# Rooms with messages (one by reference, with examples), news with a payload example: what
# the tabs must keep when they rewrite the document.
ROOMS_V3 = documents.rooms_doc_v3("ws://127.0.0.1:1")


def _client(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def web(publisher):
    return _client(publisher)


def _import(publisher, text, context):
    return services.api_import_asyncapi(provider=publisher, document=text, properties={"context": context})


@pytest.fixture
def chat(publisher):
    return _import(publisher, documents.CHAT_ASYNCAPI_V3, "/chat3")


@pytest.fixture
def rooms(publisher):
    return _import(publisher, ROOMS_V3, "/rooms3")


def _page(api, tab):
    return f"/publisher/apis/{api.id}/{tab}" if tab != "detail" else f"/publisher/apis/{api.id}"


def _post(web, api, action, form):
    etag = services.api_etag(Api.objects.get(pk=api.pk))
    resp = web.post(_page(api, action), {"etag": etag, **form}, follow=True)
    assert resp.status_code == 200
    return [str(m) for m in resp.context["messages"]]


def _doc(api):
    return Api.objects.get(pk=api.pk).definition


def _requirement_scopes(op):
    return [s for r in op.get("security", []) for s in r.get("scopes", [])]


# ---------------------------------------------------------------- the design tabs write 3.0


def test_a_topic_added_on_the_topics_tab_is_a_3_0_channel_with_its_operations(web, chat):
    said = _post(
        web,
        chat,
        "topics/save",
        {
            "target": "/alerts/{level}",
            "publish": "on",
            "scopes_publish": ["chat_admin"],
            "subscribe": "on",
            "uri_mapping": "/alerts?level={uri.var.level}",
            "secured": "on",
        },
    )
    assert said == ["Added topic /alerts/{level}."]
    doc = _doc(chat)
    assert doc["asyncapi"] == "3.0.0"
    assert doc["channels"]["alerts_level"] == {"address": "/alerts/{level}", "parameters": {"level": {}}}
    receive, send = doc["operations"]["receive_alerts_level"], doc["operations"]["send_alerts_level"]
    assert receive["action"] == "receive" and send["action"] == "send"
    assert receive["channel"] == send["channel"] == {"$ref": "#/channels/alerts_level"}
    assert receive["x-scopes"] == ["chat_admin"] and _requirement_scopes(receive) == ["chat_admin"]
    assert "x-scopes" not in send and send["security"] == [{"$ref": "#/components/securitySchemes/oauth2"}]
    assert receive["x-uri-mapping"] == send["x-uri-mapping"] == "/alerts?level={uri.var.level}"
    # The other topics are untouched, and the tab lists the new one as it reads it back.
    assert doc["operations"]["sendToRoom"]["channel"] == {"$ref": "#/channels/rooms"}
    topic = {t.name: t for t in asyncapi.topics(doc)}["/alerts/{level}"]
    assert topic.verbs == ("PUBLISH", "SUBSCRIBE") and topic.scopes == ("chat_admin",)
    assert 'data-topic="/alerts/{level}"' in web.get(_page(chat, "topics")).content.decode()


def test_editing_a_3_0_topic_keeps_its_channel_messages_and_operation_ids(web, rooms):
    said = _post(
        web,
        rooms,
        "topics/save",
        {
            "original": "/rooms/{roomID}",
            "target": "/rooms/{roomID}",
            "publish": "on",
            "scopes_publish": ["rooms_admin"],
            "subscribe": "on",
            "uri_mapping": "/rooms?room={uri.var.roomID}",
            "secured": "on",
        },
    )
    assert said == ["Saved topic /rooms/{roomID}."]
    doc = _doc(rooms)
    channel = doc["channels"]["rooms"]
    assert channel["description"] == "One chat room" and channel["parameters"] == {
        "roomID": {"description": "The room"}
    }
    assert set(channel["messages"]) == {"chatMessage", "notice"}
    assert doc["operations"]["sendToRoom"]["messages"] == [{"$ref": "#/channels/rooms/messages/chatMessage"}]
    assert doc["operations"]["send_rooms"]["action"] == "send"  # the verb ticked on is a new operation
    # The Dev Portal's console still prefills from the kept message.
    assert asyncapi.message_example(doc, "/rooms/{roomID}") == '{"text": "hello room"}'
    # Making /news open writes x-auth-type None on the operation and its channel.
    _post(web, rooms, "topics/save", {"original": "/news", "target": "/news", "subscribe": "on"})
    doc = _doc(rooms)
    assert doc["operations"]["readNews"]["x-auth-type"] == "None" and "security" not in doc["operations"]["readNews"]
    assert doc["channels"]["news"]["x-auth-type"] == "None" and "headline" in doc["channels"]["news"]["messages"]


def test_scopes_tab_renames_and_redescribes_a_scope_in_the_3_0_operations(web, chat):
    _post(web, chat, "scopes/save", {"original": "chat_admin", "name": "chat_owner", "description": "Own chats"})
    doc = _doc(chat)
    admin = doc["operations"]["administer"]
    assert admin["x-scopes"] == ["chat_owner"] and _requirement_scopes(admin) == ["chat_owner"]
    assert asyncapi.declared_scopes(doc) == {"chat_owner": "Own chats"}
    # A new description reaches the requirement the operation carries, which AsyncAPI tools show.
    _post(web, chat, "scopes/save", {"original": "chat_owner", "name": "chat_owner", "description": "Owns the chats"})
    [requirement] = _doc(chat)["operations"]["administer"]["security"]
    assert requirement["flows"]["implicit"]["availableScopes"] == {"chat_owner": "Owns the chats"}


def test_endpoints_tab_writes_3_0_servers_with_host_and_pathname(web, chat):
    said = _post(
        web, chat, "endpoints/save", {"production": "wss://example.com:8443/base/v3", "sandbox": "ws://sb.test"}
    )
    assert said == ["Saved the endpoints."]
    servers = _doc(chat)["servers"]
    assert servers == {
        "production": {"host": "example.com:8443", "protocol": "wss", "pathname": "/base/v3"},
        "sandbox": {"host": "sb.test", "protocol": "ws"},
    }
    assert _doc(chat)["asyncapi"] == "3.0.0"


def test_definition_tab_saves_3_0_text_as_3_0(web, chat):
    text = asyncapi.to_yaml(_doc(chat)).replace("address: /notifications", "address: /news")
    said = _post(web, chat, "definition/save", {"definition": text})
    assert said == ["Saved the definition; topics and scopes now follow it."]
    doc = _doc(chat)
    assert doc["asyncapi"] == "3.0.0" and doc["channels"]["notifications"]["address"] == "/news"
    assert "/news" in [t.name for t in asyncapi.topics(doc)]


# ---------------------------------------------------------------- fixes found on the way


BARE_V3 = """\
asyncapi: 3.0.0
info: {title: Bare, version: 1.0.0}
servers:
  production: {host: 'example.com', protocol: ws}
channels:
  news: {address: /news}
operations:
  readNews:
    action: send
    channel: {$ref: '#/channels/news'}
"""
OIDC_V3 = (
    BARE_V3.replace("title: Bare", "title: Oidc")
    + """\
    security: [{$ref: '#/components/securitySchemes/oidc'}]
components:
  securitySchemes:
    oidc:
      type: oauth2
      flows:
        implicit: {authorizationUrl: 'https://idp.example.com/auth', availableScopes: {}}
"""
)


@pytest.mark.parametrize("text", [BARE_V3, OIDC_V3], ids=["no security scheme", "scheme named oidc"])
def test_a_3_0_api_without_an_oauth2_scheme_takes_a_new_topic(web, publisher, text):
    """A 3.0 document imported without a scheme named oauth2: adding a secured topic on the
    Topics tab was refused ("security scheme '#/components/securitySchemes/oauth2' is not
    defined") and rewrote the other operations' requirements to that missing scheme."""
    api = _import(publisher, text, "/bare")
    said = _post(web, api, "topics/save", {"target": "/alerts", "publish": "on", "secured": "on"})
    assert said == ["Added topic /alerts."]
    doc = _doc(api)
    assert doc["operations"]["receive_alerts"]["security"] == [{"$ref": "#/components/securitySchemes/oauth2"}]
    assert doc["components"]["securitySchemes"]["oauth2"]["type"] == "oauth2"
    expected = doc.get("components", {}).get("securitySchemes", {}).get("oidc")
    if expected:  # the operation that named its own scheme still does
        assert doc["operations"]["readNews"]["security"] == [{"$ref": "#/components/securitySchemes/oidc"}]
    assert [t.name for t in asyncapi.topics(doc)] == ["/news", "/alerts"]


# ---------------------------------------------------------------- the version, shown


@pytest.mark.parametrize(
    "text, shown",
    [(documents.CHAT_ASYNCAPI_V3, "AsyncAPI 3.0.0"), (documents.CHAT_ASYNCAPI, "AsyncAPI 2.0.0")],
    ids=["3.0", "2.0"],
)
def test_definition_tab_and_overview_show_the_definitions_version(web, publisher, text, shown):
    api = _import(publisher, text, "/versioned")
    for tab in ("definition", "detail"):
        body = web.get(_page(api, tab)).content.decode()
        badge = body.split('id="definition-version"', 1)[1].split("</p>", 1)[0]
        assert shown in badge, tab


def test_topics_tab_words_the_directions_of_a_3_0_api(web, chat, publisher):
    body = web.get(_page(chat, "topics")).content.decode()
    hint = body.split('id="direction-hint"', 1)[1].split("</p>", 1)[0]
    assert "<code>receive</code>" in hint and "<code>send</code>" in hint
    assert "Publish (client sends)" in body and "Subscribe (client receives)" in body  # WSO2's labels stay
    old = _import(publisher, documents.CHAT_ASYNCAPI, "/chat2")
    assert 'id="direction-hint"' not in web.get(_page(old, "topics")).content.decode()


# ---------------------------------------------------------------- warnings beside a success

UNADDRESSED_V3 = ROOMS_V3.replace("  news:\n", "  drafts:\n    description: not routed yet\n  news:\n", 1)
WARNING = "channel &#x27;drafts&#x27; has no address: it is not a topic"


def test_import_page_warns_of_a_3_0_channel_without_address(web):
    resp = web.post(
        "/publisher/apis/import", {"definition": UNADDRESSED_V3, "context": "/drafts", "endpoint": ""}, follow=True
    )
    body = resp.content.decode()
    assert "Imported Rooms 1.0.0: 2 topics." in body
    assert 'class="flash flash-warning"' in body and WARNING in body
    assert Api.objects.get(context="/drafts").definition["channels"]["drafts"] == {"description": "not routed yet"}


def test_definition_tab_warns_of_a_3_0_channel_without_address(web, rooms):
    resp = web.post(
        _page(rooms, "definition/save"),
        {"etag": services.api_etag(rooms), "definition": UNADDRESSED_V3},
        follow=True,
    )
    body = resp.content.decode()
    assert "Saved the definition" in body and WARNING in body
    assert 'class="flash flash-warning"' not in web.get(_page(rooms, "definition")).content.decode()  # once


def test_validate_asyncapi_answers_the_warnings_and_3_0_endpoints(client):
    resp = client.post(
        "/api/am/publisher/v4/apis/validate-asyncapi", {"inlineAPIDefinition": UNADDRESSED_V3}, format="multipart"
    )
    body = resp.json()
    assert body["isValid"] is True and body["errors"] == []
    assert body["warnings"] == [
        {
            "message": "channel 'drafts' has no address: it is not a topic and the gateway does not route to it",
            "pointer": "/channels/drafts",
        }
    ]
    assert body["info"]["asyncAPIVersion"] == "3.0.0" and body["info"]["endpoints"] == ["ws://127.0.0.1:1/v2"]
    clean = client.post(
        "/api/am/publisher/v4/apis/validate-asyncapi", {"inlineAPIDefinition": ROOMS_V3}, format="multipart"
    ).json()
    assert clean["isValid"] is True and clean["warnings"] == []
    # A 2.x document has nothing to warn of: asyncapi.warnings() once failed on it (no v2.warnings).
    old = client.post(
        "/api/am/publisher/v4/apis/validate-asyncapi",
        {"inlineAPIDefinition": documents.CHAT_ASYNCAPI},
        format="multipart",
    ).json()
    assert old["warnings"] == [] and old["info"]["endpoints"] == ["ws://127.0.0.1:1/v2"]


def test_the_openapi_document_describes_the_warnings(client):
    import yaml

    spec = yaml.safe_load(client.get("/api/openapi.yaml").content)
    [path] = [p for p in spec["paths"] if p.endswith("/apis/validate-asyncapi")]
    schema = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"]["warnings"]["items"] == {"$ref": "#/components/schemas/ErrorDetail"}

"""The AsyncAPI 2.x -> 3.0.0 converter (issue 17): every 2.x definition the suite uses
converts to a 3.0 document the gateway reads exactly as it read the 2.x one; what 3.0
cannot say is refused naming the part; REST and the Publisher page convert the working copy
in place, for the API's provider only, with If-Match and an audit record."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from django.test import Client
from hypothesis import given
from rest_framework.test import APIClient

from gateway.routing import RouteTable
from gateway_contract.snapshot import ApiConfig, Snapshot
from portal.models import AuditEvent
from publisher import asyncapi, services
from publisher.asyncapi import v2
from publisher.models import Api
from publisher.tests.fuzz_strategies import valid_documents
from publisher.tests.test_archives import WSO2_ASYNCAPI
from publisher.tests.test_asyncapi import CHATS
from publisher.tests.test_definition_security import GRAB, OPS
from tests import factories
from tests.test_scope_security import _feed, _ops
from testsupport import documents
from testsupport.hypothesis_profiles import examples
from tidegate.snapshot.builder import topic_configs

BASE = "/api/am/publisher/v4"
ROOT = Path(__file__).resolve().parents[2]

# bench/run.py's API (written inline there).
BENCH = """asyncapi: 2.0.0
info: {title: Bench, version: 1.0.0}
servers: {production: {url: 'ws://127.0.0.1:9', protocol: ws}}
channels:
  /echo: {publish: {}, subscribe: {}}
  /open: {publish: {}, x-auth-type: None}
"""

# What the converter carries beyond the suite's documents: messages (referenced, inline,
# oneOf, with ids), operationIds, parameters with what 3.0 says of them, servers with paths,
# tags and externalDocs at the root, operation security within x-scopes, traits, bindings,
# a channel opened with x-wso2-disable-security and one without operations.
FEATURES = {
    "asyncapi": "2.6.0",
    "id": "urn:example:features",
    "info": {"title": "Features", "version": "2.0.0", "x-owner": "team"},
    "tags": [{"name": "chat"}],
    "externalDocs": {"url": "https://example.com/docs"},
    "servers": {
        "production": {"url": "wss://chat.example.com:8443/ws/v1", "protocol": "wss", "description": "Live"},
        "sandbox": {"url": "ws://localhost:{port}", "protocol": "ws", "variables": {"port": {"default": "9000"}}},
    },
    "defaultContentType": "application/json",
    "channels": {
        "/rooms/{roomId}": {
            "description": "A room",
            "servers": ["production"],
            "parameters": {
                "roomId": {
                    "description": "The room",
                    "schema": {"type": "string", "enum": ["a", "b"], "default": "a", "examples": ["b"]},
                    "location": "$message.payload#/room",
                    "x-kept": 1,
                }
            },
            "bindings": {"ws": {"method": "GET"}},
            "publish": {
                "operationId": "sendToRoom",
                "summary": "Say something",
                "x-scopes": ["chat_write"],
                "x-uri-mapping": "/rooms?room={uri.var.roomId}",
                "security": [{"oauth2": ["chat_write"]}],
                "traits": [{"summary": "traited", "x-t": True}],
                "message": {
                    "oneOf": [
                        {"$ref": "#/components/messages/Chat"},
                        {"name": "Typing indicator", "payload": {"type": "boolean"}, "messageId": "typing"},
                    ]
                },
            },
            "subscribe": {
                "x-scopes": ["chat_read", "chat_write"],
                "message": {"$ref": "#/components/messages/Chat"},
                "x-other": {"kept": True},
            },
            "x-channel-note": "kept",
        },
        "/status": {
            "x-wso2-disable-security": True,
            "subscribe": {"message": {"payload": {"type": "string", "example": "ok"}}},
        },
        "/params/{p}": {"publish": {"operationId": "dup"}, "subscribe": {"operationId": "dup"}},
        "/silent": {"description": "no operations: no topic, before or after"},
    },
    "components": {
        "schemas": {"Text": {"type": "string"}},
        "messages": {
            "Chat": {
                "messageId": "chatMessage",
                "payload": {"type": "object", "properties": {"text": {"$ref": "#/components/schemas/Text"}}},
                "examples": [{"payload": {"text": "hi"}}],
                "traits": [{"$ref": "#/components/messageTraits/Json"}],
            },
            "Avro": {"schemaFormat": "application/vnd.apache.avro;version=1.9.0", "payload": {"type": "string"}},
        },
        "messageTraits": {"Json": {"contentType": "application/json"}},
        "parameters": {"Shared": {"schema": {"type": "string"}, "description": "shared"}},
        "securitySchemes": {
            "oauth2": {
                "type": "oauth2",
                "flows": {
                    "implicit": {
                        "authorizationUrl": "http://localhost:9999",
                        "scopes": {"chat_read": "Read", "chat_write": "Write"},
                        "x-scopes-bindings": {"chat_write": "admin"},
                    }
                },
            },
            "key": {"type": "httpApiKey", "name": "X-Key", "in": "header"},
        },
    },
    "x-throttling-tier": "Unlimited",
}


def _catalogue() -> dict[str, str | dict]:
    """Every 2.x definition the suite imports or builds, by where it comes from."""
    chat = documents.chat_doc("ws://127.0.0.1:9")
    out: dict[str, str | dict] = {
        "documents.CHAT_ASYNCAPI": documents.CHAT_ASYNCAPI,
        "documents.chat_doc": chat,
        "test_live_enforcement scoped chat": chat.replace(
            "  /plain:\n    publish: {}", "  /plain:\n    publish: {x-scopes: [chat_admin]}"
        ),
        "test_archives.WSO2_ASYNCAPI": WSO2_ASYNCAPI,
        "test_definition_security.OPS": OPS,
        "test_definition_security.GRAB": GRAB,
        "test_scope_security._ops": _ops("Ops", "ws://127.0.0.1:9", "ops_admin", "ops_admin: admin"),
        "test_scope_security._feed": _feed("ws://127.0.0.1:9"),
        "bench": BENCH,
        "demo/notifications.asyncapi.yaml": (ROOT / "demo" / "notifications.asyncapi.yaml").read_text(),
        "v2.blank_definition": v2.blank_definition(name="Blank", version="1.0.0", endpoint="ws://127.0.0.1:9"),
        "features": FEATURES,
        "API-wide security off": {**FEATURES, "x-wso2-disable-security": True},
    }
    for version in asyncapi.V2_VERSIONS:  # test_asyncapi's document in every 2.x version
        out[f"test_asyncapi.CHATS {version}"] = CHATS.replace("asyncapi: 2.0.0", f"asyncapi: {version}")
    return out


CATALOGUE = _catalogue()


def _validated(doc: str | dict) -> dict:
    return asyncapi.parse_and_validate(doc if isinstance(doc, str) else json.dumps(doc))


def _routes(definition: dict) -> RouteTable:
    api = ApiConfig(
        id="a",
        name="A",
        context="/ctx",
        version="1",
        lifecycle_status="PUBLISHED",
        revision=1,
        production_endpoint="ws://127.0.0.1:9",
        topics=topic_configs(definition),
    )
    return RouteTable(Snapshot(version=1, environments=("Default",), apis=(api,)))


def _paths(*definitions: dict) -> list[str]:
    """Paths a client may ask for: each topic with its parameters filled in, below a
    wildcard, with a trailing slash, and paths no topic has."""
    paths = ["/ctx/1", "/ctx/1/", "/ctx/1/nowhere/at/all", "/other/1/notifications"]
    for definition in definitions:
        for topic in asyncapi.topics(definition):
            filled = "/".join("p-1" if s.startswith("{") else s for s in topic.name.split("/"))
            filled = filled[:-2] + "/any/thing" if filled.endswith("/*") else filled
            paths += [f"/ctx/1{filled}", f"/ctx/1{filled}/", f"/ctx/1{filled}/deeper"]
    return paths


def _answers(table: RouteTable, paths: list[str]) -> list:
    out = []
    for path in paths:
        match = table.match(path)
        out.append(None if match is None else (match.topic, match.params))
    return out


def _assert_same_for_the_gateway(before: dict, after: dict) -> None:
    assert after["asyncapi"] == "3.0.0"
    assert asyncapi.validate_document(after) == after
    assert asyncapi.warnings(after) == []
    assert topic_configs(after) == topic_configs(before)
    paths = _paths(before, after)
    assert _answers(_routes(after), paths) == _answers(_routes(before), paths)
    assert asyncapi.declared_scopes(after) == asyncapi.declared_scopes(before)
    bindings = [asyncapi.implicit_flow(d).get("x-scopes-bindings") for d in (before, after)]
    assert bindings[0] == bindings[1]
    assert asyncapi.is_secured(after) == asyncapi.is_secured(before)
    for topic in asyncapi.topics(before):
        for verb in topic.verbs:
            assert asyncapi.message_example(after, topic.name, verb) == asyncapi.message_example(
                before, topic.name, verb
            )


# ---------------------------------------------------------------- the converter


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_2x_definition_of_the_suite_converts_with_the_same_gateway_behaviour(name):
    before = _validated(CATALOGUE[name])
    kept = copy.deepcopy(before)
    after = asyncapi.to_v3(before)
    assert before == kept  # the input is left as it was
    _assert_same_for_the_gateway(before, after)


@examples(60)
@given(valid_documents())
def test_any_valid_2x_document_converts_with_the_same_gateway_behaviour(doc):
    before = asyncapi.validate_document(doc)
    _assert_same_for_the_gateway(before, asyncapi.to_v3(before))


def test_the_converted_document_has_3_0_shapes_and_keeps_what_the_2x_one_said():
    after = asyncapi.to_v3(_validated(FEATURES))
    assert after["info"] == {
        "title": "Features",
        "version": "2.0.0",
        "x-owner": "team",
        "tags": [{"name": "chat"}],
        "externalDocs": {"url": "https://example.com/docs"},
    }
    assert "tags" not in after and after["id"] == "urn:example:features"
    assert after["servers"]["production"] == {
        "host": "chat.example.com:8443",
        "pathname": "/ws/v1",
        "protocol": "wss",
        "description": "Live",
    }
    assert after["servers"]["sandbox"]["host"] == "localhost:{port}"
    assert after["x-throttling-tier"] == "Unlimited"
    assert list(after["channels"]) == ["rooms_roomId", "status", "params_p", "silent"]

    room = after["channels"]["rooms_roomId"]
    assert room["address"] == "/rooms/{roomId}"
    assert room["servers"] == [{"$ref": "#/servers/production"}]
    assert room["parameters"]["roomId"] == {
        "description": "The room",
        "enum": ["a", "b"],
        "default": "a",
        "examples": ["b"],
        "location": "$message.payload#/room",
        "x-kept": 1,
    }
    assert room["x-channel-note"] == "kept" and room["bindings"] == {"ws": {"method": "GET"}}
    assert room["messages"] == {
        "chatMessage": {"$ref": "#/components/messages/Chat"},
        "typing": {"name": "Typing indicator", "payload": {"type": "boolean"}},
    }
    assert after["channels"]["params_p"]["parameters"] == {"p": {}}  # implied in 2.x, declared in 3.0

    ops = after["operations"]
    assert list(ops) == ["sendToRoom", "send_rooms_roomId", "send_status", "receive_params_p", "send_params_p"]
    send = ops["sendToRoom"]  # publish: the client sends, the API receives
    assert send["action"] == "receive" and send["channel"] == {"$ref": "#/channels/rooms_roomId"}
    assert send["messages"] == [
        {"$ref": "#/channels/rooms_roomId/messages/chatMessage"},
        {"$ref": "#/channels/rooms_roomId/messages/typing"},
    ]
    assert send["x-scopes"] == ["chat_write"] and send["x-uri-mapping"] == "/rooms?room={uri.var.roomId}"
    assert [r["scopes"] for r in send["security"]] == [["chat_write"]]
    assert send["security"][0]["flows"]["implicit"]["availableScopes"] == {"chat_read": "Read", "chat_write": "Write"}
    assert send["traits"] == [{"summary": "traited", "x-t": True}] and "operationId" not in send
    receive = ops["send_rooms_roomId"]
    assert receive["action"] == "send" and receive["x-other"] == {"kept": True}
    assert receive["messages"] == [{"$ref": "#/channels/rooms_roomId/messages/chatMessage"}]
    assert [r["scopes"] for r in receive["security"]] == [["chat_read"], ["chat_write"]]  # either will do

    assert after["channels"]["status"]["x-auth-type"] == "None"
    assert ops["send_status"]["x-auth-type"] == "None" and "security" not in ops["send_status"]

    components = after["components"]
    flow = components["securitySchemes"]["oauth2"]["flows"]["implicit"]
    assert flow["availableScopes"] == {"chat_read": "Read", "chat_write": "Write"} and "scopes" not in flow
    assert "messageId" not in components["messages"]["Chat"]
    assert components["messages"]["Avro"]["payload"] == {
        "schemaFormat": "application/vnd.apache.avro;version=1.9.0",
        "schema": {"type": "string"},
    }
    assert components["parameters"]["Shared"] == {"description": "shared"}


def _features(**changes) -> dict:
    """FEATURES with each ``changes`` key (a /-path) set to its value, or removed for None."""
    doc = copy.deepcopy(FEATURES)
    for path, value in changes.items():
        *parents, last = path.split("|")
        node = doc
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(last)
        else:
            node[last] = value
    return doc


ROOM = "channels|/rooms/{roomId}"
ROOM_POINTER = "/channels/~1rooms~1{roomId}"


@pytest.mark.parametrize(
    "doc, pointer, words",
    [
        (
            _features(**{"components|schemas|Text": {"$ref": "https://example.com/text.json"}}),
            "/components/schemas/Text/$ref",
            "not local",
        ),
        (
            _features(**{"components|schemas|Text": {"$ref": "#/channels/~1status/subscribe/message/payload"}}),
            "/components/schemas/Text/$ref",
            "points into a channel",
        ),
        (_features(**{"channels|/linked": {"$ref": "#/components/channels/x"}}), "/channels/~1linked", "reference"),
        (_features(**{f"{ROOM}|x-uri-mapping": "/all"}), f"{ROOM_POINTER}/x-uri-mapping", "not read in 2.x"),
        (
            _features(**{f"{ROOM}|subscribe|x-auth-type": "None"}),
            f"{ROOM_POINTER}/subscribe/x-auth-type",
            "not read in 2.x",
        ),
        (
            _features(**{f"{ROOM}|parameters|roomId|schema|pattern": "^[a-z]+$"}),
            f"{ROOM_POINTER}/parameters/roomId/schema/pattern",
            "cannot be said by a 3.0 parameter",
        ),
        (
            _features(**{f"{ROOM}|parameters|roomId|schema|type": "integer"}),
            f"{ROOM_POINTER}/parameters/roomId/schema/type",
            "cannot be said by a 3.0 parameter",
        ),
        (
            _features(**{f"{ROOM}|parameters|roomId|schema": {"$ref": "#/components/schemas/Text"}}),
            f"{ROOM_POINTER}/parameters/roomId/schema",
            "3.0 parameters have no schema",
        ),
        (
            _features(**{f"{ROOM}|publish|security": [{"oauth2": ["chat_read"]}]}),
            f"{ROOM_POINTER}/publish/security/0",
            "not in x-scopes",
        ),
        (
            _features(**{f"{ROOM}|publish|security": [{"key": ["chat_write"]}]}),
            f"{ROOM_POINTER}/publish/security/0/key",
            "only for oauth2 and openIdConnect",
        ),
        (
            _features(**{f"{ROOM}|publish|security": [{"oauth2": [], "key": []}]}),
            f"{ROOM_POINTER}/publish/security/0",
            "alternatives",
        ),
        (
            _features(**{"components|messageTraits|Json|messageId": "json"}),
            "/components/messageTraits/Json/messageId",
            "3.0 traits have no messageId",
        ),
        (
            _features(**{f"{ROOM}|publish|traits": [{"operationId": "x"}]}),
            f"{ROOM_POINTER}/publish/traits/0/operationId",
            "3.0 traits have no operationId",
        ),
        (
            _features(
                **{
                    "components|securitySchemes|other": {
                        "type": "oauth2",
                        "flows": {"clientCredentials": {"tokenUrl": "https://idp.example/t", "scopes": {"extra": "x"}}},
                    }
                }
            ),
            "/components/securitySchemes/other/flows/clientCredentials/scopes",
            "extra would become the API's scopes",
        ),
        (
            _features(**{"channels|/with space": {"publish": {}}}),
            "/channels/~1with space",
            "not be valid AsyncAPI 3.0.0",
        ),
    ],
)
def test_what_3_0_cannot_say_is_refused_naming_the_part(doc, pointer, words):
    before = _validated(doc)
    kept = copy.deepcopy(before)
    with pytest.raises(asyncapi.NotConvertible) as caught:
        asyncapi.to_v3(before)
    assert [e.pointer for e in caught.value.errors] == [pointer], caught.value.errors
    assert words in caught.value.errors[0].message and pointer in caught.value.errors[0].message
    assert before == kept


def test_a_3_0_document_is_no_input_for_the_converter():
    with pytest.raises(asyncapi.NotConvertible, match="only AsyncAPI 2.0.0-2.6.0"):
        asyncapi.to_v3(asyncapi.parse_and_validate(documents.CHAT_ASYNCAPI_V3))


# ---------------------------------------------------------------- REST


def _as(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def provider(db):
    return factories.user("provider", roles=["creator"])


@pytest.fixture
def chat(provider):
    return services.api_import_asyncapi(
        provider=provider, document=documents.CHAT_ASYNCAPI, properties={"context": "/chat"}
    )


def _convert(client, api, to="3.0.0", **headers):
    query = f"?to={to}" if to is not None else ""
    return client.post(f"{BASE}/apis/{api.id}/asyncapi/convert{query}", **headers)


def _state(api) -> tuple:
    api = Api.objects.get(pk=api.pk)
    return api.definition, services.api_etag(api), AuditEvent.objects.count()


@pytest.mark.django_db
def test_rest_converts_the_working_copy_in_place_and_records_it(provider, chat):
    client = _as(provider)
    before = client.get(f"{BASE}/apis/{chat.id}")
    etag = client.get(f"{BASE}/apis/{chat.id}/asyncapi")["ETag"]
    resp = _convert(client, chat, HTTP_IF_MATCH=etag)
    assert resp.status_code == 200, resp.content
    assert resp.json()["asyncapi"] == "3.0.0" and resp["ETag"] != etag
    stored = client.get(f"{BASE}/apis/{chat.id}/asyncapi")
    assert stored.json() == resp.json() and stored["ETag"] == resp["ETag"]
    _assert_same_for_the_gateway(chat.definition, resp.json())
    after = client.get(f"{BASE}/apis/{chat.id}").json()
    assert (after["operations"], after["scopes"]) == (before.json()["operations"], before.json()["scopes"])
    event = AuditEvent.objects.filter(action="api.definition.convert").get()
    assert (event.actor, event.target_id) == (provider, str(chat.id))
    assert event.detail == {"from": "2.0.0", "to": "3.0.0", "topics": ["/notifications", "/rooms/{roomID}", "/admin"]}

    # Already 3.0.0: answered the same, nothing changed and nothing recorded.
    again = _convert(client, chat)
    assert again.status_code == 200 and again.json() == resp.json() and again["ETag"] == resp["ETag"]
    assert AuditEvent.objects.filter(action="api.definition.convert").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("to", ["3.1.0", "2.6.0", "", None])
def test_rest_converts_to_3_0_0_only(provider, chat, to):
    state = _state(chat)
    resp = _convert(_as(provider), chat, to=to)
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 400 and "to must be 3.0.0" in body["description"]
    assert body["error"] == [{"field": "to", "message": "one of 3.0.0"}]
    assert _state(chat) == state


@pytest.mark.django_db
def test_rest_refuses_what_cannot_be_converted_naming_the_part_and_changes_nothing(provider, chat):
    text = documents.CHAT_ASYNCAPI.replace("roomID: {schema: {type: string}}", "roomID: {schema: {type: integer}}")
    services.api_definition_update(api=chat, document=text, user=provider)
    state = _state(chat)
    resp = _convert(_as(provider), chat)
    assert resp.status_code == 400
    body = resp.json()
    pointer = "/channels/~1rooms~1{roomID}/parameters/roomID/schema/type"
    assert body["description"].startswith("The definition cannot be converted to AsyncAPI 3.0.0 faithfully: " + pointer)
    assert [e["pointer"] for e in body["error"]] == [pointer]
    assert _state(chat) == state


@pytest.mark.django_db
def test_rest_conversion_is_the_provider_s_and_honours_if_match(provider, chat):
    state = _state(chat)
    other = factories.user("other", roles=["creator", "publisher"])
    resp = _convert(_as(other), chat)
    assert resp.status_code == 403
    assert resp.json()["description"] == "This API belongs to provider; only its provider or an admin may change it"
    assert _state(chat) == state

    stale = _state(chat)[1]
    services.api_update(api=chat, user=provider, changes={"description": "changed meanwhile"})
    state = _state(chat)
    resp = _convert(_as(provider), chat, HTTP_IF_MATCH=stale)
    assert resp.status_code == 412 and resp.json()["code"] == 412
    assert _state(chat) == state

    admin = factories.user("boss", roles=["admin", "creator"])
    assert _convert(_as(admin), chat, HTTP_IF_MATCH=state[1]).status_code == 200


@pytest.mark.django_db
def test_a_converted_api_deploys_to_the_same_gateway_routes(provider, chat):
    """The snapshot gateways get from the deployed revision routes the same before and after."""
    from tidegate.snapshot.builder import snapshot_build

    def deployed_routes():
        api = Api.objects.get(pk=chat.pk)
        factories.redeploy(api, provider)
        snapshot = snapshot_build(environments=["Default"], version=1)
        return RouteTable(snapshot), snapshot.apis[0].topics

    table, topics = deployed_routes()
    assert _convert(_as(provider), chat).status_code == 200
    table_after, topics_after = deployed_routes()
    assert Api.objects.get(pk=chat.pk).revisions.order_by("number").last().frozen["definition"]["asyncapi"] == "3.0.0"
    assert topics_after == topics
    paths = [p.replace("/ctx/1", "/chat/1.0.0") for p in _paths(chat.definition)]
    assert _answers(table_after, paths) == _answers(table, paths)


# ---------------------------------------------------------------- the Publisher page


def _web(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


BUTTON = "Convert to AsyncAPI 3.0"


@pytest.mark.django_db
def test_the_definition_tab_converts_with_its_button_and_then_shows_3_0(provider, chat):
    web = _web(provider)
    page = web.get(f"/publisher/apis/{chat.id}/definition").content.decode()
    assert BUTTON in page and "asyncapi: 2.0.0" in page
    resp = web.post(f"/publisher/apis/{chat.id}/definition/convert", {"etag": services.api_etag(chat)}, follow=True)
    page = resp.content.decode()
    assert resp.status_code == 200 and "Converted the definition to AsyncAPI 3.0.0" in page
    assert "asyncapi: 3.0.0" in page and "address: /rooms/{roomID}" in page
    assert BUTTON not in page  # a 3.0 definition has nothing to convert
    assert Api.objects.get(pk=chat.pk).definition["asyncapi"] == "3.0.0"


@pytest.mark.django_db
def test_the_definition_tab_shows_why_it_cannot_convert_and_changes_nothing(provider, chat):
    text = documents.CHAT_ASYNCAPI.replace("roomID: {schema: {type: string}}", "roomID: {schema: {type: integer}}")
    services.api_definition_update(api=chat, document=text, user=provider)
    state = _state(chat)
    resp = _web(provider).post(f"/publisher/apis/{chat.id}/definition/convert", {"etag": state[1]})
    page = resp.content.decode()
    assert resp.status_code == 200 and "Not converted" in page
    assert "/channels/~1rooms~1{roomID}/parameters/roomID/schema/type" in page
    assert _state(chat) == state


@pytest.mark.django_db
def test_only_those_who_may_change_the_api_see_the_button(provider, chat):
    other = factories.user("other", roles=["creator", "publisher"])
    assert BUTTON not in _web(other).get(f"/publisher/apis/{chat.id}/definition").content.decode()
    state = _state(chat)
    resp = _web(other).post(f"/publisher/apis/{chat.id}/definition/convert", {"etag": state[1]}, follow=True)
    assert "only its provider or an admin may change it" in resp.content.decode()
    assert _state(chat) == state

"""AsyncAPI 3.0 read and refused: the 2.x twins compile to the same gateway topics, every
inconsistency the schema cannot see is refused with the exact pointer (and line, for YAML),
and the readers and writers of stored documents keep what a 3.0 document says."""

import json

import pytest
import yaml

from portal.models import AuditEvent
from publisher import asyncapi
from publisher.models import Api
from testsupport import documents
from tidegate.snapshot.builder import topic_configs

BASE = "/api/am/publisher/v4"

# Line numbers below are this text's (1-based): the errors must name them.
ROOMS = """\
asyncapi: 3.0.0
info: {title: Rooms, version: 1.0.0}
servers:
  production: {host: 'backend.example:8080', pathname: /v1, protocol: ws}
channels:
  rooms:
    address: /rooms/{roomId}
    parameters:
      roomId: {description: The room}
    messages:
      chat: {payload: {type: string, examples: [hello]}}
  lobby:
    address: /lobby
operations:
  sendToRoom:
    action: receive
    channel: {$ref: '#/channels/rooms'}
    messages: [{$ref: '#/channels/rooms/messages/chat'}]
    x-uri-mapping: '/rooms?room={uri.var.roomId}'
    x-scopes: [chat_write]
    security:
      - {$ref: '#/components/securitySchemes/oauth2'}
  readRoom:
    action: send
    channel: {$ref: '#/channels/rooms'}
    security:
      - type: oauth2
        flows: {implicit: {authorizationUrl: 'http://localhost:9999', availableScopes: {}}}
        scopes: [chat_read]
  enterLobby:
    action: receive
    channel: {$ref: '#/channels/lobby'}
    x-auth-type: None
components:
  securitySchemes:
    oauth2:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: http://localhost:9999
          availableScopes: {chat_write: Write, chat_read: Read}
          x-scopes-bindings: {chat_write: admin}
"""


def _edit(old: str, new: str, text: str = ROOMS) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _refused(text: str) -> list[asyncapi.DefinitionError]:
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse_and_validate(text)
    return exc.value.errors


# ---------------------------------------------------------------- the 2.x twins


def test_rooms_reads_into_topics_scopes_mapping_and_an_open_topic():
    topics = {t.name: t for t in asyncapi.topics(asyncapi.parse_and_validate(ROOMS))}
    assert set(topics) == {"/rooms/{roomId}", "/lobby"}
    rooms = topics["/rooms/{roomId}"]
    # receive is what the client publishes, send what it subscribes to
    assert rooms.verbs == ("PUBLISH", "SUBSCRIBE")
    assert rooms.publish_scopes == ("chat_write",) and rooms.subscribe_scopes == ("chat_read",)
    assert rooms.uri_mapping == "/rooms?room={uri.var.roomId}" and rooms.parameters == ("roomId",)
    assert rooms.secured is True and topics["/lobby"].secured is False


@pytest.mark.parametrize(
    "v2, v3",
    [
        (documents.CHAT_ASYNCAPI, documents.CHAT_ASYNCAPI_V3),
        (documents.chat_doc("ws://127.0.0.1:9/echo"), documents.chat_doc_v3("ws://127.0.0.1:9/echo")),
    ],
    ids=["CHAT_ASYNCAPI", "chat_doc"],
)
def test_a_3_0_twin_gives_the_gateway_the_same_topics_as_its_2_x_document(v2, v3):
    twin = asyncapi.parse_and_validate(v3)
    assert twin["asyncapi"] == "3.0.0"
    configs = topic_configs(twin)
    assert configs == topic_configs(asyncapi.parse_and_validate(v2))
    assert {t.name for t in configs} >= {"/notifications", "/rooms/{roomID}", "/admin"}
    assert asyncapi.server_url(twin, "production") == asyncapi.server_url(asyncapi.parse_and_validate(v2), "production")


# ---------------------------------------------------------------- inconsistencies, with pointer and line


@pytest.mark.parametrize(
    "old, new, pointer, line, fragment",
    [
        pytest.param(
            "channel: {$ref: '#/channels/lobby'}",
            "channel: {$ref: '#/channels/hall'}",
            "/operations/enterLobby/channel",
            32,
            "channel '#/channels/hall' is not a channel of this document",
            id="operation-to-a-missing-channel",
        ),
        pytest.param(
            "messages: [{$ref: '#/channels/rooms/messages/chat'}]",
            "messages: [{$ref: '#/channels/lobby/messages/chat'}]",
            "/operations/sendToRoom/messages/0",
            18,
            "message '#/channels/lobby/messages/chat' is not a message of channel 'rooms'",
            id="message-not-in-its-channel",
        ),
        pytest.param(
            "messages: [{$ref: '#/channels/rooms/messages/chat'}]",
            "messages: [{$ref: '#/channels/rooms/messages/shout'}]",
            "/operations/sendToRoom/messages/0",
            18,
            "message '#/channels/rooms/messages/shout' is not a message of channel 'rooms'",
            id="message-missing-from-its-channel",
        ),
        pytest.param(
            "scopes: [chat_read]",
            "scopes: [chat_delete]",
            "/operations/readRoom/security/0/scopes",
            29,
            "scope 'chat_delete' is not defined by any scheme",
            id="undeclared-scope-in-a-security-requirement",
        ),
        pytest.param(
            "x-scopes: [chat_write]",
            "x-scopes: [chat_delete]",
            "/operations/sendToRoom/x-scopes",
            20,
            "Scope 'chat_delete' not found: declare it under components.securitySchemes.oauth2.flows.implicit.availableScopes",
            id="undeclared-scope-in-x-scopes",
        ),
        pytest.param(
            "address: /rooms/{roomId}",
            "address: /rooms/{roomId}/{seat}",
            "/channels/rooms/address",
            7,
            "parameter {seat} of the address is not declared under parameters",
            id="address-parameter-not-declared",
        ),
        pytest.param(
            "address: /rooms/{roomId}",
            "address: /rooms/room-{roomId}",
            "/channels/rooms/address",
            7,
            "'room-{roomId}': a parameter must be a whole path segment",
            id="parameter-not-a-whole-segment",
        ),
        pytest.param(
            "address: /lobby",
            "address: /rooms/{roomId}\n    parameters: {roomId: {}}",
            "/channels/lobby/address",
            13,
            "address /rooms/{roomId} is also the address of channel 'rooms'",
            id="two-channels-one-address",
        ),
        pytest.param(
            "address: /lobby",
            "address: lobby",
            "/channels/lobby/address",
            13,
            "address 'lobby' must be a path starting with '/'",
            id="address-without-a-slash",
        ),
        pytest.param(
            "    action: send\n",
            "    action: receive\n",
            "/operations/readRoom",
            23,
            "channel 'rooms' already has a receive operation ('sendToRoom')",
            id="two-receive-operations-on-one-channel",
        ),
        pytest.param(
            "{$ref: '#/components/securitySchemes/oauth2'}",
            "{$ref: '#/components/securitySchemes/apiKey'}",
            "/operations/sendToRoom/security/0",
            22,
            "security scheme '#/components/securitySchemes/apiKey' is not defined",
            id="security-ref-to-a-missing-scheme",
        ),
        pytest.param(
            "asyncapi: 3.0.0",
            "asyncapi: 3.1.0",
            "/asyncapi",
            1,
            "AsyncAPI 3.1.0 is not supported",
            id="3.1.0",
        ),
        pytest.param(
            "asyncapi: 3.0.0",
            "asyncapi: 3.0.1",
            "/asyncapi",
            1,
            "AsyncAPI 3.0.1 is not supported",
            id="3.0.1",
        ),
        pytest.param(
            "availableScopes: {chat_write: Write, chat_read: Read}",
            "availableScopes: {chat_write: Write, chat_read: Read, 'apim:api_create': Mine}",
            "/components/securitySchemes/oauth2/flows/implicit/availableScopes/apim:api_create",
            41,
            "Scope 'apim:api_create' is reserved",
            id="reserved-apim-scope-declared",
        ),
        pytest.param(
            "x-scopes-bindings: {chat_write: admin}",
            "x-scopes-bindings: {Chat_write: admin}",
            "/components/securitySchemes/oauth2/flows/implicit/x-scopes-bindings/Chat_write",
            42,
            "binding for 'Chat_write': no such scope is declared",
            id="binding-of-a-mistyped-scope",
        ),
        pytest.param(
            "x-scopes-bindings: {chat_write: admin}",
            "x-scopes-bindings: {chat_write: ' , '}",
            "/components/securitySchemes/oauth2/flows/implicit/x-scopes-bindings/chat_write",
            42,
            "binding for 'chat_write' names no role",
            id="binding-naming-no-role",
        ),
        pytest.param(
            "x-scopes-bindings: {chat_write: admin}",
            "x-scopes-bindings: [chat_write]",
            "/components/securitySchemes/oauth2/flows/implicit/x-scopes-bindings",
            42,
            "x-scopes-bindings must map scope names to comma-separated roles",
            id="bindings-not-a-mapping",
        ),
    ],
)
def test_an_inconsistent_3_0_document_is_refused_at_the_exact_place(old, new, pointer, line, fragment):
    [error] = _refused(_edit(old, new))
    assert (error.pointer, error.line) == (pointer, line), error
    assert fragment in error.message


def test_the_3_0_version_refusals_name_what_is_read():
    [error] = _refused(_edit("asyncapi: 3.0.0", "asyncapi: 3.1.0"))
    assert error.message.startswith("AsyncAPI 3.1.0 is not supported: Tidegate reads 2.0.0")
    assert error.message.endswith("and 3.0.0")


@pytest.mark.django_db
def test_validate_asyncapi_reports_a_3_0_inconsistency_with_pointer_and_line(client):
    text = _edit("address: /rooms/{roomId}", "address: /rooms/{roomId}/{seat}")
    resp = client.post(f"{BASE}/apis/validate-asyncapi", {"inlineAPIDefinition": text}, format="multipart")
    assert resp.status_code == 200
    assert resp.json()["isValid"] is False
    [error] = resp.json()["errors"]
    assert (error["pointer"], error["line"]) == ("/channels/rooms/address", 7)
    assert "{seat}" in error["message"]


@pytest.mark.django_db
def test_import_asyncapi_refuses_an_inconsistent_3_0_document_and_creates_nothing(client):
    text = _edit("channel: {$ref: '#/channels/lobby'}", "channel: {$ref: '#/channels/hall'}")
    audits = AuditEvent.objects.count()
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"inlineAPIDefinition": text, "additionalProperties": json.dumps({"context": "/rooms"})},
        format="multipart",
    )
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 400 and body["message"]
    assert [(e["pointer"], e["line"]) for e in body["error"]] == [("/operations/enterLobby/channel", 32)]
    assert Api.objects.count() == 0 and AuditEvent.objects.count() == audits


@pytest.mark.django_db
def test_import_asyncapi_takes_a_3_0_document_as_it_is(client):
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"inlineAPIDefinition": ROOMS, "additionalProperties": json.dumps({"context": "/rooms"})},
        format="multipart",
    )
    assert resp.status_code == 201, resp.content[:300]
    api = Api.objects.get(pk=resp.json()["id"])
    assert api.definition == asyncapi.parse_and_validate(ROOMS)
    assert api.production_endpoint == "ws://backend.example:8080/v1"
    ops = {(o["target"], o["verb"]): o for o in resp.json()["operations"]}
    assert ops["/rooms/{roomId}", "PUBLISH"]["scopes"] == ["chat_write"]
    assert ops["/lobby", "PUBLISH"]["authType"] == "None"


# ---------------------------------------------------------------- channels without an address


@pytest.mark.parametrize("address", ["    address: null\n", ""], ids=["null", "absent"])
def test_a_channel_without_an_address_is_valid_no_topic_and_a_warning(address):
    text = _edit("  lobby:\n", "  drafts:\n" + address + "    description: Not routed yet\n  lobby:\n")
    doc = asyncapi.parse_and_validate(text)
    assert "drafts" in doc["channels"]
    assert [t.name for t in topic_configs(doc)] == ["/rooms/{roomId}", "/lobby"]
    [warning] = asyncapi.warnings(doc)
    assert warning.pointer == "/channels/drafts"
    assert "channel 'drafts' has no address: it is not a topic" in warning.message
    assert asyncapi.warnings(asyncapi.parse_and_validate(ROOMS)) == []


def test_operations_on_a_channel_without_an_address_are_no_topic():
    text = _edit("    address: /lobby\n", "    address: null\n")
    doc = asyncapi.parse_and_validate(text)
    assert [t.name for t in asyncapi.topics(doc)] == ["/rooms/{roomId}"]
    assert [w.pointer for w in asyncapi.warnings(doc)] == ["/channels/lobby"]


# ---------------------------------------------------------------- with_design on 3.0


def _design(doc):
    ops = [o.as_dict() for o in asyncapi.operations(doc)]
    scopes = [
        {
            "scope": {
                "name": n,
                "description": d,
                "bindings": asyncapi.binding_roles(asyncapi.implicit_flow(doc).get("x-scopes-bindings", {}).get(n))
                or [],
            }
        }
        for n, d in asyncapi.declared_scopes(doc).items()
    ]
    return ops, scopes


def test_with_design_of_its_own_design_keeps_a_3_0_document_and_its_topics():
    text = _edit("  lobby:\n", "  drafts:\n    address: null\n    description: Not routed yet\n  lobby:\n")
    doc = asyncapi.parse_and_validate(text)
    ops, scopes = _design(doc)
    again = asyncapi.validate_document(asyncapi.with_design(doc, operations=ops, scopes=scopes))
    assert again["asyncapi"] == "3.0.0"
    assert topic_configs(again) == topic_configs(doc)
    assert asyncapi.declared_scopes(again) == asyncapi.declared_scopes(doc)
    assert asyncapi.implicit_flow(again)["x-scopes-bindings"] == {"chat_write": "admin"}
    # Channel ids, their messages, parameters' descriptions and the channel without address stay.
    assert list(again["channels"]) == ["drafts", "rooms", "lobby"]
    assert again["channels"]["drafts"] == {"address": None, "description": "Not routed yet"}
    assert again["channels"]["rooms"]["messages"] == doc["channels"]["rooms"]["messages"]
    assert again["channels"]["rooms"]["parameters"] == {"roomId": {"description": "The room"}}
    assert set(again["operations"]) == {"sendToRoom", "readRoom", "enterLobby"}
    assert again["operations"]["sendToRoom"]["messages"] == [{"$ref": "#/channels/rooms/messages/chat"}]
    assert asyncapi.message_example(again, "/rooms/{roomId}") == "hello"


def test_with_design_writes_new_topics_scopes_and_security_in_3_0_shapes():
    doc = asyncapi.parse_and_validate(ROOMS)
    ops, scopes = _design(doc)
    ops.append({"target": "/hall/{seat}", "verb": "SUBSCRIBE", "scopes": ["chat_read", "hall"], "authType": "Any"})
    ops.append({"target": "/hall/{seat}", "verb": "PUBLISH", "scopes": [], "authType": "None", "uriMapping": "/h"})
    scopes.append({"scope": {"name": "hall", "description": "Hall", "bindings": ["usher"]}})
    new = asyncapi.validate_document(asyncapi.with_design(doc, operations=ops, scopes=scopes, secured=True))
    assert new["asyncapi"] == "3.0.0"
    assert new["channels"]["hall_seat"] == {"address": "/hall/{seat}", "parameters": {"seat": {}}}
    send, receive = new["operations"]["send_hall_seat"], new["operations"]["receive_hall_seat"]
    assert (send["action"], receive["action"]) == ("send", "receive")
    assert send["channel"] == receive["channel"] == {"$ref": "#/channels/hall_seat"}
    assert send["x-scopes"] == ["chat_read", "hall"]
    assert [r["scopes"] for r in send["security"]] == [["chat_read"], ["hall"]]  # either one will do
    assert receive["x-auth-type"] == "None" and "security" not in receive and receive["x-uri-mapping"] == "/h"
    hall = next(t for t in topic_configs(new) if t.name == "/hall/{seat}")
    assert hall.subscribe_scopes == ("chat_read", "hall") and hall.uri_mapping == "/h" and hall.secured is False
    assert asyncapi.implicit_flow(new)["availableScopes"]["hall"] == "Hall"
    assert asyncapi.implicit_flow(new)["x-scopes-bindings"]["hall"] == "usher"
    # API-wide security off and on again, at the root as in 2.x.
    off = asyncapi.validate_document(asyncapi.with_design(new, secured=False))
    assert off["x-wso2-disable-security"] is True and not any(t.secured for t in topic_configs(off))
    assert asyncapi.with_design(off, secured=True) == new


def test_with_design_dropping_a_topic_drops_its_channel_and_operations_only():
    doc = asyncapi.parse_and_validate(ROOMS)
    ops = [o.as_dict() for o in asyncapi.operations(doc) if o.target != "/lobby"]
    new = asyncapi.validate_document(asyncapi.with_design(doc, operations=ops))
    assert list(new["channels"]) == ["rooms"] and set(new["operations"]) == {"sendToRoom", "readRoom"}
    assert [t.name for t in topic_configs(new)] == ["/rooms/{roomId}"]


# ---------------------------------------------------------------- message examples


MESSAGES = """\
asyncapi: 3.0.0
info: {title: Messages, version: 1.0.0}
channels:
  orders:
    address: /orders
    messages:
      placed: {$ref: '#/components/messages/placed'}
      cancelled: {payload: {type: object, examples: [{id: 7, reason: late}]}}
  quotes:
    address: /quotes
    messages:
      quote:
        payload:
          schemaFormat: application/schema+json;version=draft-07
          schema: {type: object, example: {price: 12.5}}
  silent:
    address: /silent
operations:
  placeOrder:
    action: receive
    channel: {$ref: '#/channels/orders'}
    messages: [{$ref: '#/channels/orders/messages/cancelled'}]
  orderEvents:
    action: send
    channel: {$ref: '#/channels/orders'}
  quoteFeed:
    action: send
    channel: {$ref: '#/channels/quotes'}
  quiet:
    action: receive
    channel: {$ref: '#/channels/silent'}
components:
  messages:
    placed:
      payload: {type: object}
      examples:
        - {payload: {id: 7, state: placed}}
"""


@pytest.mark.parametrize(
    "topic, verb, example",
    [
        ("/orders", "PUBLISH", {"id": 7, "reason": "late"}),  # the operation's own message, payload examples
        ("/orders", "SUBSCRIBE", {"id": 7, "state": "placed"}),  # no messages: the channel's first, a $ref
        ("/quotes", "SUBSCRIBE", {"price": 12.5}),  # a multi-format schema {schemaFormat, schema}
        ("/quotes", "PUBLISH", None),  # no such operation
        ("/silent", "PUBLISH", None),  # no message at all
        ("/nowhere", "PUBLISH", None),
    ],
)
def test_message_examples_of_a_3_0_document(topic, verb, example):
    doc = asyncapi.parse_and_validate(MESSAGES)
    text = asyncapi.message_example(doc, topic, verb)
    assert (json.loads(text) if text else None) == example


def test_a_text_payload_example_is_given_as_it_is():
    doc = asyncapi.parse_and_validate(ROOMS)
    assert asyncapi.message_example(doc, "/rooms/{roomId}", "PUBLISH") == "hello"
    assert yaml.safe_load(asyncapi.to_yaml(doc)) == doc

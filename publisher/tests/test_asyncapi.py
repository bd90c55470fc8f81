import re

import pytest

from publisher import asyncapi
from testsupport import documents

CHATS = documents.asyncapi_doc(
    "Chats",
    "ws://localhost:8080",
    """\
  /notifications:
    publish:
      x-uri-mapping: /notifications
      x-scopes: [reader]
    subscribe:
      x-uri-mapping: /subs
  /rooms/{roomID}:
    parameters:
      roomID: {description: '', schema: {type: string}}
    subscribe:
      x-uri-mapping: '/rooms?room={uri.var.roomID}'
  /open:
    publish: {}
    x-auth-type: None
""",
    scopes="reader: Read things",
    bindings="reader: admin",
)


def test_channels_become_publish_and_subscribe_operations():
    doc = asyncapi.parse_and_validate(CHATS)
    ops = {(o.target, o.verb): o for o in asyncapi.operations(doc)}
    assert set(ops) == {
        ("/notifications", "PUBLISH"),
        ("/notifications", "SUBSCRIBE"),
        ("/rooms/{roomID}", "SUBSCRIBE"),
        ("/open", "PUBLISH"),
    }
    assert ops[("/notifications", "PUBLISH")].scopes == ("reader",)
    assert ops[("/rooms/{roomID}", "SUBSCRIBE")].uri_mapping == "/rooms?room={uri.var.roomID}"
    assert ops[("/open", "PUBLISH")].auth_type == "None"


def test_publish_settings_win_when_a_topic_has_both_verbs():
    topics = {t.name: t for t in asyncapi.topics(asyncapi.parse_and_validate(CHATS))}
    assert topics["/notifications"].uri_mapping == "/notifications"
    assert topics["/notifications"].scopes == ("reader",)
    assert topics["/notifications"].verbs == ("PUBLISH", "SUBSCRIBE")
    assert topics["/open"].secured is False
    assert topics["/rooms/{roomID}"].parameters == ("roomID",)


def test_wso2_map_form_of_x_scopes_is_read_and_written_as_a_list():
    doc = asyncapi.parse_and_validate(CHATS.replace("x-scopes: [reader]", 'x-scopes: {"0": reader}'))
    assert doc["channels"]["/notifications"]["publish"]["x-scopes"] == ["reader"]


def test_json_documents_are_accepted():
    import json

    import yaml

    doc = asyncapi.parse_and_validate(json.dumps(yaml.safe_load(CHATS)))
    assert "/rooms/{roomID}" in doc["channels"]


def test_undeclared_scope_is_reported_with_pointer_and_line():
    text = CHATS.replace("scopes: {reader: Read things}", "scopes: {}")
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse_and_validate(text)
    # Its binding now binds nothing declared: reported after the topic's error.
    error, binding = exc.value.errors
    assert binding.pointer == "/components/securitySchemes/oauth2/flows/implicit/x-scopes-bindings/reader"
    assert "Scope 'reader' not found" in error.message
    assert error.pointer == "/channels/~1notifications/publish/x-scopes"
    assert error.line == 9


def test_schema_errors_carry_json_pointer_and_yaml_line():
    text = CHATS.replace("info: {title: Chats, version: 1.0.0}", "info: {title: Chats}")
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse_and_validate(text)
    assert any(e.pointer == "/info" and e.line == 2 and "version" in e.message for e in exc.value.errors)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n", "'asyncapi' must be one of"),
        ("asyncapi: 3.1.0\ninfo: {title: x, version: '1'}\n", "AsyncAPI 3.1.0 is not supported"),
        ("asyncapi: 3.0.1\ninfo: {title: x, version: '1'}\n", "AsyncAPI 3.0.1 is not supported"),
        ("asyncapi: 1.2.0\ninfo: {title: x, version: '1'}\n", "'asyncapi' must be one of"),
        ("asyncapi: [unclosed\n", "not valid YAML or JSON"),
        ("- just\n- a list\n", "must be a mapping"),
        ("", "document is empty"),
    ],
)
def test_documents_that_are_not_asyncapi_2_or_3_0_are_refused_naming_the_version(text, fragment):
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse_and_validate(text)
    assert fragment in str(exc.value)


def test_yaml_aliases_are_refused_so_alias_bombs_cannot_expand():
    bomb = "asyncapi: 2.0.0\na: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse(bomb)
    assert "aliases are not allowed" in str(exc.value)
    assert exc.value.errors[0].line == 3


def test_oversized_documents_are_refused_before_parsing():
    with pytest.raises(asyncapi.InvalidDefinition, match="larger than"):
        asyncapi.parse(b"a" * (asyncapi.MAX_DOCUMENT_BYTES + 1))


def test_blank_definition_has_the_default_catch_all_topic_and_validates():
    doc = asyncapi.blank_definition(name="Blank", version="1.0.0", endpoint="ws://backend:1/x")
    assert asyncapi.validate(asyncapi.ParsedDocument(doc, {})) == doc
    assert [t.name for t in asyncapi.topics(doc)] == ["/*"]


@pytest.mark.django_db
@pytest.mark.parametrize("version", asyncapi.SUPPORTED_VERSIONS)
def test_definitions_are_validated_without_node_modules(version, settings, tmp_path):
    """The AsyncAPI schemas ship with the code (publisher/schemas): an install without
    node_modules (here BASE_DIR points to an empty folder) still validates every version."""
    from rest_framework.test import APIClient

    from tests import factories

    settings.BASE_DIR = tmp_path  # no node_modules below it
    asyncapi._schema.cache_clear()  # nothing read before this test counts
    client = APIClient()
    client.force_authenticate(factories.user("pub", roles=["creator", "publisher"]))
    if version.startswith("3."):
        valid = documents.CHAT_ASYNCAPI_V3
    else:
        valid = CHATS.replace("asyncapi: 2.0.0", f"asyncapi: {version}")
    invalid = re.sub(r"info: \{title: (\w+), version: 1.0.0\}", r"info: {title: \1}", valid)
    assert invalid != valid
    answers = [
        client.post("/api/am/publisher/v4/apis/validate-asyncapi", {"inlineAPIDefinition": text}, format="multipart")
        for text in (valid, invalid)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["isValid"] is True
    assert answers[1].json()["isValid"] is False and answers[1].json()["errors"][0]["pointer"] == "/info"
    assert "node_modules" not in str(asyncapi.SCHEMAS)


def test_a_schema_error_in_3_0_points_at_the_field_not_at_the_reference_alternative():
    """Nearly every 3.0 object may be a ``$ref`` instead; the error must still name the field
    the author got wrong, with its line, not "not valid under any of the given schemas"."""
    text = documents.CHAT_ASYNCAPI_V3.replace("    action: send\n", "    action: [send]\n", 1)
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse_and_validate(text)
    (error,) = exc.value.errors
    assert error.pointer == "/operations/receiveNotifications/action"
    assert "is not of type 'string'" in error.message
    assert text.splitlines()[error.line - 1].strip() == "action: [send]"


def test_readers_of_a_stored_3_0_document_of_the_wrong_shape_read_it_as_empty():
    doc = {
        "asyncapi": "3.0.0",
        "channels": {"a": 5},
        "operations": {"o": {"action": ["receive"], "channel": {"$ref": "#/channels/a"}, "messages": [7]}},
    }
    assert asyncapi.topics(doc) == [] and asyncapi.warnings(doc) == []
    with pytest.raises(asyncapi.InvalidDefinition):
        asyncapi.validate_document(doc)


def test_a_3_0_message_id_with_a_slash_is_found_through_its_escaped_reference():
    text = documents.CHAT_ASYNCAPI_V3.replace(
        "  notifications:\n    address: /notifications\n",
        "  notifications:\n    address: /notifications\n    messages:\n      chat/line: {payload: {type: string}}\n",
    ).replace(
        "  sendNotification:\n    action: receive\n",
        "  sendNotification:\n    action: receive\n    messages: [{$ref: '#/channels/notifications/messages/chat~1line'}]\n",
    )
    assert "chat~1line" in text
    doc = asyncapi.parse_and_validate(text)
    assert "/notifications" in [t.name for t in asyncapi.topics(doc)]


def test_a_2x_document_has_no_warnings_and_a_3_0_channel_without_address_has_one():
    """The facade's ``warnings`` answers for both versions (on 2.x it raised AttributeError)."""
    assert asyncapi.warnings(asyncapi.parse_and_validate(documents.CHAT_ASYNCAPI)) == []
    text = documents.CHAT_ASYNCAPI_V3.replace("  admin:\n    address: /admin\n", "  admin:\n    address: null\n")
    (warning,) = asyncapi.warnings(asyncapi.parse_and_validate(text))
    assert warning.pointer == "/channels/admin" and "has no address" in warning.message


@pytest.mark.parametrize(
    "address",
    ["/rooms/{a}/{a}", "/x/{id}/y/{id}"],
)
@pytest.mark.parametrize("version", ["2.x", "3.0"])
def test_a_topic_naming_a_parameter_twice_is_refused(address, version):
    # Which value would {uri.var.a} take? Gateways given such a topic could not build their
    # routes (since fixed there too); the Publisher no longer accepts it.
    from testsupport import documents

    if version == "2.x":
        text = documents.asyncapi_doc("Dup", "ws://backend:1", f"  {address}:\n    subscribe: {{}}\n")
    else:
        text = documents.asyncapi3_doc(
            "Dup",
            "ws://backend:1",
            f"  dup:\n    address: '{address}'\n    parameters: {{{asyncapi.path_parameters(address)[0]}: {{}}}}\n",
            "  receiveDup: {action: receive, channel: {$ref: '#/channels/dup'}}\n",
        )
    with pytest.raises(asyncapi.InvalidDefinition) as refused:
        asyncapi.parse_and_validate(text)
    assert "appears more than once" in str([e.message for e in refused.value.errors])

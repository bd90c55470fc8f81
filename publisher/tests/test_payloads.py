"""publisher.asyncapi.payloads: which schema each topic's messages have, per direction, bundled
to stand alone; and (Hypothesis) that no document, whatever its shape, makes it raise."""

import copy

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gateway_contract.payloads import compile_schema
from publisher import asyncapi
from publisher.asyncapi import payloads
from publisher.tests.fuzz_strategies import broken_documents, valid_documents
from testsupport import documents
from testsupport.fuzz import json_values, mutated
from testsupport.hypothesis_profiles import examples


def _doc(version: str) -> dict:
    return yaml.safe_load(documents.orders_doc("ws://127.0.0.1:1", version))


def _check(schema):
    return compile_schema(schema)


@pytest.mark.parametrize("version", documents.VERSIONS)
def test_both_versions_give_the_same_schemas(version):
    schemas = asyncapi.message_schemas(_doc(version))
    assert set(schemas) == {"/orders", "/tree", "/notes"}
    orders = schemas["/orders"]
    check = _check(orders["PUBLISH"].schema)
    assert check({"symbol": "A", "qty": 1}) is None
    assert check({"symbol": "A", "qty": 0}) == ("/qty", "must be bigger than or equal to 1")
    receive = _check(orders["SUBSCRIBE"].schema)
    assert [m.pointer for m in orders["SUBSCRIBE"].messages] == [
        "/components/messages/fill/payload",
        "/components/messages/reject/payload",
    ]
    assert receive({"symbol": "A", "price": 1}) is None
    assert receive({"reason": "no"}) is None
    assert receive({"symbol": "A", "price": 1, "reason": "both"}) is None  # anyOf: overlapping messages pass
    assert receive({"symbol": "A"}) is not None
    assert schemas["/notes"]["PUBLISH"].schema is None  # text/plain
    assert schemas["/notes"]["PUBLISH"].content_type == "text/plain"
    assert _doc_schemas_equal(version)


def _doc_schemas_equal(version: str) -> bool:
    other = "3.0" if version == "2.x" else "2.x"

    def flat(v):
        return {t: {d: (p.schema if p else None) for d, p in e.items()} for t, e in asyncapi.message_schemas(v).items()}

    return flat(_doc(version)) == flat(_doc(other))


def test_a_recursive_schema_is_bundled_once_and_validates_at_depth():
    schema = asyncapi.message_schemas(_doc("2.x"))["/tree"]["PUBLISH"].schema
    assert list(schema["$defs"]) == ["Node"]
    assert schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    check = _check(schema)
    deep: dict = {"value": 0}
    for i in range(50):
        deep = {"value": i, "children": [deep]}
    assert check(deep) is None
    assert check({"children": [{"children": [{"value": "x"}]}]}) == ("/children/0/children/0/value", "must be integer")


def test_references_chain_and_nest_and_a_schema_needs_no_document():
    doc = _doc("3.0")
    doc["components"]["schemas"]["Symbol"] = {"$ref": "#/components/schemas/Ticker"}
    doc["components"]["schemas"]["Ticker"] = {"type": "string", "pattern": "^[A-Z]+$", "$id": "https://x.example/t"}
    doc["components"]["schemas"]["Order"]["properties"]["symbol"] = {"$ref": "#/components/schemas/Symbol"}
    found = asyncapi.message_schemas(doc)["/orders"]["PUBLISH"]
    assert set(found.schema["$defs"]) == {"Order", "Symbol", "Ticker"}
    assert "$id" not in found.schema["$defs"]["Ticker"]  # no base URI to send a reference elsewhere
    check = _check(copy.deepcopy(found.schema))
    assert check({"symbol": "ACME", "qty": 1}) is None
    assert check({"symbol": "acme", "qty": 1})[0] == "/symbol"


def test_3_0_operation_messages_else_the_channels_and_an_empty_list_is_none():
    doc = _doc("3.0")
    assert len(asyncapi.message_schemas(doc)["/orders"]["PUBLISH"].messages) == 1  # the operation's
    del doc["operations"]["placeOrder"]["messages"]
    assert len(asyncapi.message_schemas(doc)["/orders"]["PUBLISH"].messages) == 3  # the channel's
    doc["operations"]["placeOrder"]["messages"] = []
    assert asyncapi.message_schemas(doc)["/orders"]["PUBLISH"] is None


@pytest.mark.parametrize(
    ("payload", "validated"),
    [
        ({"schemaFormat": "application/vnd.apache.avro;version=1.9.0", "schema": {"type": "record"}}, False),
        ({"schemaFormat": "application/schema+json;version=draft-07", "schema": {"type": "integer"}}, True),
        ({"schemaFormat": "application/vnd.aai.asyncapi+yaml;version=3.0.0", "schema": {"type": "integer"}}, True),
    ],
)
def test_3_0_multi_format_schemas_only_json_schema_is_validated(payload, validated):
    doc = _doc("3.0")
    doc["components"]["messages"]["order"]["payload"] = payload
    found = asyncapi.message_schemas(doc)["/orders"]["PUBLISH"]
    assert (found.schema is not None) is validated
    if validated:
        assert _check(found.schema)(7) is None and _check(found.schema)("7") == ("", "must be integer")


@pytest.mark.parametrize(
    ("default", "own", "validated"),
    [
        (None, None, True),
        ("application/xml", None, False),
        ("application/xml", "application/cloudevents+json; charset=utf-8", True),
        (None, "text/plain", False),
    ],
)
def test_the_content_type_decides_whether_json_is_validated(default, own, validated):
    doc = _doc("2.x")
    if default:
        doc["defaultContentType"] = default
    if own:
        doc["components"]["messages"]["order"]["contentType"] = own
    found = asyncapi.message_schemas(doc)["/orders"]["PUBLISH"]
    assert (found.schema is not None) is validated
    assert found.content_type == (own or default or "application/json")


def test_a_message_without_payload_takes_any_json():
    doc = _doc("2.x")
    del doc["components"]["messages"]["order"]["payload"]
    assert _check(asyncapi.message_schemas(doc)["/orders"]["PUBLISH"].schema)(["anything"]) is None


def test_a_property_named_like_a_keyword_is_a_schema_and_data_keywords_are_left_alone():
    doc = _doc("2.x")
    doc["components"]["schemas"]["Order"]["properties"] = {
        "$ref": {"$ref": "#/components/schemas/Node"},
        "id": {"type": "string"},
        "kind": {"enum": ["a", {"$id": "data"}], "default": {"$id": "data"}},
    }
    schema = asyncapi.message_schemas(doc)["/orders"]["PUBLISH"].schema
    props = schema["$defs"]["Order"]["properties"]
    assert props["$ref"] == {"$ref": "#/$defs/Node"} and props["id"] == {"type": "string"}
    assert props["kind"] == {"enum": ["a", {"$id": "data"}], "default": {"$id": "data"}}
    assert asyncapi.payload_errors(doc) == []


@given(broken_documents())
@examples(150)
def test_any_broken_document_is_read_without_an_exception(doc):
    _read_everything(doc)


@given(st.one_of(json_values, mutated(st.sampled_from(documents.VERSIONS).map(_doc), root=True)))
@examples(150)
def test_any_shape_is_read_without_an_exception(doc):
    _read_everything(doc)


@given(valid_documents())
@examples(50)
def test_every_schema_of_a_document_without_errors_compiles(doc):
    _read_everything(doc)


def _read_everything(doc):
    """Extraction never raises; a schema it gives either compiles or payload_errors names it."""
    schemas = asyncapi.message_schemas(doc)
    errors = asyncapi.payload_errors(doc)
    assert all(e.pointer == "" or e.pointer.startswith("/") for e in errors)
    for entry in schemas.values():
        for found in entry.values():
            if found is None or found.schema is None or errors:
                continue
            compile_schema(found.schema)
    assert payloads.message_schemas(None) == {}

"""Hostile definitions (Hypothesis), and the findings as plain regression tests beside them.

The property: parsing and validating any text gives either a document or a list of errors,
each with a JSON pointer and, for a node of the text, its line; never an exception. A
document that validates reads into topics, exports to YAML and reads back the same, and
its design (topics and scopes) can be written back and validated again.
"""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_contract.snapshot import TopicConfig
from publisher import asyncapi
from publisher.tests.fuzz_strategies import (
    broken_documents,
    definition_texts,
    misshapen_documents_v3,
    valid_documents,
    valid_documents_v3,
)
from testsupport.hypothesis_profiles import examples
from tidegate.snapshot.builder import topic_configs


def _check_errors(exc: asyncapi.InvalidDefinition, *, from_text: bool) -> None:
    assert exc.errors
    for error in exc.errors:
        assert isinstance(error.message, str) and error.message
        assert error.pointer == "" or error.pointer.startswith("/")
        assert error.line is None or (isinstance(error.line, int) and error.line >= 1)
        if from_text and error.pointer:
            assert error.line is not None, error
        json.dumps(error.as_dict())


def _check_valid(doc: dict) -> None:
    """What a validated document must allow: topics, the gateway's list, export and design edits."""
    topics = asyncapi.topics(doc)
    configs = topic_configs(doc)
    assert all(isinstance(t, TopicConfig) and t.name.startswith("/") for t in configs)
    assert [t.name for t in topics] == [t.name for t in configs]
    for topic in topics:
        assert all(isinstance(s, str) for s in (*topic.publish_scopes, *topic.subscribe_scopes))
        assert isinstance(asyncapi.message_example(doc, topic.name), str)
    # Export (YAML, as in archives and downloads) and read back: the same document.
    exported = asyncapi.to_yaml(doc)
    exported.encode("utf-8")
    assert asyncapi.parse_and_validate(exported) == doc
    assert asyncapi.parse_and_validate(json.dumps(doc)) == doc
    # Its own design written back (what the Design page saves) validates, with the same topics.
    ops = [o.as_dict() for o in asyncapi.operations(doc)]
    scopes = [{"scope": {"name": n, "description": d}} for n, d in asyncapi.declared_scopes(doc).items()]
    assert asyncapi.design_errors(ops, scopes) == []
    again = asyncapi.validate_document(asyncapi.with_design(doc, operations=ops, scopes=scopes))
    assert asyncapi.topics(again) == topics
    assert isinstance(asyncapi.without_unsafe_links(doc), dict)


@examples(200)
@given(definition_texts())
def test_any_text_gives_a_document_or_errors_with_pointers_and_lines(text):
    try:
        doc = asyncapi.parse_and_validate(text)
    except asyncapi.InvalidDefinition as exc:
        _check_errors(exc, from_text=True)
        return
    _check_valid(doc)


@examples(150)
@given(st.one_of(valid_documents(), broken_documents()))
def test_any_document_built_in_code_gives_a_document_or_errors(doc):
    try:
        doc = asyncapi.validate_document(doc)
    except asyncapi.InvalidDefinition as exc:
        _check_errors(exc, from_text=False)
        return
    _check_valid(doc)


@examples(100)
@given(valid_documents())
def test_valid_documents_validate_and_round_trip(doc):
    validated = asyncapi.validate_document(doc)
    _check_valid(validated)


@examples(150)
@given(st.one_of(valid_documents(), broken_documents()))
def test_whatever_a_document_holds_topics_and_the_gateway_list_read_without_error(doc):
    """Readers of stored documents (pages, the snapshot) never fail on one, even one stored
    before a rule existed: what lacks the shape is read as absent."""
    for topic in topic_configs(doc):
        assert isinstance(topic.name, str) and isinstance(topic.uri_mapping, str)
        assert all(isinstance(s, str) for s in (*topic.publish_scopes, *topic.subscribe_scopes))
    asyncapi.normalise(doc)


# ---------------------------------------------------------------- AsyncAPI 3.0

any_3_0_document = st.one_of(valid_documents_v3(), broken_documents(valid_documents_v3()), misshapen_documents_v3())


@examples(100)
@given(any_3_0_document)
def test_any_3_0_document_gives_a_document_or_errors(doc):
    """Wrong types anywhere, references that loop or lead nowhere: errors with pointers, never
    another exception."""
    try:
        doc = asyncapi.validate_document(doc)
    except asyncapi.InvalidDefinition as exc:
        _check_errors(exc, from_text=False)
        return
    _check_valid(doc)


@examples(150)
@given(st.one_of(any_3_0_document, broken_documents()))
def test_whatever_a_stored_document_holds_every_reader_and_the_design_writer_read_it(doc):
    """What pages, the snapshot, Try Out and the design tabs call on a stored document never
    fails on one, whatever its shape: what lacks the shape is read as absent."""
    ops = asyncapi.operations(doc)
    assert all(isinstance(o, asyncapi.Operation) and isinstance(o.target, str) for o in ops)
    names = [t.name for t in asyncapi.topics(doc)]
    assert names == [t.name for t in topic_configs(doc)]
    for name in (*names, "/nowhere"):
        for verb in asyncapi.VERBS:
            assert isinstance(asyncapi.message_example(doc, name, verb), str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in asyncapi.declared_scopes(doc).items())
    assert all(w.pointer.startswith("/channels/") for w in asyncapi.warnings(doc))
    assert isinstance(asyncapi.implicit_flow(doc), dict)
    assert isinstance(asyncapi.server_url(doc, "production"), str)
    asyncapi.normalise(doc)
    design = [o.as_dict() for o in ops]
    new = asyncapi.with_design(doc, operations=design, scopes=[{"name": "s"}], secured=False)
    assert [t.name for t in asyncapi.topics(new)] == list(dict.fromkeys(o.target for o in ops))
    assert all(not t.secured for t in topic_configs(new))


@examples(100)
@given(valid_documents_v3())
def test_valid_3_0_documents_give_topics_named_by_their_addresses(doc):
    validated = asyncapi.validate_document(doc)
    channels = validated["channels"]
    used = {op["channel"]["$ref"].removeprefix("#/channels/") for op in validated["operations"].values()}
    addresses = [c["address"] for cid, c in channels.items() if cid in used and isinstance(c.get("address"), str)]
    assert sorted(t.name for t in topic_configs(validated)) == sorted(addresses)
    assert sorted(w.pointer for w in asyncapi.warnings(validated)) == sorted(
        f"/channels/{cid}" for cid, c in channels.items() if not isinstance(c.get("address"), str)
    )


@examples(100)
@given(st.one_of(valid_documents_v3(), valid_documents()))
def test_writing_a_documents_own_operations_back_keeps_what_the_gateway_enforces(doc):
    doc = asyncapi.validate_document(doc)
    again = asyncapi.validate_document(
        asyncapi.with_design(doc, operations=[o.as_dict() for o in asyncapi.operations(doc)])
    )
    assert again["asyncapi"] == doc["asyncapi"]
    assert topic_configs(again) == topic_configs(doc)


# ---------------------------------------------------------------- regressions, through REST

BASE = "/api/am/publisher/v4"
HEAD = "asyncapi: 2.0.0\ninfo: {title: x, version: '1'}\n"


def _validate(client, text):
    resp = client.post(f"{BASE}/apis/validate-asyncapi", {"inlineAPIDefinition": text}, format="multipart")
    assert resp.status_code == 200, resp.content[:300]
    report = resp.json()
    assert report["isValid"] is False
    return report["errors"]


@pytest.mark.django_db
def test_channels_that_are_not_a_mapping_are_an_error_not_a_500(client):
    errors = _validate(client, "asyncapi: 2.0.0\ninfo: {title: x}\nchannels: 7\n")
    assert "/channels" in [e["pointer"] for e in errors]
    assert next(e for e in errors if e["pointer"] == "/channels")["line"] == 3


@pytest.mark.django_db
def test_x_scopes_that_are_not_a_list_are_an_error_not_a_500(client):
    errors = _validate(client, HEAD + "channels:\n  /a:\n    publish:\n      x-scopes: 7\n")
    [error] = errors
    assert error["pointer"] == "/channels/~1a/publish/x-scopes" and error["line"] == 6
    assert "x-scopes must be a list" in error["message"]


@pytest.mark.django_db
def test_x_scopes_holding_a_list_are_an_error_not_a_500(client):
    errors = _validate(client, HEAD + "channels:\n  /a:\n    publish:\n      x-scopes: [[a]]\n")
    assert [e["pointer"] for e in errors] == ["/channels/~1a/publish/x-scopes"]


@pytest.mark.parametrize(
    "doc",
    [
        {"channels": {"/a": None}},
        {"channels": 7},
        {"channels": {"/a": {"publish": {"x-scopes": True}}}},
        {"channels": {"/a": {"publish": {"x-uri-mapping": 7}}}},
    ],
)
def test_the_gateway_topic_list_of_a_misshapen_stored_document_reads_what_has_the_shape(doc):
    assert all(isinstance(t.uri_mapping, str) and t.publish_scopes == () for t in topic_configs(doc))


@pytest.mark.django_db
@pytest.mark.parametrize("nest", ["[" * 5000 + "]" * 5000, "{a: " * 3000 + "1" + "}" * 3000])
def test_a_document_nested_5000_levels_deep_is_refused_with_the_depth_limit(client, nest):
    text = HEAD + "channels: {}\nx-deep: " + nest + "\n"
    [error] = _validate(client, text)
    assert "nested deeper than 64 levels" in error["message"] and error["line"] == 4
    assert error["pointer"].startswith("/x-deep/")


@pytest.mark.django_db
def test_a_json_document_nested_5000_levels_deep_is_refused_too(client):
    text = '{"asyncapi": "2.0.0", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    [error] = _validate(client, text)
    assert "nested deeper than 64 levels" in error["message"]


@pytest.mark.django_db
def test_a_2_mb_document_of_150000_keys_is_refused_with_the_node_limit(client):
    keys = ", ".join(f"k{i:x}: {i % 10}" for i in range(150_000))
    text = HEAD + "channels: {}\nx-big: {" + keys + "}\n"
    assert 1_500_000 < len(text) < asyncapi.MAX_DOCUMENT_BYTES
    [error] = _validate(client, text)
    assert "more than 20000 keys, values and list items" in error["message"]
    assert error["line"] == 4 and error["pointer"].startswith("/x-big/")


@pytest.mark.django_db
def test_import_of_a_document_past_a_limit_is_400_and_creates_nothing(client):
    from publisher.models import Api

    text = HEAD + "channels: {}\nx-deep: " + "[" * 5000 + "]" * 5000 + "\n"
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"inlineAPIDefinition": text, "additionalProperties": json.dumps({"context": "/deep"})},
        format="multipart",
    )
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 400 and "nested deeper than 64 levels" in json.dumps(body)
    assert Api.objects.count() == 0


@pytest.mark.django_db
def test_limits_are_settings(client, settings):
    settings.TIDEGATE = {**settings.TIDEGATE, "DEFINITION_MAX_CHANNELS": 2}
    channels = "".join(f"  /c{i}:\n    publish: {{}}\n" for i in range(3))
    [error] = _validate(client, HEAD + "channels:\n" + channels)
    assert error["pointer"] == "/channels" and "3 channels, more than 2" in error["message"]


@pytest.mark.parametrize(
    "text, fragment",
    [
        (HEAD + "channels: {}\nx-big: " + "9" * 5000 + "\n", "not valid YAML or JSON"),
        (HEAD + "channels: {}\nx-nan: .nan\n", "JSON cannot carry"),
        (HEAD + "channels: {}\nx-dup: 1\nx-dup: 2\n", "appears twice"),
        (HEAD + "channels: {}\nx-long: " + "b" * 70_000 + "\n", "more than 65536"),
        (HEAD + 'channels: {}\nx-nul: "\\0"\n', "NUL"),
        (HEAD + 'channels: {}\nx-surrogate: "\\ud800"\n', "lone surrogates"),
    ],
)
def test_yaml_oddities_are_errors_with_a_reason(text, fragment):
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse_and_validate(text)
    assert fragment in exc.value.errors[0].message


# ---------------------------------------------------------------- 3.0 regressions (the fuzzer's findings)

HEAD3 = "asyncapi: 3.0.0\ninfo: {title: x, version: '1'}\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "channel, pointer, line",
    [
        ("{$ref: '#/components/channels/missing'}", "/channels/a/$ref", 4),
        ("{$ref: '#/channels/a'}", "/channels/a/$ref", 4),  # itself
        ("{$ref: 'other.yaml#/channels/a'}", "/channels/a/$ref", 4),  # outside the document
    ],
    ids=["nowhere", "loop", "external"],
)
def test_a_3_0_channel_whose_ref_leads_nowhere_is_an_error_not_a_500(client, channel, pointer, line):
    text = (
        HEAD3
        + f"channels:\n  a: {channel}\noperations:\n  o:\n    action: send\n    channel: {{$ref: '#/channels/a'}}\n"
    )
    [error] = _validate(client, text)
    assert (error["pointer"], error["line"]) == (pointer, line)
    assert "does not lead to a channel of this document" in error["message"]


def test_a_3_0_operation_whose_ref_loops_is_an_error():
    text = HEAD3 + "channels: {}\noperations:\n  o: {$ref: '#/operations/o'}\n"
    with pytest.raises(asyncapi.InvalidDefinition) as exc:
        asyncapi.parse_and_validate(text)
    [error] = exc.value.errors
    assert error.pointer == "/operations/o/$ref" and error.line == 5
    assert "$ref '#/operations/o' does not lead to an operation of this document" in error.message


def test_3_0_channels_reached_through_references_to_references_are_topics():
    text = (
        HEAD3
        + "channels:\n  a: {$ref: '#/components/channels/c'}\n"
        + "operations:\n  o: {action: receive, channel: {$ref: '#/channels/a'}}\n"
        + "components:\n  channels:\n    c: {$ref: '#/components/channels/d'}\n    d: {address: /via/refs}\n"
    )
    doc = asyncapi.parse_and_validate(text)
    assert [(t.name, t.verbs) for t in asyncapi.topics(doc)] == [("/via/refs", ("PUBLISH",))]


@pytest.mark.parametrize("action", [["receive"], {"receive": 1}])
def test_a_stored_3_0_operation_whose_action_is_not_text_is_no_topic(action):
    doc = {
        "asyncapi": "3.0.0",
        "channels": {"a": {"address": "/a"}},
        "operations": {
            "o": {"action": action, "channel": {"$ref": "#/channels/a"}},
            "p": {"action": "send", "channel": {"$ref": "#/channels/a"}},
        },
    }
    # The gateway's list and the pages read the operation that has the shape.
    assert [(t.name, t.verbs) for t in asyncapi.topics(doc)] == [("/a", ("SUBSCRIBE",))]
    assert [t.name for t in topic_configs(doc)] == ["/a"]


@pytest.mark.parametrize("doc", [{"asyncapi": "2.0.0", "channels": {"/a": {"publish": {}}}}, {}, {"asyncapi": 7}])
def test_warnings_of_a_2_x_or_unversioned_document_are_none_not_an_attribute_error(doc):
    assert asyncapi.warnings(doc) == []


@pytest.mark.parametrize("version", ["2.0.0", "3.0.0"])
@pytest.mark.parametrize(
    "misshapen",
    [
        {"components": [7]},
        {"components": {"securitySchemes": {"oauth2": "x"}}},
        {"channels": [1], "servers": [1], "operations": 7},
    ],
)
def test_a_design_edit_of_a_misshapen_stored_document_writes_the_design_not_an_error(version, misshapen):
    doc = {"asyncapi": version, **misshapen}
    new = asyncapi.with_design(
        doc, operations=[{"target": "/a", "verb": "PUBLISH", "scopes": ["s"]}], scopes=[{"name": "s"}]
    )
    assert asyncapi.declared_scopes(new) == {"s": ""}
    assert [(t.name, t.publish_scopes) for t in asyncapi.topics(new)] == [("/a", ("s",))]
    assert asyncapi.server_url(doc, "production") == "" and asyncapi.message_example(doc, "/a") == ""


def test_a_stored_2_x_document_with_a_non_text_scope_description_or_server_url_reads_them_as_empty():
    doc = {
        "asyncapi": "2.0.0",
        "servers": {"production": {"url": None}},
        "components": {"securitySchemes": {"oauth2": {"flows": {"implicit": {"scopes": {"a": 7, "b": "B"}}}}}},
    }
    assert asyncapi.declared_scopes(doc) == {"a": "", "b": "B"}
    assert asyncapi.server_url(doc, "production") == ""

"""gateway.payloads without a socket: what a message is judged, what a client is told, and
that a snapshot's schemas are compiled once and shared by the snapshots that carry them."""

import json

from gateway import payloads
from gateway.decisions import State
from gateway.payloads import INVALID, UNVALIDATED, VALID, PayloadValidators, close_reason, error_frame, judge
from gateway_contract.snapshot import ApiConfig, Snapshot, TopicConfig

SCHEMA = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "maxLength": 5}}}


def _snapshot(mode: str, schema=SCHEMA, version: int = 1) -> Snapshot:
    topic = TopicConfig(name="/chat", publish_schema=schema, subscribe_schema=schema)
    api = ApiConfig(
        id="a1",
        name="Chat",
        context="/chat",
        version="1.0.0",
        lifecycle_status="PUBLISHED",
        revision=1,
        production_endpoint="ws://127.0.0.1:1",
        topics=(topic, TopicConfig(name="/open")),
        payload_validation=mode,
        payload_client_failure="close",
    )
    return Snapshot(version=version, environments=("Default",), apis=(api,))


def test_judge_decodes_text_checks_it_and_leaves_binary_alone():
    topic = PayloadValidators(_snapshot("client")).get("a1", "/chat")
    assert judge(topic.publish, '{"text": "hi"}') == (VALID, None)
    assert judge(topic.publish, '{"text": "too long"}') == (
        INVALID,
        ("/text", "must be shorter than or equal to 5 characters"),
    )
    assert judge(topic.publish, "NaN")[0] == INVALID
    assert judge(topic.publish, None) == (UNVALIDATED, None)  # binary
    assert judge(None, "anything") == (UNVALIDATED, None)  # no schema for the direction


def test_each_mode_validates_its_directions():
    assert PayloadValidators(_snapshot("off")).get("a1", "/chat") is None
    client = PayloadValidators(_snapshot("client")).get("a1", "/chat")
    assert client.client and not client.backend and client.subscribe is None and client.close_client
    both = PayloadValidators(_snapshot("both")).get("a1", "/chat")
    assert both.backend and both.subscribe is not None and not both.close_backend
    assert PayloadValidators(_snapshot("both")).get("a1", "/open").publish is None  # counted unvalidated


def test_a_schema_is_compiled_once_for_every_snapshot_that_carries_it():
    first = State.build(_snapshot("both", version=1)).payloads.get("a1", "/chat")
    second = State.build(_snapshot("both", version=2)).payloads.get("a1", "/chat")
    assert first.publish is second.publish is first.subscribe


def test_a_schema_that_does_not_compile_leaves_its_messages_unvalidated(caplog):
    topic = PayloadValidators(_snapshot("client", schema={"pattern": "("})).get("a1", "/chat")
    assert topic.publish is None
    assert "does not compile" in caplog.text


def test_the_error_frame_and_the_close_reason():
    assert json.loads(error_frame("/chat", ("/text", "must be string"))) == {
        "error": "invalid_message",
        "topic": "/chat",
        "pointer": "/text",
        "message": "must be string",
    }
    assert close_reason(("", "must be object")) == "Invalid message: / must be object"
    long = close_reason(("/" + "é" * 200, "must be string"))
    assert len(long.encode()) <= 123 and long.endswith("...")
    assert payloads.INVALID_CLIENT_CLOSE == 1007 and payloads.INVALID_BACKEND_CLOSE == 1011

"""Payload validation: each message checked against its topic's schema from the API definition.

An API asks for it (``ApiConfig.payload_validation``: off, client, both); the snapshot then
carries the bundled schema of each direction it validates (``TopicConfig.publish_schema``,
``subscribe_schema``). ``PayloadValidators`` compiles them once per snapshot (a schema already
compiled for an earlier snapshot is taken from a cache) and the relay asks ``judge`` about each
message: a text message is decoded as JSON and checked; a binary message, or one of a direction
without a schema (not JSON, or no message declared), is left alone and counted unvalidated.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass

from gateway_contract.payloads import Check, SchemaRefused, compile_text_check
from gateway_contract.snapshot import Snapshot

log = logging.getLogger("tidegate.gateway")

# What ``judge`` answers: index into a connection's counters (gateway/registry.py).
VALID, INVALID, UNVALIDATED = 0, 1, 2
RESULTS = ("valid", "invalid", "unvalidated")
INVALID_CLIENT_CLOSE = 1007  # RFC 6455: data inconsistent with the type of the message
INVALID_BACKEND_CLOSE = 1011  # the server (behind the gateway) failed
_CACHE_SIZE = 512  # compiled schemas kept across snapshots, by their JSON text


@dataclass(frozen=True, slots=True)
class TopicPayloads:
    """How one topic of one API validates: a check per direction it validates (None: the
    direction is validated but has no schema, so its messages are counted unvalidated)."""

    topic: str
    client: bool  # client messages (PUBLISH) are validated and counted
    backend: bool  # backend messages (SUBSCRIBE) are validated and counted
    publish: Check | None
    subscribe: Check | None
    close_client: bool  # a client message that fails closes 1007 (else an error frame)
    close_backend: bool  # a backend message that fails closes 1011 (else it is dropped)


Verdict = tuple[int, "tuple[str, str] | None"]  # (VALID | INVALID | UNVALIDATED, (pointer, message))


_VALID: Verdict = (VALID, None)
_UNVALIDATED: Verdict = (UNVALIDATED, None)


def judge(check: Check | None, text: str | None) -> Verdict:
    """One message: text decoded as JSON and checked; binary, or no schema, unvalidated."""
    if check is None or text is None:
        return _UNVALIDATED
    error = check(text)
    return _VALID if error is None else (INVALID, error)


def error_frame(topic: str, error: tuple[str, str]) -> str:
    """What a client is told when its message failed (the message was dropped)."""
    pointer, message = error
    return json.dumps(
        {"error": "invalid_message", "topic": topic, "pointer": pointer, "message": message},
        ensure_ascii=False,
    )


def close_reason(error: tuple[str, str]) -> str:
    """A close reason naming the first error, within the 123 bytes a close frame allows."""
    pointer, message = error
    reason = f"Invalid message: {pointer or '/'} {message}"
    encoded = reason.encode()
    if len(encoded) <= 123:
        return reason
    return encoded[:120].decode(errors="ignore") + "..."


_compiled: OrderedDict[str, Check | None] = OrderedDict()


def _compile(schema: dict[str, object] | None, where: str) -> Check | None:
    if schema is None:
        return None
    key = json.dumps(schema, sort_keys=True)
    if key in _compiled:
        _compiled.move_to_end(key)
        return _compiled[key]
    try:
        check: Check | None = compile_text_check(schema)
    except SchemaRefused as exc:  # refused by the portal at revision time; an archive may still hold one
        log.warning("payload schema of %s does not compile, its messages go unvalidated: %s", where, exc)
        check = None
    _compiled[key] = check
    if len(_compiled) > _CACHE_SIZE:
        _compiled.popitem(last=False)
    return check


class PayloadValidators:
    """Every validating topic of a snapshot, by (API id, topic name)."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self._topics: dict[tuple[str, str], TopicPayloads] = {}
        for api in snapshot.apis if snapshot else ():
            mode = api.payload_validation
            if mode not in ("client", "both"):
                continue
            backend = mode == "both"
            for topic in api.topics:
                where = f"{api.name} {api.version} {topic.name}"
                self._topics[api.id, topic.name] = TopicPayloads(
                    topic=topic.name,
                    client=True,
                    backend=backend,
                    publish=_compile(topic.publish_schema, f"{where} (publish)"),
                    subscribe=_compile(topic.subscribe_schema, f"{where} (subscribe)") if backend else None,
                    close_client=api.payload_client_failure == "close",
                    close_backend=api.payload_backend_failure == "close",
                )

    def get(self, api_id: str, topic: str) -> TopicPayloads | None:
        """None when the API does not validate payloads."""
        return self._topics.get((api_id, topic))


NO_VALIDATION = PayloadValidators()

"""The payload schema of each topic's messages, per direction, ready for the gateway to validate.

For each topic (2.x channel name, 3.0 channel address) and direction (PUBLISH: the client
sends, 2.x ``publish`` / 3.0 ``receive``; SUBSCRIBE: the client receives, ``subscribe`` /
``send``), :func:`message_schemas` reads the messages the operation carries:

- 2.x: the operation's ``message``, a message or ``oneOf`` messages, each maybe a ``$ref``;
- 3.0: the operation's ``messages`` (references to its channel's messages), or every message
  of the channel when the operation lists none; ``payload`` may be a multi-format
  ``{schemaFormat, schema}`` object.

Each message's payload schema is bundled: every local ``$ref`` it reaches (``#/components/...``,
followed as deep as it goes, recursive schemas included) is copied under ``$defs`` and the
reference rewritten, so the schema stands alone and the gateway never needs the document.
Several messages become ``anyOf``: a message is valid when it is any one of them (``oneOf``
would refuse a message that two overlapping schemas both describe).

Only JSON is validated: a direction whose messages all have a JSON content type (the
message's ``contentType``, else the document's ``defaultContentType``, else JSON) and a JSON
Schema or AsyncAPI schema format gets a schema; a direction with any other (Avro, Protobuf,
``text/plain``) gets none and its messages are passed unvalidated. Pure functions over plain
data: any document, whatever its shape, is read without an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from gateway_contract.payloads import SchemaRefused, compile_schema
from publisher.asyncapi import v3
from publisher.asyncapi.parsing import DefinitionError, _pointer

DIRECTIONS = ("PUBLISH", "SUBSCRIBE")
JSON = "application/json"
# The schema formats whose schemas are JSON Schema (draft-07, or AsyncAPI's superset of it).
_JSON_SCHEMA_FORMATS = ("application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml")
# Keywords whose value is a map of names to schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependencies"})
# Keywords whose value is data, not schema: copied as they are, never searched for $refs.
_DATA = frozenset({"enum", "const", "default", "examples", "example"})
MAX_DEPTH = 128  # schema nesting, references followed included
MAX_DEFS = 1000


@dataclass(frozen=True)
class MessagePayload:
    """One message of a direction: where its payload is in the document, and its schema."""

    pointer: str  # the payload's JSON pointer in the document (the message's when it has none)
    content_type: str
    schema_format: str
    schema: dict[str, Any] | None  # bundled; None when not JSON (content type or schema format)
    problem: str = ""  # why the schema could not be bundled (a $ref outside the document, ...)
    problem_pointer: str = ""

    @property
    def json(self) -> bool:
        return is_json_content_type(self.content_type) and is_json_schema_format(self.schema_format)


@dataclass(frozen=True)
class PayloadSchema:
    """What a direction of a topic carries: its messages and their schemas as one."""

    messages: tuple[MessagePayload, ...]
    schema: dict[str, Any] | None  # None when a message is not JSON (or cannot be bundled)

    @property
    def content_type(self) -> str:
        return self.messages[0].content_type if self.messages else JSON


def is_json_content_type(content_type: str) -> bool:
    """``application/json``, ``text/json`` and any ``+json`` media type, parameters aside."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in (JSON, "text/json") or media.endswith("+json")


def is_json_schema_format(schema_format: str) -> bool:
    fmt = schema_format.strip().lower()
    return not fmt or fmt.startswith(_JSON_SCHEMA_FORMATS)


# ---------------------------------------------------------------- bundling


class _Problem(Exception):
    def __init__(self, message: str, path: tuple[Any, ...]) -> None:
        super().__init__(message)
        self.pointer = _pointer(path)


def _tokens(ref: str) -> tuple[str, ...] | None:
    """The keys a local reference (``#/a/b~1c``) names, or None for one that is not local."""
    if not ref.startswith("#"):
        return None
    fragment = unquote(ref[1:])
    if not fragment:
        return ()
    if not fragment.startswith("/"):
        return None  # a plain-name fragment (an $anchor): not a place in the document
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in fragment[1:].split("/"))


def _at(doc: Any, tokens: tuple[str, ...]) -> tuple[bool, Any]:
    node = doc
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False, None
    return True, node


class _Bundler:
    """Copies schemas out of ``doc``, the targets of their references under ``defs``."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.defs: dict[str, Any] = {}
        self._names: dict[tuple[str, ...], str] = {}

    def schema(self, node: Any, path: tuple[Any, ...], depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _Problem(f"the schema is nested deeper than {MAX_DEPTH} levels", path)
        if isinstance(node, list):
            return [self.schema(item, (*path, i), depth + 1) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            key = str(key)
            if key in ("$id", "id", "$schema") and isinstance(value, str):
                continue  # references are made local to the bundle: no base URI to change them
            if key == "$ref" and isinstance(value, str):
                out[key] = self._ref(value, (*path, key), depth)
                continue
            if key == "pattern" and isinstance(value, str):
                _regex(value, (*path, key))
            elif key == "patternProperties" and isinstance(value, dict):
                for pattern in value:
                    _regex(str(pattern), (*path, key, pattern))
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {str(k): self.schema(v, (*path, key, k), depth + 1) for k, v in value.items()}
            elif key in _DATA or key.startswith("x-"):
                out[key] = value
            else:
                out[key] = self.schema(value, (*path, key), depth + 1)
        return out

    def _ref(self, ref: str, path: tuple[Any, ...], depth: int) -> str:
        tokens = _tokens(ref)
        if tokens is None:
            raise _Problem(
                f"$ref {ref!r} is not a place in this document: only local references ('#/...') can be validated",
                path,
            )
        name = self._names.get(tokens)
        if name is None:
            found, target = _at(self.doc, tokens)
            if not found:
                raise _Problem(f"$ref {ref!r} does not resolve in this document", path)
            if len(self.defs) >= MAX_DEFS:
                raise _Problem(f"the schema references more than {MAX_DEFS} schemas", path)
            base = re.sub(r"[^A-Za-z0-9_.-]", "_", tokens[-1] if tokens else "document") or "schema"
            name, n = base, 2
            while name in self.defs:
                name, n = f"{base}_{n}", n + 1
            self._names[tokens] = name
            self.defs[name] = {}  # taken before the target is copied: a recursive schema ends here
            self.defs[name] = self.schema(target, tokens, depth + 1)
        return f"#/$defs/{name}"


def _regex(pattern: str, path: tuple[Any, ...]) -> None:
    """A ``pattern`` the gateway's validator can compile (Python's ``re``), or the problem
    named where it is: the compiler's own error would only name the payload."""
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise _Problem(f"pattern {pattern!r} is not a regular expression the gateway can use: {exc}", path) from None


def _combined(schemas: list[Any], defs: dict[str, Any]) -> dict[str, Any]:
    root: Any = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    if root is True:
        root = {}
    elif root is False:
        root = {"not": {}}
    elif not isinstance(root, dict):
        root = {"allOf": [root]}  # not a schema: the compiler says so, naming the message
    if defs:
        root = (
            {**root, "$defs": defs} if "$ref" not in root and "$defs" not in root else {"allOf": [root], "$defs": defs}
        )
    return root


# ---------------------------------------------------------------- reading the document


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _follow(doc: dict[str, Any], node: Any, path: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
    """``node`` with its local ``$ref``s followed (a few levels), and where it ends up."""
    for _ in range(8):
        ref = node.get("$ref") if isinstance(node, dict) else None
        tokens = _tokens(ref) if isinstance(ref, str) else None
        if tokens is None:
            return node, path
        found, node = _at(doc, tokens)
        if not found:
            return None, path
        path = tokens
    return node, path


def _content_type(doc: dict[str, Any], message: dict[str, Any]) -> str:
    if isinstance(message.get("contentType"), str):
        return message["contentType"]
    traits = message.get("traits")
    for trait in traits if isinstance(traits, list) else []:
        trait, _ = _follow(doc, trait, ())
        if isinstance(trait, dict) and isinstance(trait.get("contentType"), str):
            return trait["contentType"]
    default = doc.get("defaultContentType")
    return default if isinstance(default, str) else JSON


def _message(doc: dict[str, Any], node: Any, path: tuple[Any, ...], bundler: _Bundler) -> MessagePayload | None:
    message, path = _follow(doc, node, path)
    if not isinstance(message, dict):
        return None
    content_type = _content_type(doc, message)
    fmt = message.get("schemaFormat") if isinstance(message.get("schemaFormat"), str) else ""
    if "payload" not in message:
        payload: Any = True  # no payload declared: any JSON value
        at = path
    else:
        payload, at = message["payload"], (*path, "payload")
        resolved, resolved_at = _follow(doc, payload, at)
        if isinstance(resolved, dict) and "schemaFormat" in resolved and "schema" in resolved:  # 3.0 multi-format
            fmt = resolved["schemaFormat"] if isinstance(resolved["schemaFormat"], str) else ""
            payload, at = resolved["schema"], (*resolved_at, "schema")
    entry = MessagePayload(_pointer(at), content_type, fmt, None)
    if not entry.json:
        return entry
    try:
        schema = bundler.schema(payload, at)
    except _Problem as problem:
        return MessagePayload(entry.pointer, content_type, fmt, None, str(problem), problem.pointer)
    return MessagePayload(entry.pointer, content_type, fmt, schema)


def _direction(doc: dict[str, Any], nodes: list[tuple[Any, tuple[Any, ...]]]) -> PayloadSchema | None:
    bundler = _Bundler(doc)
    messages = [m for node, path in nodes if (m := _message(doc, node, path, bundler)) is not None]
    if not messages:
        return None
    if any(m.schema is None for m in messages):
        return PayloadSchema(tuple(messages), None)
    return PayloadSchema(tuple(messages), _combined([m.schema for m in messages], bundler.defs))


def _v2(doc: dict[str, Any]) -> dict[str, dict[str, PayloadSchema | None]]:
    out: dict[str, dict[str, PayloadSchema | None]] = {}
    for name, channel in _dict(doc.get("channels")).items():
        channel, _ = _follow(doc, channel, ("channels", name))
        if not isinstance(channel, dict):
            continue
        entry: dict[str, PayloadSchema | None] = {}
        for verb in DIRECTIONS:
            op = channel.get(verb.lower())
            if not isinstance(op, dict) or "message" not in op:
                entry[verb] = None
                continue
            at = ("channels", name, verb.lower(), "message")
            message, message_at = _follow(doc, op["message"], at)
            if isinstance(message, dict) and isinstance(message.get("oneOf"), list):
                nodes = [(m, (*message_at, "oneOf", i)) for i, m in enumerate(message["oneOf"])]
            else:
                nodes = [(op["message"], at)]
            entry[verb] = _direction(doc, nodes)
        out[str(name)] = entry
    return out


def _v3(doc: dict[str, Any]) -> dict[str, dict[str, PayloadSchema | None]]:
    out: dict[str, dict[str, PayloadSchema | None]] = {}
    channels = v3._channels(doc)
    for oid, op in v3._operations(doc).items():
        verb = v3.ACTION_VERB.get(op.get("action")) if isinstance(op.get("action"), str) else None
        cid = v3._ref_target(doc, op.get("channel"), "channels")
        channel = channels.get(cid) if cid is not None else None
        address = v3._address(channel) if channel is not None else None
        if verb is None or address is None or channel is None:
            continue
        entry = out.setdefault(address, dict.fromkeys(DIRECTIONS))
        if entry[verb] is not None:
            continue  # one operation per direction: a second is refused by validation
        listed = op.get("messages")
        if isinstance(listed, list):
            nodes = [(m, ("operations", oid, "messages", i)) for i, m in enumerate(listed)]
        else:
            nodes = [(m, ("channels", cid, "messages", k)) for k, m in _dict(channel.get("messages")).items()]
        entry[verb] = _direction(doc, nodes)
    return out


def message_schemas(doc: Any) -> dict[str, dict[str, PayloadSchema | None]]:
    """``{topic: {"PUBLISH": PayloadSchema | None, "SUBSCRIBE": ...}}``: None where the
    operation is absent or carries no message."""
    if not isinstance(doc, dict):
        return {}
    try:
        return _v3(doc) if v3_doc(doc) else _v2(doc)
    except RecursionError:  # pragma: no cover - depths are bounded above; a last guard
        return {}


def v3_doc(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("asyncapi"), str) and doc["asyncapi"].startswith("3.")


def payload_errors(doc: Any, directions: tuple[str, ...] = DIRECTIONS) -> list[DefinitionError]:
    """Each payload schema of ``directions`` the gateway could not validate with: a reference
    it cannot bundle, or a schema that does not compile; each naming its pointer."""
    errors: list[DefinitionError] = []
    for topic, entry in message_schemas(doc).items():
        for verb in directions:
            found = entry.get(verb)
            for message in found.messages if found else ():
                if message.problem:
                    errors.append(
                        DefinitionError(
                            f"{message.problem_pointer}: {message.problem} ({verb} on {topic})",
                            message.problem_pointer,
                        )
                    )
                    continue
                if message.schema is None or found is None or found.schema is None:
                    continue
                try:
                    compile_schema(_alone(found, message))
                except SchemaRefused as exc:
                    errors.append(DefinitionError(f"{message.pointer}: {exc} ({verb} on {topic})", message.pointer))
    return errors


def _alone(found: PayloadSchema, message: MessagePayload) -> dict[str, Any]:
    """One message's schema with the definitions its direction bundled."""
    defs = found.schema.get("$defs", {}) if isinstance(found.schema, dict) else {}
    return _combined([message.schema], defs if isinstance(defs, dict) else {})

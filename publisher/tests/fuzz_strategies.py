"""Hypothesis strategies for hostile definitions: valid AsyncAPI documents (2.x and 3.0), the
same with a wrong value at any position or (3.0) references that loop or lead nowhere, and
texts with YAML's oddities, deep nesting and huge values."""

from __future__ import annotations

import json

import yaml
from hypothesis import strategies as st

from publisher.asyncapi import path_parameters
from testsupport.fuzz import json_values, mutated

plain_text = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=20)
names = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.:", min_size=1, max_size=12)


@st.composite
def valid_documents(draw) -> dict:
    """An AsyncAPI 2.x document the validator accepts: channels with both verbs, scopes,
    URL mappings and security, unicode in the free text."""
    scopes = draw(st.lists(names.filter(lambda n: not n.lower().startswith("apim:")), max_size=4, unique=True))
    channels = {}
    for name in draw(st.lists(names, max_size=5, unique=True)):
        channel: dict = {}
        for verb in draw(st.sets(st.sampled_from(["publish", "subscribe"]))):
            op: dict = {}
            if scopes and draw(st.booleans()):
                op["x-scopes"] = draw(st.lists(st.sampled_from(scopes), max_size=2, unique=True))
            if draw(st.booleans()):
                op["x-uri-mapping"] = "/" + draw(names)
            if draw(st.booleans()):
                op["description"] = draw(plain_text)
            channel[verb] = op
        if draw(st.booleans()):
            channel["x-auth-type"] = draw(st.sampled_from(["Any", "None"]))
        channels["/" + name] = channel
    doc = {
        "asyncapi": draw(st.sampled_from(["2.0.0", "2.1.0", "2.4.0", "2.6.0"])),
        "info": {"title": draw(plain_text), "version": draw(names), "description": draw(plain_text)},
        "servers": {"production": {"url": "ws://backend.example:8080/v1", "protocol": "ws"}},
        "channels": channels,
        "components": {
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "implicit": {
                            "authorizationUrl": "http://localhost:9999",
                            "scopes": {s: draw(plain_text) for s in scopes},
                            "x-scopes-bindings": {s: "admin" for s in scopes},
                        }
                    },
                }
            }
        },
    }
    if draw(st.booleans()):
        doc["x-wso2-disable-security"] = draw(st.sampled_from([True, False, "true"]))
    return doc


@st.composite
def valid_documents_v3(draw) -> dict:
    """An AsyncAPI 3.0 document the validator accepts: channels by id with an address (some
    with ``{parameters}``, declared), at most one ``receive`` and one ``send`` per channel,
    scopes as ``x-scopes`` and/or security requirements, URL mappings on the operation or the
    channel, security off per operation, channel or API, messages with examples, and
    channels without an address (no topic) beside them."""
    scopes = draw(st.lists(names.filter(lambda n: not n.lower().startswith("apim:")), max_size=4, unique=True))
    words = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=8)
    addresses = draw(
        st.lists(
            st.lists(st.one_of(words, words.map(lambda w: "{" + w + "}")), min_size=1, max_size=3).map(
                lambda segments: "/" + "/".join(segments)
            ),
            max_size=5,
            unique=True,
        )
    )
    channels: dict = {}
    operations: dict = {}
    for i, address in enumerate(addresses):
        cid = draw(st.sampled_from([f"c{i}", f"ch.{i}", f"c-{i}_x"]))
        channel: dict = {"address": address}
        params = path_parameters(address)
        if params or draw(st.booleans()):
            channel["parameters"] = {
                p: ({"description": draw(plain_text)} if draw(st.booleans()) else {}) for p in params
            }
        if draw(st.booleans()):
            channel["messages"] = {"m": {"payload": {"type": "string", "examples": [draw(plain_text)]}}}
        if draw(st.booleans()):
            channel["x-uri-mapping"] = "/" + draw(names)
        if draw(st.integers(0, 4)) == 0:
            channel["x-auth-type"] = "None"
        channels[cid] = channel
        for action in draw(st.sets(st.sampled_from(["receive", "send"]))):
            op: dict = {"action": action, "channel": {"$ref": f"#/channels/{cid}"}}
            op_scopes = draw(st.lists(st.sampled_from(scopes), max_size=2, unique=True)) if scopes else []
            where = draw(st.sampled_from(["x-scopes", "security", "both"]))
            if op_scopes and where in ("x-scopes", "both"):
                op["x-scopes"] = op_scopes
            if where in ("security", "both"):
                op["security"] = [
                    {
                        "type": "oauth2",
                        "flows": {"implicit": {"authorizationUrl": "http://localhost:9999", "availableScopes": {}}},
                        "scopes": [s],
                    }
                    for s in op_scopes
                ] or [{"$ref": "#/components/securitySchemes/oauth2"}]
            if draw(st.booleans()):
                op["x-uri-mapping"] = "/" + draw(names)
            if draw(st.integers(0, 3)) == 0:
                op["x-auth-type"] = draw(st.sampled_from(["Any", "None"]))
            if "messages" in channel and draw(st.booleans()):
                op["messages"] = [{"$ref": f"#/channels/{cid}/messages/m"}]
            operations[draw(st.sampled_from([f"{action}_{cid}", f"op{len(operations)}"]))] = op
    for j in range(draw(st.integers(0, 2))):  # not topics: null or no address
        channels[f"unrouted{j}"] = {"address": None} if draw(st.booleans()) else {"description": draw(plain_text)}
    doc = {
        "asyncapi": "3.0.0",
        "info": {"title": draw(plain_text), "version": draw(names), "description": draw(plain_text)},
        "servers": {"production": {"host": "backend.example:8080", "pathname": "/v1", "protocol": "ws"}},
        "channels": channels,
        "operations": operations,
        "components": {
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "implicit": {
                            "authorizationUrl": "http://localhost:9999",
                            "availableScopes": {s: draw(plain_text) for s in scopes},
                            "x-scopes-bindings": {s: "admin" for s in scopes},
                        }
                    },
                }
            }
        },
    }
    if draw(st.booleans()):
        doc["x-wso2-disable-security"] = draw(st.sampled_from([True, False, "true"]))
    return doc


def _misshape(doc: dict, kind: int, value) -> dict:
    """``doc`` (a valid 3.0 document) with one of the shapes a stored or hostile document may
    have: the wrong type where a reader looks, or references that loop or lead nowhere."""
    ops = doc.get("operations") or {}
    first_op = next(iter(ops.values()), {})
    channels = doc.get("channels") or {}
    if kind == 0:
        doc["channels"] = list(channels.values())
    elif kind == 1 and first_op:
        first_op["channel"] = first_op["channel"]["$ref"]  # a string, not a reference object
    elif kind == 2 and first_op:
        first_op["security"] = {"oauth2": []}
    elif kind == 3:
        for channel in channels.values():
            channel["messages"] = {"m": 7}
        for op in ops.values():
            op["messages"] = [1, 2.5]
    elif kind == 4:  # a channel that refers to itself, and an operation on it
        channels["loop"] = {"$ref": "#/channels/loop"}
        ops["onLoop"] = {"action": "receive", "channel": {"$ref": "#/channels/loop"}}
    elif kind == 5:  # references to references, one leading nowhere
        channels["a"] = {"$ref": "#/components/channels/b"}
        channels["d"] = {"$ref": "#/components/channels/missing"}
        doc.setdefault("components", {})["channels"] = {
            "b": {"$ref": "#/components/channels/c"},
            "c": {"address": "/via/refs"},
        }
        ops["onA"] = {"action": "send", "channel": {"$ref": "#/channels/a"}}
        ops["onD"] = {"action": "send", "channel": {"$ref": "#/channels/d"}}
    elif kind == 6:  # operations, messages, schemes and payloads by looping or dangling references
        ops["byRef"] = {"$ref": "#/operations/byRef"}
        ops["toComponents"] = {"$ref": "#/components/operations/nothing"}
        for op in ops.values():
            op["security"] = [{"$ref": "#/components/securitySchemes/loop"}, {"$ref": "#/nowhere"}]
            op["messages"] = [{"$ref": "#/components/messages/loop"}, {"$ref": "#"}, {"$ref": "#/channels/"}]
        components = doc.setdefault("components", {})
        components.setdefault("securitySchemes", {})["loop"] = {"$ref": "#/components/securitySchemes/loop"}
        components["messages"] = {"loop": {"$ref": "#/components/messages/loop"}}
        for channel in channels.values():
            channel["messages"] = {"m": {"payload": {"$ref": "#/channels"}}}
    elif kind == 7:  # values of the wrong type where WSO2's extensions and the topic live
        for channel in channels.values():
            channel["address"] = value
            channel["parameters"] = [value]
        for op in ops.values():
            op["action"] = value
            op["x-scopes"] = {"0": value, "1": [value]}
            op["x-uri-mapping"] = value
            op["x-auth-type"] = value
    elif kind == 8:
        doc["operations"] = list(ops.values())
        doc["components"] = [value]
    elif kind == 9:  # channel references escaped, unescaped and odd
        for i, op in enumerate(ops.values()):
            op["channel"] = {"$ref": ["#/channels/a~1b", "#/channels/a/b", "#/channels/~", "#/channels", "#"][i % 5]}
        channels["a/b"] = {"address": "/a/b"}
    return doc


def misshapen_documents_v3():
    """A valid 3.0 document with one misshapen part (see :func:`_misshape`)."""
    return st.builds(_misshape, valid_documents_v3(), st.integers(0, 9), json_values)


def broken_documents(base=None):
    """A valid document with one to three values replaced by anything (a wrong type, a
    huge text, a deep nest), or a key removed, at any position."""
    return mutated(valid_documents() if base is None else base, st.one_of(json_values, deep_values()))


def deep_values(max_depth: int = 200):
    return st.builds(
        lambda depth, kind: json.loads("[" * depth + "]" * depth) if kind else _nest_dict(depth),
        st.integers(1, max_depth),
        st.booleans(),
    )


def _nest_dict(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


YAML_ODDITIES = [
    "x-a: &anchor {a: 1}\nx-b: *anchor\n",
    "x-obj: !!python/object/apply:os.system ['true']\n",
    "x-name: !!python/name:os.system\n",
    "x-bin: !!binary aGVsbG8=\n",
    "x-set: !!set {a, b}\n",
    "x-date: 2024-01-01\n",
    "x-time: 2024-01-01T10:00:00Z\n",
    "x-dup: 1\nx-dup: 2\n",
    "1: integer key\n",
    "null: null key\n",
    "? [complex, key]\n: value\n",
    "? {a: 1}\n: value\n",
    "x-nan: .nan\n",
    "x-inf: -.inf\n",
    "x-big: " + "9" * 5000 + "\n",
    "x-octal: 0o777\n",
    "x-tab:\t1\n",
    "x-bad: \x07\n",
    "%YAML 1.1\n---\n",
    "---\nsecond: document\n",
    "...\n",
    "x-merge: {<<: {a: 1}}\n",
    "x-str: !!str 7\n",
    "x-custom: !custom tag\n",
    "x-deep: " + "[" * 5000 + "]" * 5000 + "\n",
    "x-deepmap: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "x-long: " + "b" * 70_000 + "\n",
    "\ufeffx-bom: 1\n",
    "x-utf16: \ud800\n",
    "x-nul: \x00\n",
]


@st.composite
def definition_texts(draw) -> str | bytes:
    """A definition as a client sends it: YAML or JSON of a valid or broken document, maybe
    with a YAML oddity spliced in at a line, cut short, or as raw bytes."""
    doc = draw(
        st.one_of(
            valid_documents(),
            broken_documents(),
            valid_documents_v3(),
            broken_documents(valid_documents_v3()),
            misshapen_documents_v3(),
        )
    )
    try:
        text = json.dumps(doc) if draw(st.booleans()) else yaml.safe_dump(doc, allow_unicode=draw(st.booleans()))
    except (ValueError, yaml.YAMLError):
        text = json.dumps(doc, ensure_ascii=True)
    lines = text.splitlines(keepends=True)
    action = draw(st.integers(0, 5))
    if action == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(YAML_ODDITIES)))
    elif action == 1:
        lines.append(draw(st.sampled_from(YAML_ODDITIES)))
    elif action == 2 and lines:
        cut = draw(st.integers(0, len(text)))
        return text[:cut]
    elif action == 3:
        return draw(st.binary(max_size=200))
    out = "".join(lines)
    if draw(st.integers(0, 9)) == 0:
        return out.encode("utf-8", "surrogatepass")
    return out

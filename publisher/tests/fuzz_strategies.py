"""Hypothesis strategies for hostile definitions: valid AsyncAPI documents, the same with a
wrong value at any position, and texts with YAML's oddities, deep nesting and huge values."""

from __future__ import annotations

import json

import yaml
from hypothesis import strategies as st

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


def broken_documents(base=None):
    """A valid document with one to three values replaced by anything (a wrong type, a
    huge text, a deep nest), or a key removed, at any position."""
    return mutated(base or valid_documents(), st.one_of(json_values, deep_values()))


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
    doc = draw(st.one_of(valid_documents(), broken_documents()))
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

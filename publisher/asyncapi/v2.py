"""AsyncAPI 2.0-2.6: channels keyed by their path, ``publish`` (the client sends) and
``subscribe`` (the client receives) under each, WSO2's extensions on them."""

from __future__ import annotations

import json
from typing import Any

from publisher.asyncapi.model import (
    DEFAULT_TOPIC,
    Operation,
    _is_true,
    _resolve,
    binding_errors,
    example_text,
    link_errors,
    oauth2_components,
    reserved_scope_errors,
    scope_declarations,
    uri_mapping_errors,
    with_security_switch,
    writable_implicit_flow,
    x_scopes_errors,
    x_scopes_list,
)
from publisher.asyncapi.parsing import DefinitionError, ParsedDocument, _pointer

SCOPES_PATH = ("components", "securitySchemes", "oauth2", "flows", "implicit", "scopes")
BINDINGS_PATH = ("components", "securitySchemes", "oauth2", "flows", "implicit", "x-scopes-bindings")
SCOPES_HOME = "components.securitySchemes.oauth2.flows.implicit.scopes"


def extension_errors(doc: dict[str, Any], parsed: ParsedDocument) -> list[DefinitionError]:
    """What the schema cannot say about a 2.x document: WSO2's extensions and its topics."""
    errors = link_errors(doc, parsed)
    declared = set(declared_scopes(doc))
    errors += reserved_scope_errors(declared, SCOPES_PATH, parsed)
    channels = doc.get("channels")
    for name, channel in (channels if isinstance(channels, dict) else {}).items():
        if not name.startswith("/"):
            pointer = _pointer(("channels", name))
            errors.append(DefinitionError(f"topic {name!r} must start with '/'", pointer, parsed.line_of(pointer)))
        for verb in ("publish", "subscribe"):
            op = channel.get(verb) if isinstance(channel, dict) else None
            if not isinstance(op, dict):
                continue
            at = ("channels", name, verb)
            errors += uri_mapping_errors(op, at, parsed)
            errors += x_scopes_errors(op, at, parsed, declared, SCOPES_HOME)
    errors += binding_errors(implicit_flow(doc), BINDINGS_PATH, parsed, declared)
    return errors


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """Return a copy with WSO2's map form of ``x-scopes`` (``{"0": x}``) turned into lists."""
    doc = json.loads(json.dumps(doc))
    channels = doc.get("channels")
    for channel in (channels if isinstance(channels, dict) else {}).values():
        if not isinstance(channel, dict):
            continue
        for verb in ("publish", "subscribe"):
            op = channel.get(verb)
            if isinstance(op, dict) and "x-scopes" in op:
                op["x-scopes"] = x_scopes_list(op["x-scopes"])
    return doc


def warnings(doc: dict[str, Any]) -> list[DefinitionError]:
    """Nothing a valid 2.x document says goes unrouted: every channel is a topic."""
    return []


def declared_scopes(doc: dict[str, Any]) -> dict[str, str]:
    implicit = implicit_flow(doc)
    scopes = implicit.get("scopes") if isinstance(implicit, dict) else None
    if not isinstance(scopes, dict):
        return {}
    return {str(name): text if isinstance(text, str) else "" for name, text in scopes.items()}


def implicit_flow(doc: dict[str, Any]) -> dict[str, Any]:
    try:
        return doc["components"]["securitySchemes"]["oauth2"]["flows"]["implicit"]
    except (KeyError, TypeError):
        return {}


def operations(doc: dict[str, Any]) -> list[Operation]:
    """The operations of a document's channels. Whatever does not have the shape validation
    requires (a document stored before a rule existed) is read as absent, never an error."""
    if not isinstance(doc, dict):
        return []
    root_open = _is_true(doc.get("x-wso2-disable-security")) or doc.get("x-auth-type") == "None"
    channels = doc.get("channels")
    out = []
    for name, channel in (channels if isinstance(channels, dict) else {}).items():
        if not isinstance(channel, dict):
            continue
        open_ = root_open or channel.get("x-auth-type") == "None" or _is_true(channel.get("x-wso2-disable-security"))
        for verb in ("publish", "subscribe"):
            op = channel.get(verb)
            if not isinstance(op, dict):
                continue
            scopes = op.get("x-scopes")
            mapping = op.get("x-uri-mapping")
            out.append(
                Operation(
                    target=str(name),
                    verb=verb.upper(),
                    scopes=tuple(x for x in scopes if isinstance(x, str)) if isinstance(scopes, list) else (),
                    uri_mapping=mapping if isinstance(mapping, str) else "",
                    auth_type="None" if open_ else "Any",
                )
            )
    return out


def blank_definition(*, name: str, version: str, endpoint: str) -> dict[str, Any]:
    """The document of a new API made from a form: one catch-all topic ``/*``."""
    return {
        "asyncapi": "2.0.0",
        "info": {"title": name, "version": version},
        "servers": {"production": {"url": endpoint, "protocol": "ws"}},
        "channels": {DEFAULT_TOPIC: {"publish": {}, "subscribe": {}, "x-auth-type": "Any"}},
        "components": oauth2_components("scopes"),
    }


def server_url(doc: dict[str, Any], name: str) -> str:
    servers = doc.get("servers")
    server = servers.get(name) if isinstance(servers, dict) else None
    url = server.get("url") if isinstance(server, dict) else None
    return url if isinstance(url, str) else ""


def with_servers(doc: dict[str, Any], *, production: str, sandbox: str = "") -> dict[str, Any]:
    """A copy of ``doc`` whose servers name the API's endpoints, as WSO2 writes them."""
    doc = json.loads(json.dumps(doc))
    servers = {"production": {"url": production, "protocol": "ws" if production.startswith("ws:") else "wss"}}
    if sandbox:
        servers["sandbox"] = {"url": sandbox, "protocol": "ws" if sandbox.startswith("ws:") else "wss"}
    doc["servers"] = servers
    return doc


def with_design(
    doc: dict[str, Any],
    *,
    operations: list[dict[str, Any]] | None = None,
    scopes: list[dict[str, Any]] | None = None,
    secured: bool | None = None,
) -> dict[str, Any]:
    """A copy of ``doc`` with its topics, scopes or API-wide security replaced.

    ``operations`` and ``scopes`` are in WSO2's ``APIOperations`` and ``APIScope`` shapes
    (``{"target", "verb", "scopes", "uriMapping", "authType"}`` and
    ``{"scope": {"name", "description", "bindings"}}`` or the flat ``{"name", ...}``). What
    the document says beyond them (descriptions, messages, parameters of kept channels)
    stays. The result is not validated: pass it through :func:`validate_document`.
    """
    doc = json.loads(json.dumps(doc))
    if operations is not None:
        old = doc["channels"] if isinstance(doc.get("channels"), dict) else {}
        channels: dict[str, Any] = {}
        for op in operations:
            if not isinstance(op, dict):
                continue
            target = str(op.get("target") or "")
            verb = str(op.get("verb") or "").upper()
            channel = channels.get(target)
            if channel is None:
                kept = old.get(target)
                channel = json.loads(json.dumps(kept)) if isinstance(kept, dict) else {}
                for v in ("publish", "subscribe"):
                    channel.pop(v, None)
                channel.pop("x-wso2-disable-security", None)
                channels[target] = channel
            previous = (old.get(target) or {}).get(verb.lower()) if isinstance(old.get(target), dict) else None
            body = json.loads(json.dumps(previous)) if isinstance(previous, dict) else {}
            op_scopes = op.get("scopes") or []
            body["x-scopes"] = list(op_scopes) if isinstance(op_scopes, list | tuple) else op_scopes
            if op.get("uriMapping"):
                body["x-uri-mapping"] = op["uriMapping"]
            else:
                body.pop("x-uri-mapping", None)
            # A verb outside PUBLISH/SUBSCRIBE lands under its own key, where validation names it.
            channel[verb.lower() or "?"] = body
            channel["x-auth-type"] = "None" if op.get("authType") == "None" else "Any"
        doc["channels"] = channels
    if scopes is not None:
        implicit = writable_implicit_flow(doc)
        implicit["scopes"], implicit["x-scopes-bindings"] = scope_declarations(scopes)
    if secured is not None:
        with_security_switch(doc, secured)
    return doc


def message_example(doc: dict[str, Any], topic: str, verb: str) -> str:
    """The first example of the message ``verb`` (PUBLISH, SUBSCRIBE) carries on ``topic``."""
    channels = doc.get("channels")
    channel = channels.get(topic) if isinstance(channels, dict) else None
    op = channel.get(verb.lower()) if isinstance(channel, dict) else None
    message = _resolve(doc, op.get("message") if isinstance(op, dict) else None)
    if isinstance(message, dict) and isinstance(message.get("oneOf"), list) and message["oneOf"]:
        message = message["oneOf"][0]
    return example_text(doc, message)

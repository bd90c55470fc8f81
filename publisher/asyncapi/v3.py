"""AsyncAPI 3.0: channels keyed by id with an ``address`` (the topic), operations at the top
with ``action`` and a ``$ref`` to their channel, messages referenced, security requirements
that name schemes and the scopes they need.

A 3.0 document describes the API's own side: ``receive`` is what 2.x called ``publish`` (the
client sends, verb PUBLISH) and ``send`` is ``subscribe`` (the client receives, SUBSCRIBE).

Where WSO2's extensions live (docs/publisher.md has an example of each):

- the URL mapping, ``x-uri-mapping``, on the operation, where WSO2 4.7 reads and writes it
  (one on the channel is read too, for every operation of the channel without its own);
- the scopes an operation needs: ``x-scopes`` on the operation, which WSO2 reads, and the
  same scopes as its ``security`` requirements (the API's OAuth2 scheme with ``scopes``,
  one requirement per scope, as the AsyncAPI converter writes them), for AsyncAPI tools;
  both are read. Declared in ``components.securitySchemes.oauth2.flows.implicit.availableScopes``
  with ``x-scopes-bindings`` beside them;
- security off, ``x-auth-type: None`` on the operation (WSO2's Publisher writes it there)
  or on its channel (WSO2's gateway reads it there); written on both when every operation
  of the channel is open;
- API-wide security off: ``x-wso2-disable-security`` at the root, as in 2.x.

WSO2 4.7's own parser reads ``send`` as PUBLISH; Tidegate follows the AsyncAPI meaning (and
its converter), where what the API receives is what the client publishes.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from publisher.asyncapi.model import (
    AUTHORIZATION_URL,
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

VERSION = "3.0.0"
ACTION_VERB = {"receive": "PUBLISH", "send": "SUBSCRIBE"}
VERB_ACTION = {verb: action for action, verb in ACTION_VERB.items()}
SCOPES_PATH = ("components", "securitySchemes", "oauth2", "flows", "implicit", "availableScopes")
BINDINGS_PATH = ("components", "securitySchemes", "oauth2", "flows", "implicit", "x-scopes-bindings")
SCOPES_HOME = "components.securitySchemes.oauth2.flows.implicit.availableScopes"
OAUTH2_REF = "#/components/securitySchemes/oauth2"
_PARAMETER_RE = re.compile(r"\{([^{}]*)\}")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _ref_target(doc: dict[str, Any], ref: Any, prefix: str) -> str | None:
    """The key that ``ref`` (``{"$ref": "#/<prefix>/<key>"}``) names under ``prefix``, when it
    does and the key exists; None otherwise."""
    if not (isinstance(ref, dict) and isinstance(ref.get("$ref"), str)):
        return None
    head = f"#/{prefix}/"
    if not ref["$ref"].startswith(head):
        return None
    rest = ref["$ref"][len(head) :]
    if "/" in rest:
        return None
    key = _unescape(rest)
    parent: Any = doc
    for part in prefix.split("/"):
        parent = parent.get(part) if isinstance(parent, dict) else None
    return key if isinstance(parent, dict) and key in parent else None


def _unescape(token: str) -> str:
    """One JSON pointer token as the key it names (``~1`` is ``/``, ``~0`` is ``~``)."""
    return token.replace("~1", "/").replace("~0", "~")


def _objects(doc: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    """The document's channels or operations (``key``) by id, references followed; one that
    is not an object, or whose reference loops or leads nowhere, is left out."""
    out = {}
    for name, node in _dict(doc.get(key)).items():
        node = _resolve(doc, node)
        if isinstance(node, dict) and "$ref" not in node:
            out[str(name)] = node
    return out


def _channels(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _objects(doc, "channels")


def _operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _objects(doc, "operations")


def _address(channel: dict[str, Any]) -> str | None:
    address = channel.get("address")
    return address if isinstance(address, str) else None


# ---------------------------------------------------------------- reading


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """Return a copy with WSO2's map form of ``x-scopes`` (``{"0": x}``) turned into lists."""
    doc = _copy(doc)
    for op in _dict(doc.get("operations")).values():
        if isinstance(op, dict) and "x-scopes" in op:
            op["x-scopes"] = x_scopes_list(op["x-scopes"])
    return doc


def declared_scopes(doc: dict[str, Any]) -> dict[str, str]:
    """Every scope an OAuth2 scheme of the document offers (``availableScopes`` of its
    flows), the API's own scheme (``oauth2``) first."""
    out: dict[str, str] = {}
    schemes = _dict(_dict(doc.get("components")).get("securitySchemes"))
    for name in sorted(schemes, key=lambda n: n != "oauth2"):
        scheme = _resolve(doc, schemes[name])
        for flow in _dict(_dict(scheme).get("flows")).values():
            for scope, description in _dict(_dict(flow).get("availableScopes")).items():
                out.setdefault(str(scope), description if isinstance(description, str) else "")
    return out


def implicit_flow(doc: dict[str, Any]) -> dict[str, Any]:
    try:
        flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["implicit"]
    except (KeyError, TypeError):
        return {}
    return flow if isinstance(flow, dict) else {}


def _requirement_scopes(doc: dict[str, Any], requirement: Any) -> list[str]:
    scheme = _resolve(doc, requirement)
    scopes = _dict(scheme).get("scopes")
    return [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []


def operation_scopes(doc: dict[str, Any], op: dict[str, Any]) -> tuple[str, ...]:
    """The scopes an operation names: those of its security requirements, then its
    ``x-scopes``. As in WSO2, a token holding any one of them may use the operation."""
    names: list[str] = []
    security = op.get("security")
    for requirement in security if isinstance(security, list) else []:
        names += _requirement_scopes(doc, requirement)
    x_scopes = x_scopes_list(op.get("x-scopes"))
    if isinstance(x_scopes, list):
        names += [s for s in x_scopes if isinstance(s, str)]
    return tuple(dict.fromkeys(names))


def _is_open(node: dict[str, Any]) -> bool:
    return node.get("x-auth-type") == "None" or _is_true(node.get("x-wso2-disable-security"))


def operations(doc: dict[str, Any]) -> list[Operation]:
    """One operation per 3.0 operation whose channel has an address, in the document's order.
    Channels without an address are no topic (:func:`warnings` says so)."""
    root_open = _is_open(doc)
    channels = _channels(doc)
    out = []
    for op in _operations(doc).values():
        action = op.get("action")
        verb = ACTION_VERB.get(action) if isinstance(action, str) else None
        cid = _ref_target(doc, op.get("channel"), "channels")
        channel = channels.get(cid) if cid is not None else None
        if verb is None or channel is None or _address(channel) is None:
            continue
        mapping = op.get("x-uri-mapping")
        if not isinstance(mapping, str):
            mapping = channel.get("x-uri-mapping")
        out.append(
            Operation(
                target=str(_address(channel)),
                verb=verb,
                scopes=operation_scopes(doc, op),
                uri_mapping=mapping if isinstance(mapping, str) else "",
                auth_type="None" if root_open or _is_open(channel) or _is_open(op) else "Any",
            )
        )
    return out


def warnings(doc: dict[str, Any]) -> list[DefinitionError]:
    out = []
    for cid, channel in _channels(doc).items():
        if _address(channel) is None:
            out.append(
                DefinitionError(
                    f"channel {cid!r} has no address: it is not a topic and the gateway does not route to it",
                    _pointer(("channels", cid)),
                )
            )
    return out


def server_url(doc: dict[str, Any], name: str) -> str:
    server = _resolve(doc, _dict(doc.get("servers")).get(name))
    if not isinstance(server, dict) or not isinstance(server.get("host"), str):
        return ""
    protocol = server.get("protocol") if isinstance(server.get("protocol"), str) else "ws"
    pathname = server.get("pathname") if isinstance(server.get("pathname"), str) else ""
    return f"{protocol}://{server['host']}{pathname}"


def message_example(doc: dict[str, Any], topic: str, verb: str) -> str:
    """The first example of the first message the operation ``verb`` on ``topic`` carries
    (the operation's ``messages``, else its channel's)."""
    action = VERB_ACTION.get(verb)
    channels = _channels(doc)
    for op in _operations(doc).values():
        cid = _ref_target(doc, op.get("channel"), "channels")
        channel = channels.get(cid) if cid is not None else None
        if op.get("action") != action or channel is None or _address(channel) != topic:
            continue
        messages = op.get("messages")
        if isinstance(messages, list) and messages:
            return example_text(doc, messages[0])
        for message in _dict(channel.get("messages")).values():
            return example_text(doc, message)
    return ""


# ---------------------------------------------------------------- validation


def extension_errors(doc: dict[str, Any], parsed: ParsedDocument) -> list[DefinitionError]:
    """What the schema cannot say about a 3.0 document: references that must resolve, topics
    and WSO2's extensions. Reads only what has the shape it looks for."""
    errors = link_errors(doc, parsed)

    def error(message: str, *path: Any) -> None:
        pointer = _pointer(path)
        errors.append(DefinitionError(f"{pointer}: {message}", pointer, parsed.line_of(pointer)))

    declared = set(declared_scopes(doc))
    errors += reserved_scope_errors(declared, SCOPES_PATH, parsed)

    channels, operations_by_id = _channels(doc), _operations(doc)
    for kind, found, what in (("channels", channels, "a channel"), ("operations", operations_by_id, "an operation")):
        for key, node in _dict(doc.get(kind)).items():
            ref = _dict(node).get("$ref")
            if key not in found and isinstance(ref, str):
                error(f"$ref {ref!r} does not lead to {what} of this document", kind, key, "$ref")

    by_address: dict[str, str] = {}
    for cid, channel in channels.items():
        errors += uri_mapping_errors(channel, ("channels", cid), parsed)
        address = _address(channel)
        if address is None:
            continue
        where = ("channels", cid, "address")
        if not address.startswith("/") or any(c.isspace() for c in address):
            error(f"address {address!r} must be a path starting with '/', e.g. /rooms/{{roomId}}", *where)
            continue
        if address in by_address:
            error(f"address {address} is also the address of channel {by_address[address]!r}", *where)
        by_address.setdefault(address, cid)
        declared_params = _dict(channel.get("parameters"))
        for segment in address.split("/"):
            names = _PARAMETER_RE.findall(segment)
            if names and segment != f"{{{names[0]}}}":
                error(f"{segment!r}: a parameter must be a whole path segment, as in /rooms/{{id}}", *where)
        for name in _PARAMETER_RE.findall(address):
            if name not in declared_params:
                error(f"parameter {{{name}}} of the address is not declared under parameters", *where)

    actions: dict[tuple[str, str], str] = {}
    for oid, op in operations_by_id.items():
        at = ("operations", oid)
        errors += uri_mapping_errors(op, at, parsed)
        errors += x_scopes_errors(op, at, parsed, declared, SCOPES_HOME)
        cid = _ref_target(doc, op.get("channel"), "channels")
        if cid is None:
            ref = _dict(op.get("channel")).get("$ref")
            error(f"channel {ref!r} is not a channel of this document (#/channels/<id>)", *at, "channel")
            continue
        if cid not in channels:  # the channel's own $ref leads nowhere: said above
            continue
        action = op.get("action")
        if isinstance(action, str):
            if (cid, action) in actions:
                error(
                    f"channel {cid!r} already has a {action} operation ({actions[cid, action]!r}): a topic "
                    "takes at most one of each, as the gateway sees one handshake for all of them",
                    *at,
                )
            actions.setdefault((cid, action), oid)
        messages = op.get("messages")
        channel_messages = _dict(channels.get(cid, {}).get("messages"))
        for i, ref in enumerate(messages if isinstance(messages, list) else []):
            target = _dict(ref).get("$ref")
            head = f"#/channels/{cid.replace('~', '~0').replace('/', '~1')}/messages/"
            if not (
                isinstance(target, str)
                and target.startswith(head)
                and _unescape(target[len(head) :]) in channel_messages
            ):
                error(f"message {target!r} is not a message of channel {cid!r}", *at, "messages", i)
        security = op.get("security")
        for i, requirement in enumerate(security if isinstance(security, list) else []):
            scheme = _resolve(doc, requirement)
            if not isinstance(scheme, dict):
                ref = _dict(requirement).get("$ref")
                error(f"security scheme {ref!r} is not defined", *at, "security", i)
                continue
            for scope in _requirement_scopes(doc, requirement):
                if scope not in declared:
                    error(
                        f"scope {scope!r} is not defined by any scheme: declare it under {SCOPES_HOME}",
                        *at,
                        "security",
                        i,
                        "scopes",
                    )
    errors += binding_errors(implicit_flow(doc), BINDINGS_PATH, parsed, declared)
    return errors


# ---------------------------------------------------------------- writing


def channel_id(address: str, taken: set[str]) -> str:
    """An id for a new channel at ``address``, unique among ``taken``: the address's words
    joined by ``_`` (``/rooms/{roomId}`` is ``rooms_roomId``, ``/*`` is ``default``)."""
    words = re.findall(r"[A-Za-z0-9]+", address)
    base = "_".join(words) or "default"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _requirement(doc: dict[str, Any], scopes: list[str]) -> list[dict[str, Any]]:
    """The ``security`` of an operation that needs any one of ``scopes``: the API's OAuth2
    scheme with one scope per requirement (alternatives: one of them satisfies), or a
    reference to the scheme when it needs none."""
    if not scopes:
        _ensure_oauth2(doc)
        return [{"$ref": OAUTH2_REF}]
    flow = implicit_flow(doc)
    url = flow.get("authorizationUrl") if isinstance(flow.get("authorizationUrl"), str) else AUTHORIZATION_URL
    available = _dict(flow.get("availableScopes"))
    return [
        {
            "type": "oauth2",
            "flows": {"implicit": {"authorizationUrl": url, "availableScopes": {s: str(available.get(s) or "")}}},
            "scopes": [s],
        }
        for s in scopes
        if isinstance(s, str)
    ]


def _ensure_oauth2(doc: dict[str, Any]) -> None:
    """Declare the API's OAuth2 scheme, which a requirement without scopes refers to, in a
    document that has none (one imported without ``components``, or naming its scheme otherwise)."""
    components = doc.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {}) if isinstance(components, dict) else None
    if isinstance(schemes, dict) and "oauth2" not in schemes:
        flow = {"authorizationUrl": AUTHORIZATION_URL, "availableScopes": {}}
        schemes["oauth2"] = {"type": "oauth2", "flows": {"implicit": flow}}


def _scopeless(doc: dict[str, Any], security: Any) -> bool:
    """Whether ``security`` is a list of requirements that each name a defined scheme and no scope."""
    return (
        isinstance(security, list)
        and bool(security)
        and all(isinstance(_resolve(doc, r), dict) and not _requirement_scopes(doc, r) for r in security)
    )


def _refresh_requirements(doc: dict[str, Any]) -> None:
    """Give the scopes the operations' inline requirements offer their declared descriptions
    (after a scope's description changed on the Scopes tab)."""
    declared = _dict(implicit_flow(doc).get("availableScopes"))
    for op in _operations(doc).values():
        security = op.get("security")
        for requirement in security if isinstance(security, list) else []:
            offered = _dict(_dict(_dict(requirement).get("flows")).get("implicit")).get("availableScopes")
            if isinstance(offered, dict) and "$ref" not in requirement:
                offered.update({s: str(declared[s]) for s in offered if isinstance(declared.get(s), str)})


def blank_definition(*, name: str, version: str, endpoint: str) -> dict[str, Any]:
    """The document of a new API made from a form: one catch-all topic ``/*``, both ways."""
    doc: dict[str, Any] = {
        "asyncapi": VERSION,
        "info": {"title": name, "version": version},
        "channels": {},
        "operations": {},
        "components": oauth2_components("availableScopes"),
    }
    doc = with_design(
        doc,
        operations=[
            {"target": DEFAULT_TOPIC, "verb": "PUBLISH", "scopes": [], "authType": "Any"},
            {"target": DEFAULT_TOPIC, "verb": "SUBSCRIBE", "scopes": [], "authType": "Any"},
        ],
    )
    return with_servers(doc, production=endpoint)


def _server(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    server: dict[str, Any] = {"host": parts.netloc, "protocol": parts.scheme or "ws"}
    if parts.path and parts.path != "/" or parts.query:
        server["pathname"] = parts.path + (f"?{parts.query}" if parts.query else "")
    return server


def with_servers(doc: dict[str, Any], *, production: str, sandbox: str = "") -> dict[str, Any]:
    servers = {"production": _server(production)}
    if sandbox:
        servers["sandbox"] = _server(sandbox)
    head = {key: doc[key] for key in ("asyncapi", "id", "info") if key in doc}
    return _copy({**head, "servers": servers, **{k: v for k, v in doc.items() if k not in head and k != "servers"}})


def with_design(
    doc: dict[str, Any],
    *,
    operations: list[dict[str, Any]] | None = None,
    scopes: list[dict[str, Any]] | None = None,
    secured: bool | None = None,
) -> dict[str, Any]:
    """See :func:`publisher.asyncapi.with_design`; written in 3.0's shapes. A topic keeps its
    channel (id, messages, parameters, description) and its operations' ids and messages;
    a new topic gets a channel with its address, a declared parameter for each ``{name}`` in
    it, and an operation per verb. Channels without an address are no topic and stay."""
    doc = _copy(doc)
    if scopes is not None:
        flow = writable_implicit_flow(doc)
        flow["availableScopes"], flow["x-scopes-bindings"] = scope_declarations(scopes)
    if operations is not None:  # after the scopes: its security requirements copy their descriptions
        _write_operations(doc, operations)
    elif scopes is not None:
        _refresh_requirements(doc)
    if secured is not None:
        with_security_switch(doc, secured)
    return doc


def _write_operations(doc: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    old_channels = _dict(doc.get("channels"))
    old_operations = _dict(doc.get("operations"))
    by_address: dict[str, str] = {}
    for cid, channel in old_channels.items():
        address = _address(_dict(_resolve(doc, channel)))
        if address is not None:
            by_address.setdefault(address, cid)
    old_op_of: dict[tuple[str, str], str] = {}  # (channel id, action) -> operation id
    for oid, op in old_operations.items():
        op = _dict(_resolve(doc, op))
        cid = _ref_target(doc, op.get("channel"), "channels")
        if cid is not None and isinstance(op.get("action"), str):
            old_op_of.setdefault((cid, op["action"]), oid)

    # Channels without an address, and the operations on them, are not topics: they stay.
    channels: dict[str, Any] = {
        cid: channel for cid, channel in old_channels.items() if _address(_dict(_resolve(doc, channel))) is None
    }
    new_ops: dict[str, Any] = {
        oid: op
        for oid, op in old_operations.items()
        if _ref_target(doc, _dict(_resolve(doc, op)).get("channel"), "channels") in channels
    }
    written: dict[str, str] = {}  # address -> channel id
    taken = set(old_channels)
    open_ops: dict[str, list[bool]] = {}  # channel id -> whether each of its operations is open
    for item in operations:
        if not isinstance(item, dict):
            continue
        target = str(item.get("target") or "")
        verb = str(item.get("verb") or "").upper()
        cid = written.get(target)
        if cid is None:
            cid = by_address.get(target) or channel_id(target, taken)
            taken.add(cid)
            written[target] = cid
            channel = _copy(_resolve(doc, old_channels[cid])) if cid in old_channels else {}
            channel["address"] = target
            params = _dict(channel.get("parameters"))
            channel["parameters"] = {name: params.get(name, {}) for name in _PARAMETER_RE.findall(target)}
            if not channel["parameters"]:
                channel.pop("parameters")
            for key in ("x-uri-mapping", "x-auth-type", "x-wso2-disable-security"):
                channel.pop(key, None)
            channels[cid] = channel
        # A verb outside PUBLISH/SUBSCRIBE becomes an action the schema names.
        action = VERB_ACTION.get(verb, verb.lower() or "?")
        oid = old_op_of.get((cid, action))
        body = _copy(_resolve(doc, old_operations[oid])) if oid is not None else {}
        if oid is None or oid in new_ops:
            oid = f"{action}_{cid}"
            while oid in new_ops or oid in old_operations:
                oid += "_"
        body["action"] = action
        body["channel"] = {"$ref": "#/channels/" + cid.replace("~", "~0").replace("/", "~1")}
        messages = body.get("messages")
        if isinstance(messages, list):  # only messages the channel still has
            body["messages"] = [m for m in messages if _ref_target_message(doc, m, cid)]
        op_scopes = item.get("scopes") or []
        op_scopes = list(op_scopes) if isinstance(op_scopes, list | tuple) else op_scopes
        is_open = item.get("authType") == "None"
        body.pop("x-scopes", None)
        old_security = body.pop("security", None)
        if op_scopes:
            body["x-scopes"] = op_scopes
        if not is_open and not op_scopes and _scopeless(doc, old_security):
            body["security"] = old_security  # its own scheme (another name than oauth2) stays
        elif not is_open:
            body["security"] = _requirement(doc, op_scopes) if isinstance(op_scopes, list) else []
        if item.get("uriMapping"):
            body["x-uri-mapping"] = item["uriMapping"]
        else:
            body.pop("x-uri-mapping", None)
        body.pop("x-wso2-disable-security", None)
        body["x-auth-type"] = "None" if is_open else "Any"
        open_ops.setdefault(cid, []).append(is_open)
        new_ops[oid] = body
    for cid, flags in open_ops.items():
        if all(flags):
            channels[cid]["x-auth-type"] = "None"
    doc["channels"] = channels
    doc["operations"] = new_ops


def _ref_target_message(doc: dict[str, Any], ref: Any, cid: str) -> bool:
    target = _dict(ref).get("$ref")
    head = "#/channels/" + cid.replace("~", "~0").replace("/", "~1") + "/messages/"
    messages = _dict(_dict(_resolve(doc, _dict(doc.get("channels")).get(cid))).get("messages"))
    return isinstance(target, str) and target.startswith(head) and _unescape(target[len(head) :]) in messages

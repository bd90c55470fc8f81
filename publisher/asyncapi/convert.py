"""AsyncAPI 2.0-2.6 to 3.0.0, with the meaning of the AsyncAPI project's own converter
(converter-js, ``from__2_6_0__to__3_0_0``, point of view "application") and WSO2's
extensions where :mod:`.v3` reads and writes them.

- Each channel keeps its key as its ``address`` and gets an id as the 3.0 writer makes
  them (:func:`.v3.channel_id`: ``/rooms/{roomId}`` is ``rooms_roomId``).
- ``publish`` (the client sends) becomes an operation with ``action: receive``,
  ``subscribe`` one with ``action: send``; its id is the 2.x ``operationId`` when it has a
  unique one, else ``receive_<channel id>`` / ``send_<channel id>``.
- Messages move into their channel's ``messages`` (id: the message's ``messageId``, else
  its ``name``, else its component's name, else ``publish.message``/``subscribe.message``,
  ``.<i>`` for each of a ``oneOf``); the operation lists them as references to the channel's.
- Parameters lose their ``schema``: its ``enum``/``const``, ``default``, ``examples`` and
  ``description`` are what a 3.0 parameter says. Servers' ``url`` becomes ``host`` and
  ``pathname``. OAuth2 flows' ``scopes`` become ``availableScopes``. ``tags`` and
  ``externalDocs`` move into ``info``.
- ``x-scopes`` stays on the operation and is also written as its ``security`` (the 3.0
  writer's requirements); ``x-uri-mapping`` stays on the operation; a channel's
  ``x-auth-type: None`` or ``x-wso2-disable-security`` is written as ``x-auth-type: None`` on
  its operations (and the channel); every other ``x-*`` stays where it was.

Where converter-js only warns and drops something, this refuses: whatever 3.0 (or Tidegate's
3.0 reading) cannot say as the 2.x document said it raises :class:`NotConvertible` naming
each part by its JSON pointer in the 2.x document. The result is validated as any 3.0
document and read back: its topics, scopes, mappings and security must be those of the 2.x
document, or nothing is converted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from publisher.asyncapi import v2, v3
from publisher.asyncapi.model import _is_true, _resolve
from publisher.asyncapi.parsing import DefinitionError, InvalidDefinition, _pointer

TARGET_VERSION = v3.VERSION
_ACTION = {"publish": "receive", "subscribe": "send"}
_MESSAGE_ID_RE = re.compile(r"[^A-Za-z0-9_.\-]+")
_PARAMETER_KEYS = ("description", "enum", "default", "examples", "location")
_TRAIT_REFS = {"operation": "#/components/operationTraits/", "message": "#/components/messageTraits/"}


class NotConvertible(InvalidDefinition):
    """A 2.x document (or a part of it) that 3.0 cannot say faithfully; each error names
    the part by its JSON pointer."""


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _extensions(node: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) for k, v in node.items() if k.startswith("x-")}


class _Converter:
    def __init__(self, doc: dict[str, Any]):
        self.src = v2.normalise(doc)
        self.errors: list[DefinitionError] = []
        self.origins: dict[str, str] = {}  # a 3.0 channel's or operation's pointer -> its 2.x part's

    def origin(self, pointer: str) -> str:
        """Where in the 2.x document the part at ``pointer`` of the 3.0 one came from."""
        for new, old in self.origins.items():
            if pointer == new or pointer.startswith(new + "/"):
                rest = pointer[len(new) :]
                return old + ("" if rest.startswith("/address") else rest)
        return pointer

    def refuse(self, message: str, *path: Any) -> None:
        pointer = _pointer(path)
        self.errors.append(DefinitionError(f"{pointer or 'document'}: {message}", pointer))

    # ------------------------------------------------------------ the document

    def convert(self) -> dict[str, Any]:
        src = self.src
        self.check_references(src, ())
        components = self.components(_dict(src.get("components")))
        out: dict[str, Any] = {"asyncapi": TARGET_VERSION}
        if "id" in src:
            out["id"] = src["id"]
        info = _copy(_dict(src.get("info")))
        for key in ("tags", "externalDocs"):  # 3.0 keeps them in info
            if key in src:
                info[key] = _copy(src[key])
        out["info"] = info
        if isinstance(src.get("servers"), dict):
            out["servers"] = {name: self.server(server, ("servers", name)) for name, server in src["servers"].items()}
        if "defaultContentType" in src:
            out["defaultContentType"] = src["defaultContentType"]
        # The operations' security requirements copy the scopes' descriptions from components.
        out["components"] = components
        out["channels"], out["operations"] = self.channels(_dict(src.get("channels")), out)
        out["components"] = out.pop("components")
        if not components:
            out.pop("components")
        out.update(_extensions(src))
        return out

    def check_references(self, node: Any, path: tuple) -> None:
        """References 3.0 can keep: local ones into parts that keep their place."""
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if not ref.startswith("#/"):
                    self.refuse(
                        f"the reference {ref!r} is not local: only references into this document (#/...) convert",
                        *path,
                        "$ref",
                    )
                elif ref.startswith("#/channels/"):
                    self.refuse(
                        f"the reference {ref!r} points into a channel: 3.0 moves operations and messages out of "
                        "channels, so it would point at nothing; move what it names under components",
                        *path,
                        "$ref",
                    )
            for key, value in node.items():
                self.check_references(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self.check_references(value, (*path, i))

    # ------------------------------------------------------------ servers and security

    def server(self, server: Any, at: tuple) -> Any:
        if not isinstance(server, dict) or "$ref" in server:
            return _copy(server)
        out: dict[str, Any] = {}
        url = server.get("url")
        if isinstance(url, str):
            scheme, sep, rest = url.partition("://")
            if not sep:
                scheme, rest = "", url
            host, slash, path = rest.partition("/")
            out["host"] = host
            if not isinstance(server.get("protocol"), str) and scheme:
                out["protocol"] = scheme
            if slash and path:
                out["pathname"] = "/" + path
        for key, value in server.items():
            if key == "url":
                continue
            if key == "security":
                out[key] = self.security(value, (*at, key))
            else:
                out[key] = _copy(value)
        return out

    def scheme(self, scheme: Any) -> Any:
        """A security scheme in 3.0's shape: OAuth2 flows name their ``availableScopes``."""
        scheme = _copy(scheme)
        if not isinstance(scheme, dict) or "$ref" in scheme:
            return scheme
        flows = scheme.get("flows")
        for name, flow in _dict(flows).items():
            if isinstance(flow, dict) and "scopes" in flow:
                flows[name] = {("availableScopes" if k == "scopes" else k): v for k, v in flow.items()}
        return scheme

    def security(self, requirements: Any, at: tuple) -> list[Any]:
        """2.x requirements (``[{scheme: [scopes]}]``, any one of them satisfying) as 3.0's
        list of schemes: a reference to the scheme, or, when it names scopes, the OAuth2
        scheme inline with ``scopes`` (as converter-js writes them)."""
        out: list[Any] = []
        schemes = _dict(_dict(self.src.get("components")).get("securitySchemes"))
        for i, requirement in enumerate(requirements if isinstance(requirements, list) else []):
            if not isinstance(requirement, dict) or len(requirement) != 1:
                self.refuse(
                    "a requirement must name exactly one scheme to convert: 3.0's security lists alternatives "
                    "(any one satisfies), so one that needs several schemes together, or none, cannot be said",
                    *at,
                    i,
                )
                continue
            [(name, scopes)] = requirement.items()
            scheme = _resolve(self.src, schemes.get(name))
            if not isinstance(scheme, dict):
                self.refuse(f"the requirement names {name!r}, which is no scheme of components.securitySchemes", *at, i)
                continue
            if not scopes:
                out.append({"$ref": f"#/components/securitySchemes/{_escape(name)}"})
            elif scheme.get("type") not in ("oauth2", "openIdConnect"):
                self.refuse(
                    f"scheme {name!r} ({scheme.get('type')}) is given scopes: 3.0 carries scopes only for oauth2 "
                    "and openIdConnect schemes",
                    *at,
                    i,
                    name,
                )
            else:
                out.append({**self.scheme(scheme), "scopes": list(scopes)})
        return out

    # ------------------------------------------------------------ components

    def components(self, components: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in components.items():
            at = ("components", key)
            if key == "channels":
                if value:
                    self.refuse("channels in components do not convert: write each one out under channels", *at)
                continue
            if not isinstance(value, dict) or key.startswith("x-"):
                out[key] = _copy(value)
            elif key == "servers":
                out[key] = {name: self.server(s, (*at, name)) for name, s in value.items()}
            elif key == "securitySchemes":
                out[key] = {name: self.scheme(s) for name, s in value.items()}
            elif key == "messages":
                out[key] = {name: self.message(m, (*at, name), component=True) for name, m in value.items()}
            elif key == "parameters":
                out[key] = {name: self.parameter(p, (*at, name)) for name, p in value.items()}
            elif key == "operationTraits":
                out[key] = {name: self.trait(t, (*at, name), "operation") for name, t in value.items()}
            elif key == "messageTraits":
                out[key] = {name: self.trait(t, (*at, name), "message") for name, t in value.items()}
            else:  # schemas, correlationIds, serverVariables, *Bindings: the same in 3.0
                out[key] = _copy(value)
        return out

    def trait(self, trait: Any, at: tuple, kind: str) -> Any:
        if not isinstance(trait, dict):
            return _copy(trait)
        if "$ref" in trait:
            ref = trait["$ref"]
            if isinstance(ref, str) and ref.startswith("#/") and not ref.startswith(_TRAIT_REFS[kind]):
                self.refuse(f"a {kind} trait must be a reference to {_TRAIT_REFS[kind]}<name> to convert", *at)
            return _copy(trait)
        out = {}
        for key, value in trait.items():
            if kind == "operation" and key == "security":
                out[key] = self.security(value, (*at, key))
            elif key in ("operationId", "messageId", "schemaFormat"):
                self.refuse(f"a {kind} trait setting {key} cannot be carried: 3.0 traits have no {key}", *at, key)
            else:
                out[key] = _copy(value)
        return out

    def traits(self, traits: Any, at: tuple, kind: str) -> list[Any]:
        return [self.trait(t, (*at, i), kind) for i, t in enumerate(traits if isinstance(traits, list) else [])]

    def message(self, message: Any, at: tuple, *, component: bool = False) -> Any:
        if not isinstance(message, dict) or "$ref" in message:
            return _copy(message)
        if "oneOf" in message:
            self.refuse(
                "a message that is a oneOf has no 3.0 form"
                + (" in components: list its messages in the operations that use it" if component else ""),
                *at,
            )
            return _copy(message)
        out: dict[str, Any] = {}
        schema_format = message.get("schemaFormat")
        for key, value in message.items():
            if key in ("messageId", "schemaFormat"):
                continue  # the message's id in its channel; the payload's format, below
            if key == "traits":
                out[key] = self.traits(value, (*at, key), "message")
            elif (
                key == "payload"
                and isinstance(schema_format, str)
                and not schema_format.startswith("application/vnd.aai.asyncapi")
            ):
                out[key] = {"schemaFormat": schema_format, "schema": _copy(value)}
            else:
                out[key] = _copy(value)
        return out

    def parameter(self, parameter: Any, at: tuple) -> Any:
        """A 2.x parameter (``description``, ``schema``, ``location``) as 3.0 says one: a
        string with an optional ``enum``, ``default``, ``examples`` and ``description``."""
        if not isinstance(parameter, dict) or "$ref" in parameter:
            ref = _dict(parameter).get("$ref")
            if isinstance(ref, str) and ref.startswith("#/") and not ref.startswith("#/components/parameters/"):
                self.refuse("a parameter must be a reference to #/components/parameters/<name> to convert", *at)
            return _copy(parameter)
        fields: dict[str, Any] = {}
        if "description" in parameter:
            fields["description"] = parameter["description"]
        if "location" in parameter:
            fields["location"] = parameter["location"]
        schema = parameter.get("schema")
        if isinstance(schema, dict) and "$ref" in schema:
            self.refuse(
                "a parameter schema that is a reference cannot be carried: 3.0 parameters have no schema; "
                "write its enum or default in place",
                *at,
                "schema",
            )
            schema = {}
        for key, value in _dict(schema).items():
            here = (*at, "schema", key)
            strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
            if key == "type" and value == "string":
                continue  # what every 3.0 parameter is
            if key == "enum" and strings and "const" not in schema:
                fields["enum"] = list(value)
            elif key == "const" and isinstance(value, str) and "enum" not in schema:
                fields["enum"] = [value]
            elif key == "default" and isinstance(value, str):
                fields["default"] = value
            elif key == "examples" and strings:
                fields["examples"] = list(value)
            elif key == "description" and isinstance(value, str):
                if fields.setdefault("description", value) != value:
                    self.refuse("the parameter and its schema have two descriptions: 3.0 keeps one", *here)
            else:
                self.refuse(
                    f"{key}: {json.dumps(value)[:60]} cannot be said by a 3.0 parameter, a string with only an "
                    "enum, a default, examples and a description (a string enum, default and examples)",
                    *here,
                )
        out = {key: fields[key] for key in _PARAMETER_KEYS if key in fields}
        out.update(_extensions(parameter))
        return out

    # ------------------------------------------------------------ channels and operations

    def channels(self, channels: dict[str, Any], doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        root_open = _is_open_root(self.src)
        taken: set[str] = set()
        # A 2.x operationId used once stays the operation's id; the others are made up.
        counts: dict[str, int] = {}
        for channel in channels.values():
            for verb in _ACTION:
                oid = _dict(_dict(channel).get(verb)).get("operationId")
                if isinstance(oid, str):
                    counts[oid] = counts.get(oid, 0) + 1
        kept_ids = {oid for oid, n in counts.items() if n == 1}
        out_channels: dict[str, Any] = {}
        out_operations: dict[str, Any] = {}
        for address, channel in channels.items():
            at = ("channels", address)
            if not isinstance(channel, dict):
                continue
            if "$ref" in channel:
                self.refuse("a channel that is a reference does not convert: write the channel out in place", *at)
                continue
            if "x-uri-mapping" in channel:
                self.refuse(
                    "a channel's own x-uri-mapping is not read in 2.x (only an operation's is) but 3.0 reads it "
                    "for the channel's operations: move it onto the operations, or remove it",
                    *at,
                    "x-uri-mapping",
                )
            cid = v3.channel_id(address, taken)
            taken.add(cid)
            is_open = channel.get("x-auth-type") == "None" or _is_true(channel.get("x-wso2-disable-security"))
            messages: dict[str, Any] = {}
            for verb, action in _ACTION.items():
                op = channel.get(verb)
                if not isinstance(op, dict):
                    continue
                oid = op.get("operationId")
                if not (isinstance(oid, str) and oid in kept_ids and oid not in out_operations):
                    oid = f"{action}_{cid}"
                    while oid in out_operations or oid in kept_ids:
                        oid += "_"
                self.origins[_pointer(("operations", oid))] = _pointer((*at, verb))
                out_operations[oid] = self.operation(
                    op,
                    (*at, verb),
                    doc,
                    cid=cid,
                    verb=verb,
                    messages=messages,
                    channel_open=is_open,
                    root_open=root_open,
                )
            new: dict[str, Any] = {"address": address}
            if messages:
                new["messages"] = messages
            if "description" in channel:
                new["description"] = channel["description"]
            if isinstance(channel.get("servers"), list):
                new["servers"] = [{"$ref": f"#/servers/{_escape(str(s))}"} for s in channel["servers"]]
            parameters = {
                name: self.parameter(p, (*at, "parameters", name))
                for name, p in _dict(channel.get("parameters")).items()
            }
            for name in re.findall(r"\{([^{}]*)\}", address):  # 2.x leaves them implied; 3.0 declares each
                parameters.setdefault(name, {})
            if parameters:
                new["parameters"] = parameters
            if "bindings" in channel:
                new["bindings"] = _copy(channel["bindings"])
            new.update(_extensions(channel))
            if is_open:
                new["x-auth-type"] = "None"
            out_channels[cid] = new
            self.origins[_pointer(("channels", cid))] = _pointer(at)
        return out_channels, out_operations

    def operation(
        self,
        op: dict[str, Any],
        at: tuple,
        doc: dict[str, Any],
        *,
        cid: str,
        verb: str,
        messages: dict[str, Any],
        channel_open: bool,
        root_open: bool,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"action": _ACTION[verb], "channel": {"$ref": f"#/channels/{_escape(cid)}"}}
        for key in ("summary", "description"):
            if key in op:
                out[key] = op[key]
        x_scopes = [s for s in op.get("x-scopes") or [] if isinstance(s, str)]
        security = self.security(op.get("security"), (*at, "security")) if "security" in op else []
        for i, requirement in enumerate(security):
            for scope in _dict(requirement).get("scopes") or []:
                if scope not in x_scopes:
                    self.refuse(
                        f"scope {scope!r} is required here but is not in x-scopes: Tidegate enforces only x-scopes "
                        "in 2.x and both in 3.0; add it to x-scopes or take it out of the requirement",
                        *at,
                        "security",
                        i,
                    )
        open_here = op.get("x-auth-type") == "None" or _is_true(op.get("x-wso2-disable-security"))
        if open_here and not (channel_open or root_open):
            self.refuse(
                "security off on an operation is not read in 2.x (only on its channel) but 3.0 reads it: "
                "put x-auth-type: None on the channel, or remove it here",
                *at,
                "x-auth-type" if op.get("x-auth-type") == "None" else "x-wso2-disable-security",
            )
        if x_scopes and not channel_open:
            # The 3.0 writer's requirements for x-scopes, after whatever the operation named itself.
            security = [r for r in security if r != {"$ref": v3.OAUTH2_REF}]
            named = [r.get("scopes") for r in security]
            security += [r for r in v3._requirement(doc, x_scopes) if r["scopes"] not in named]
        if security:
            out["security"] = security
        for key in ("tags", "externalDocs", "bindings"):
            if key in op:
                out[key] = _copy(op[key])
        if "traits" in op:
            out["traits"] = self.traits(op["traits"], (*at, "traits"), "operation")
        if "message" in op:
            kind = op["operationId"] if isinstance(op.get("operationId"), str) else verb
            out["messages"] = self.operation_messages(op["message"], (*at, "message"), cid, kind, messages)
        out.update(_extensions(op))
        if channel_open:
            out["x-auth-type"] = "None"
        return out

    def operation_messages(
        self, message: Any, at: tuple, cid: str, kind: str, channel_messages: dict[str, Any]
    ) -> list[dict[str, str]]:
        """Move the operation's message(s) into its channel; the references to them there."""
        if isinstance(message, dict) and isinstance(message.get("oneOf"), list):
            items = [(m, (*at, "oneOf", i), f"{kind}.message.{i}") for i, m in enumerate(message["oneOf"])]
        else:
            items = [(message, at, f"{kind}.message")]
        refs = []
        components = _dict(_dict(self.src.get("components")).get("messages"))
        for item, here, fallback in items:
            candidates: list[Any] = []
            ref = _dict(item).get("$ref")
            if isinstance(ref, str):
                head = "#/components/messages/"
                name = _unescape(ref[len(head) :]) if ref.startswith(head) else None
                if ref.startswith("#/") and (name is None or "/" in ref[len(head) :] or name not in components):
                    self.refuse(f"the message {ref!r} must be a message of #/components/messages/<name>", *here)
                    continue
                target = _dict(components.get(name))
                candidates = [target.get("messageId"), target.get("name"), name]
                entry: Any = {"$ref": ref}
            else:
                candidates = [_dict(item).get("messageId"), _dict(item).get("name")]
                entry = self.message(item, here)
            base = next((c for c in candidates if isinstance(c, str) and c.strip()), fallback)
            base = _MESSAGE_ID_RE.sub("_", base).strip("_") or fallback
            mid, n = base, 2
            while mid in channel_messages and channel_messages[mid] != entry:
                mid, n = f"{base}_{n}", n + 1
            channel_messages[mid] = entry
            refs.append({"$ref": f"#/channels/{_escape(cid)}/messages/{mid}"})
        return refs


def _is_open_root(doc: dict[str, Any]) -> bool:
    return _is_true(doc.get("x-wso2-disable-security")) or doc.get("x-auth-type") == "None"


def _scope_pointer(src: dict[str, Any], extra: set[str]) -> str:
    """Where a 2.x document declares one of ``extra``, scopes 3.0 would count as the API's."""
    for name, scheme in _dict(_dict(src.get("components")).get("securitySchemes")).items():
        for flow_name, flow in _dict(_dict(scheme).get("flows")).items():
            if (name, flow_name) != ("oauth2", "implicit") and extra & set(_dict(_dict(flow).get("scopes"))):
                return _pointer(("components", "securitySchemes", name, "flows", flow_name, "scopes"))
    return "/components/securitySchemes"


def _same_behaviour(before: dict[str, Any], after: dict[str, Any]) -> list[DefinitionError]:
    """What the gateway and the Publisher read differently from the two documents."""
    errors = []
    key = lambda o: (o.target, o.verb)  # noqa: E731
    old = {key(o): o for o in v2.operations(before)}
    new = {key(o): o for o in v3.operations(after)}
    for target, verb in sorted(set(old) | set(new)):
        if old.get((target, verb)) != new.get((target, verb)):
            pointer = _pointer(("channels", target, verb.lower()))
            errors.append(
                DefinitionError(
                    f"{pointer}: {verb} {target} would not mean the same in 3.0 (its scopes, URL mapping or "
                    "security would change)",
                    pointer,
                )
            )
    extra = set(v3.declared_scopes(after)) - set(v2.declared_scopes(before))
    if extra:
        pointer = _scope_pointer(before, extra)
        errors.append(
            DefinitionError(
                f"{pointer}: 3.0 counts every OAuth2 scheme's scopes as the API's and 2.x only those of "
                f"oauth2's implicit flow: {', '.join(sorted(extra))} would become the API's scopes",
                pointer,
            )
        )
    old_bindings = _dict(v2.implicit_flow(before)).get("x-scopes-bindings")
    if old_bindings != _dict(v3.implicit_flow(after)).get("x-scopes-bindings") or _is_open_root(
        before
    ) != _is_open_root(after):
        errors.append(
            DefinitionError(
                "/components/securitySchemes: the scopes' bindings or API-wide security would change",
                "/components/securitySchemes",
            )
        )
    return errors


def to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """A validated AsyncAPI 2.0-2.6 document as AsyncAPI 3.0.0, meaning the same to the
    gateway (topics, scopes, URL mappings, security) and to AsyncAPI tools. Raises
    :class:`NotConvertible`, naming each part by its pointer, when it cannot say the same."""
    from publisher import asyncapi  # the package's facade imports this module

    version = doc.get("asyncapi") if isinstance(doc, dict) else None
    if version not in asyncapi.V2_VERSIONS:
        raise NotConvertible(
            [DefinitionError(f"only AsyncAPI 2.0.0-2.6.0 converts to {TARGET_VERSION} (got {version!r})", "/asyncapi")]
        )
    converter = _Converter(doc)
    out = converter.convert()
    if converter.errors:
        raise NotConvertible(converter.errors)
    try:
        asyncapi.validate_document(out)
    except InvalidDefinition as exc:
        first = exc.errors[0]
        pointer = converter.origin(first.pointer)
        message = (
            f"{pointer or 'document'}: converted, this would not be valid AsyncAPI {TARGET_VERSION} ({first.message})"
        )
        raise NotConvertible([DefinitionError(message, pointer)]) from None
    errors = _same_behaviour(converter.src, out)
    if errors:
        raise NotConvertible(errors)
    return out

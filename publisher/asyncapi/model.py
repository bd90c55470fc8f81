"""What every AsyncAPI version reads into: operations and topics in WSO2's shapes, and the
rules about scopes, links and design lists that do not depend on the version."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from publisher.asyncapi.parsing import DefinitionError, ParsedDocument, _pointer

DEFAULT_TOPIC = "/*"
AUTHORIZATION_URL = "http://localhost:9999"  # WSO2 writes this placeholder in every API's scheme


def oauth2_components(scopes_key: str) -> dict[str, Any]:
    """The ``components`` of a new API: its own OAuth2 scheme as WSO2 writes it, an implicit
    flow whose ``scopes_key`` (2.x ``scopes``, 3.0 ``availableScopes``) declares the API's
    scopes, with their ``x-scopes-bindings`` beside them."""
    flow = {"authorizationUrl": AUTHORIZATION_URL, scopes_key: {}, "x-scopes-bindings": {}}
    return {"securitySchemes": {"oauth2": {"type": "oauth2", "flows": {"implicit": flow}}}}


@dataclass(frozen=True)
class Operation:
    """One verb on one topic, in the shape of WSO2's ``APIOperations``."""

    target: str
    verb: str  # PUBLISH | SUBSCRIBE
    scopes: tuple[str, ...] = ()
    uri_mapping: str = ""
    auth_type: str = "Any"

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verb": self.verb,
            "authType": self.auth_type,
            "scopes": list(self.scopes),
            "uriMapping": self.uri_mapping or None,
        }


@dataclass(frozen=True)
class Topic:
    """What the gateway enforces for one channel. Both verbs arrive as the same GET
    handshake, so a connection needs the scopes of every operation the channel offers (one
    of each operation's list); the URL mapping and security are publish's when it has one."""

    name: str
    verbs: tuple[str, ...]
    publish_scopes: tuple[str, ...]
    subscribe_scopes: tuple[str, ...]
    uri_mapping: str
    secured: bool
    parameters: tuple[str, ...] = field(default=())

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every scope named on the topic, publish's first (for display)."""
        return tuple(dict.fromkeys((*self.publish_scopes, *self.subscribe_scopes)))


RESERVED_SCOPE_PREFIX = "apim:"


def is_reserved_scope(name: str) -> bool:
    """``apim:*`` scopes guard the portal's own REST APIs: granted by role, never by an API."""
    return str(name).strip().lower().startswith(RESERVED_SCOPE_PREFIX)


_HTTP_URL_RE = re.compile(r"^https?://[^/?#\s]+", re.IGNORECASE)


def is_http_url(value: Any) -> bool:
    """An absolute http(s) URL with a host, with nothing a browser would read otherwise
    (whitespace or control characters, which browsers strip before reading the scheme)."""
    return (
        isinstance(value, str)
        and _HTTP_URL_RE.match(value) is not None
        and not any(ord(c) < 0x21 or 0x7F <= ord(c) < 0xA0 for c in value)
    )


def link_fields(doc: Any, path: tuple = ()):
    """Every (path, value) of a URL a documentation page shows as a link: ``externalDocs.url``
    wherever it stands, ``info.contact.url``, ``info.license.url``, ``info.termsOfService``."""
    if isinstance(doc, dict):
        info = doc.get("info") if not path else None
        if isinstance(info, dict):
            for key in ("contact", "license"):
                if isinstance(info.get(key), dict) and "url" in info[key]:
                    yield ("info", key, "url"), info[key]["url"]
            if "termsOfService" in info:
                yield ("info", "termsOfService"), info["termsOfService"]
        for key, value in doc.items():
            if key == "externalDocs" and isinstance(value, dict) and "url" in value:
                yield (*path, key, "url"), value["url"]
            yield from link_fields(value, (*path, key))
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from link_fields(item, (*path, i))


def without_unsafe_links(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with every link (see :func:`link_fields`) that is not http(s) taken
    out: for pages showing a definition stored before such links were refused."""
    doc = json.loads(json.dumps(doc))
    for path, value in list(link_fields(doc)):
        if is_http_url(value):
            continue
        if len(path) >= 2 and path[-2] == "externalDocs":
            path = path[:-1]  # the whole externalDocs object: its url is required
        parent: Any = doc
        for part in path[:-1]:
            if isinstance(parent, dict):
                parent = parent.get(part)
            elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
                parent = parent[part]
            else:
                parent = None
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return doc


def link_errors(doc: dict[str, Any], parsed: ParsedDocument) -> list[DefinitionError]:
    errors = []
    for path, value in link_fields(doc):
        if not is_http_url(value):
            pointer = _pointer(path)
            errors.append(
                DefinitionError(
                    f"{pointer}: links must be http:// or https:// URLs (got {str(value)[:80]!r})",
                    pointer,
                    parsed.line_of(pointer),
                )
            )
    return errors


def binding_roles(value: Any) -> list[str] | None:
    """The roles an ``x-scopes-bindings`` value names (a comma-separated string, as WSO2
    writes it); None when it is not a string."""
    if not isinstance(value, str):
        return None
    return [role.strip() for role in value.split(",") if role.strip()]


def _is_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def topics_of(ops: list[Operation]) -> list[Topic]:
    """One entry per topic with at least one operation. Both verbs arrive at the gateway as
    the same GET handshake: the scopes of each operation are required (publish's and
    subscribe's), the URL mapping and security are publish's when the topic has both."""
    by_target: dict[str, list[Operation]] = {}
    for op in ops:
        by_target.setdefault(op.target, []).append(op)
    out = []
    for target, group in by_target.items():
        group.sort(key=lambda o: o.verb != "PUBLISH")
        lead = group[0]
        scopes = {o.verb: o.scopes for o in group}
        out.append(
            Topic(
                name=target,
                verbs=tuple(o.verb for o in group),
                publish_scopes=scopes.get("PUBLISH", ()),
                subscribe_scopes=scopes.get("SUBSCRIBE", ()),
                uri_mapping=lead.uri_mapping,
                secured=lead.auth_type != "None",
                parameters=tuple(path_parameters(target)),
            )
        )
    return out


def path_parameters(target: str) -> list[str]:
    return [seg[1:-1] for seg in target.split("/") if seg.startswith("{") and seg.endswith("}")]


VERBS = ("PUBLISH", "SUBSCRIBE")

_SCOPE_NAME_RE = re.compile(r"[A-Za-z0-9_:\-.]{1,100}")  # whole names: fullmatch


def design_errors(
    operations: list[dict[str, Any]] | None, scopes: list[dict[str, Any]] | None
) -> list[DefinitionError]:
    """Problems in topic and scope lists that the AsyncAPI schema would report badly or not at all."""
    errors = []
    seen = set()
    for i, op in enumerate(operations or []):
        where = f"/operations/{i}"
        if not isinstance(op, dict):
            errors.append(DefinitionError("each operation must be an object {target, verb, scopes, ...}", where))
            continue
        target = op.get("target")
        verb = str(op.get("verb") or "").upper()
        if not isinstance(target, str) or not target.startswith("/") or " " in target:
            errors.append(DefinitionError(f"topic {target!r} must be a path starting with '/'", f"{where}/target"))
        if verb not in VERBS:
            errors.append(
                DefinitionError(f"verb must be PUBLISH or SUBSCRIBE (got {op.get('verb')!r})", f"{where}/verb")
            )
        if (str(target), verb) in seen:
            errors.append(DefinitionError(f"{verb} {target} is listed twice", where))
        seen.add((str(target), verb))
        mapping = op.get("uriMapping")
        if mapping and (not isinstance(mapping, str) or not mapping.startswith("/") or " " in mapping):
            errors.append(DefinitionError("URL mapping must be a path starting with '/'", f"{where}/uriMapping"))
        op_scopes = op.get("scopes") or []
        if not isinstance(op_scopes, list) or not all(isinstance(x, str) for x in op_scopes):
            errors.append(DefinitionError("scopes must be a list of scope names", f"{where}/scopes"))
    names = set()
    for i, item in enumerate(scopes or []):
        scope = _scope_item(item)
        if not scope:
            errors.append(DefinitionError("each scope must be an object {scope: {name, ...}}", f"/scopes/{i}"))
            continue
        bindings = scope.get("bindings")
        if bindings is not None and not (
            isinstance(bindings, str) or (isinstance(bindings, list) and all(isinstance(b, str) for b in bindings))
        ):
            errors.append(DefinitionError("bindings must be a list of role names", f"/scopes/{i}/bindings"))
        description = scope.get("description")
        if description is not None and not isinstance(description, str):
            errors.append(DefinitionError("description must be text", f"/scopes/{i}/description"))
        name = scope.get("name")
        if not isinstance(name, str) or not _SCOPE_NAME_RE.fullmatch(name):
            errors.append(
                DefinitionError(f"scope name {name!r}: letters, digits and _ : - . only", f"/scopes/{i}/name")
            )
        elif is_reserved_scope(name):
            errors.append(
                DefinitionError(f"scope {name!r}: apim: scopes are reserved for the portal", f"/scopes/{i}/name")
            )
        elif name in names:
            errors.append(DefinitionError(f"scope {name!r} is listed twice", f"/scopes/{i}/name"))
        else:
            names.add(name)
        # An empty list leaves the scope unbound on purpose; a blank role would do so by mistake.
        # (Bindings of the wrong type are reported above.)
        bindings = scope.get("bindings") or []
        if isinstance(bindings, str):
            if not binding_roles(bindings):
                errors.append(DefinitionError("bindings name no role", f"/scopes/{i}/bindings"))
        elif isinstance(bindings, list):
            for j, role in enumerate(bindings):
                if isinstance(role, str) and (not role.strip() or "," in role):
                    errors.append(DefinitionError(f"binding {role!r} is not a role name", f"/scopes/{i}/bindings/{j}"))
    return errors


def _scope_item(item: Any) -> dict[str, Any]:
    """WSO2's ``{"scope": {...}}`` or the flat ``{"name", ...}``; {} for anything else."""
    if not isinstance(item, dict):
        return {}
    scope = item.get("scope", item)
    return scope if isinstance(scope, dict) else {}


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (``#/components/...``) a few levels deep."""
    for _ in range(5):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/")):
            return node
        target: Any = doc
        for part in node["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node


def reserved_scope_errors(declared, path: tuple, parsed: ParsedDocument) -> list[DefinitionError]:
    """``apim:`` scopes declared by an API (``path`` is where the document declares its scopes)."""
    errors = []
    for name in declared:
        if is_reserved_scope(name):
            pointer = _pointer((*path, name))
            errors.append(
                DefinitionError(
                    f"Scope '{name}' is reserved: apim: scopes belong to the portal's REST APIs "
                    "and cannot be declared by an API",
                    pointer,
                    parsed.line_of(pointer),
                )
            )
    return errors


def uri_mapping_errors(node: dict[str, Any], path: tuple, parsed: ParsedDocument) -> list[DefinitionError]:
    """``x-uri-mapping`` of the channel or operation at ``path``: a path starting with '/'."""
    mapping = node.get("x-uri-mapping")
    if mapping is None or (isinstance(mapping, str) and mapping.startswith("/")):
        return []
    pointer = _pointer((*path, "x-uri-mapping"))
    return [DefinitionError("x-uri-mapping must be a path starting with '/'", pointer, parsed.line_of(pointer))]


def x_scopes_errors(
    op: dict[str, Any], path: tuple, parsed: ParsedDocument, declared: set[str], home: str
) -> list[DefinitionError]:
    """``x-scopes`` of the operation at ``path``: a list of scopes the document declares
    (``home`` says where, for the message)."""
    scopes = op.get("x-scopes")
    pointer = _pointer((*path, "x-scopes"))
    if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes)):
        return [
            DefinitionError(
                "x-scopes must be a list of scope names (or WSO2's map of them)", pointer, parsed.line_of(pointer)
            )
        ]
    return [
        DefinitionError(f"Scope '{scope}' not found: declare it under {home}", pointer, parsed.line_of(pointer))
        for scope in scopes or []
        if scope not in declared
    ]


def binding_errors(flow: Any, path: tuple, parsed: ParsedDocument, declared: set[str]) -> list[DefinitionError]:
    """A binding (``x-scopes-bindings`` of ``flow``, found at ``path``) must name a declared
    scope exactly and at least one role: a mistyped key or a blank value would otherwise
    leave the scope unbound, open to everyone."""
    if not isinstance(flow, dict) or "x-scopes-bindings" not in flow:
        return []
    bindings = flow["x-scopes-bindings"]

    def error(message: str, *key) -> DefinitionError:
        pointer = _pointer((*path, *key))
        return DefinitionError(message, pointer, parsed.line_of(pointer))

    if not isinstance(bindings, dict):
        return [error("x-scopes-bindings must map scope names to comma-separated roles")]
    errors = []
    for name, value in bindings.items():
        if name not in declared:
            errors.append(error(f"binding for {name!r}: no such scope is declared (names match exactly)", name))
        elif not binding_roles(value):
            errors.append(error(f"binding for {name!r} names no role: give roles or leave the scope out", name))
    return errors


def x_scopes_list(value: Any) -> Any:
    """WSO2's map form of ``x-scopes`` (``{"0": x}``) as a list; anything else as it is."""
    return [value[k] for k in sorted(value, key=str)] if isinstance(value, dict) else value


def example_text(doc: dict[str, Any], message: Any) -> str:
    """A message's first example, else its payload schema's example, as text (JSON for
    structured payloads); empty when it has none."""
    message = _resolve(doc, message)
    if not isinstance(message, dict):
        return ""
    value: Any = None
    examples = message.get("examples")
    if isinstance(examples, list) and examples and isinstance(examples[0], dict) and "payload" in examples[0]:
        value = examples[0]["payload"]
    else:
        payload = _resolve(doc, message.get("payload"))
        if isinstance(payload, dict) and "schemaFormat" in payload and "schema" in payload:
            payload = _resolve(doc, payload["schema"])  # 3.0's multi-format schema object
        if isinstance(payload, dict):
            if "example" in payload:
                value = payload["example"]
            elif isinstance(payload.get("examples"), list) and payload["examples"]:
                value = payload["examples"][0]
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def scope_declarations(scopes: list[Any]) -> tuple[dict[str, str], dict[str, str]]:
    """WSO2's ``APIScope`` list as a document declares it: scope name to description, and
    scope name to its roles (``x-scopes-bindings``, comma-separated as WSO2 writes them)."""
    descriptions: dict[str, str] = {}
    bindings: dict[str, str] = {}
    for item in scopes:
        scope = _scope_item(item)
        name = str(scope.get("name") or "")
        descriptions[name] = str(scope.get("description") or "")
        roles = scope.get("bindings") or []
        if isinstance(roles, str):
            roles = roles.split(",")
        elif not isinstance(roles, list):
            roles = []
        joined = ",".join(str(b).strip() for b in roles if str(b).strip())
        if joined:
            bindings[name] = joined
    return descriptions, bindings


def is_secured(doc: dict[str, Any]) -> bool:
    """API-wide OAuth2: off when the document disables security at its root (both versions)."""
    return not (_is_true(doc.get("x-wso2-disable-security")) or doc.get("x-auth-type") == "None")


def writable_implicit_flow(doc: dict[str, Any]) -> dict[str, Any]:
    """The API's OAuth2 implicit flow (``components.securitySchemes.oauth2.flows.implicit``)
    of ``doc``, in place, for a writer to fill: made where it is absent or, in a stored
    document, not a mapping."""
    node = doc
    for key, default in (
        ("components", {}),
        ("securitySchemes", {}),
        ("oauth2", {"type": "oauth2", "flows": {}}),
        ("flows", {}),
        ("implicit", {"authorizationUrl": "http://localhost:9999"}),
    ):
        if not isinstance(node.get(key), dict):
            node[key] = default
        node = node[key]
    return node


def with_security_switch(doc: dict[str, Any], secured: bool) -> None:
    """Switch API-wide OAuth2 on or off at the document's root, in place."""
    doc.pop("x-auth-type", None)
    if secured:
        doc.pop("x-wso2-disable-security", None)
    else:
        doc["x-wso2-disable-security"] = True

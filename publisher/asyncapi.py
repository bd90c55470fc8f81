"""AsyncAPI 2.x documents: parse, validate, and read topics out of them.

The document is the source of truth for an API's topics. Everything here is a pure
function over plain data, so it is tested without a database.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml
from django.conf import settings

SUPPORTED_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0", "2.6.0")
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024  # the default of TIDEGATE_DEFINITION_MAX_BYTES
DEFAULT_TOPIC = "/*"


@dataclass(frozen=True)
class DefinitionError:
    message: str
    pointer: str = ""
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": _printable(self.message), "pointer": _printable(self.pointer)}
        if self.line is not None:
            out["line"] = self.line
        return out


def _printable(text: str) -> str:
    """``text`` as UTF-8 can carry it: a lone surrogate (from a ``\\ud800`` escape) written as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class InvalidDefinition(Exception):
    def __init__(self, errors: list[DefinitionError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


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


# ---------------------------------------------------------------- parsing


def _pointer(path) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) if path else ""


class _NoAliasLoader(yaml.SafeLoader):
    """Refuses anchors and aliases outright: they are how YAML bombs are built."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError("while parsing", None, "aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


# ---------------------------------------------------------------- limits


@dataclass(frozen=True)
class DefinitionLimits:
    """How big a definition may be; each is a setting (``TIDEGATE_DEFINITION_MAX_*``)."""

    max_bytes: int = MAX_DOCUMENT_BYTES
    max_depth: int = 64  # nested mappings and lists
    max_nodes: int = 20_000  # every key, value and list item
    max_string: int = 65_536  # characters in one key or value
    max_channels: int = 1_000

    @classmethod
    def from_settings(cls) -> DefinitionLimits:
        conf = getattr(settings, "TIDEGATE", {}) if settings.configured else {}
        return cls(
            max_bytes=int(conf.get("DEFINITION_MAX_BYTES", cls.max_bytes)),
            max_depth=int(conf.get("DEFINITION_MAX_DEPTH", cls.max_depth)),
            max_nodes=int(conf.get("DEFINITION_MAX_NODES", cls.max_nodes)),
            max_string=int(conf.get("DEFINITION_MAX_STRING", cls.max_string)),
            max_channels=int(conf.get("DEFINITION_MAX_CHANNELS", cls.max_channels)),
        )

    def too_deep(self) -> str:
        return f"nested deeper than {self.max_depth} levels (TIDEGATE_DEFINITION_MAX_DEPTH)"

    def too_many_nodes(self) -> str:
        return f"more than {self.max_nodes} keys, values and list items (TIDEGATE_DEFINITION_MAX_NODES)"

    def too_long(self, length: int) -> str:
        return f"a text of {length} characters, more than {self.max_string} (TIDEGATE_DEFINITION_MAX_STRING)"

    def too_many_channels(self, count: int) -> str:
        return f"{count} channels, more than {self.max_channels} (TIDEGATE_DEFINITION_MAX_CHANNELS)"


class _Refused(yaml.YAMLError):
    """A limit reached while composing: refused at once, before the rest is read."""

    def __init__(self, error: DefinitionError):
        super().__init__(error.message)
        self.error = error


class _LimitedLoader(_NoAliasLoader):
    """Composes at most ``max_nodes`` nodes, ``max_depth`` deep, with scalars of at most
    ``max_string`` characters and no key twice in a mapping: a document past a limit is
    refused where it passes it, so a huge or deep one costs little and never recurses far."""

    def __init__(self, text: str, limits: DefinitionLimits):
        super().__init__(text)
        self.limits = limits
        self.nodes = 0
        self.path: list[Any] = []

    def _refuse(self, message: str, line: int) -> None:
        pointer = _pointer(self.path)
        raise _Refused(DefinitionError(f"{pointer or 'document'}: {message}", pointer, line))

    def compose_node(self, parent, index):
        line = self.peek_event().start_mark.line + 1
        key = None
        if parent is not None and index is not None:  # a mapping's value (index: its key node) or a list item
            key = index.value if isinstance(index, yaml.Node) else index
        if key is not None:
            self.path.append(key)
        try:
            self.nodes += 1
            if self.nodes > self.limits.max_nodes:
                self._refuse(self.limits.too_many_nodes(), line)
            if len(self.path) >= self.limits.max_depth:
                self._refuse(self.limits.too_deep(), line)
            node = super().compose_node(parent, index)
            if isinstance(node, yaml.ScalarNode) and len(node.value) > self.limits.max_string:
                self._refuse(self.limits.too_long(len(node.value)), line)
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    name = (key_node.tag, key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
                    if name is not None and name in seen:
                        self.path.append(key_node.value)
                        self._refuse("this key appears twice in its mapping", key_node.start_mark.line + 1)
                    seen.add(name)
            return node
        finally:
            if key is not None:
                self.path.pop()


def limit_errors(doc: Any, parsed: ParsedDocument | None = None, limits: DefinitionLimits | None = None):
    """The limits a document (already parsed, or built in code) passes, checked without
    recursion: depth, node count, text length and content, numbers JSON can carry, and the
    number of channels. Stops at the first count that is over its limit."""
    limits = limits or DefinitionLimits.from_settings()
    line_of = parsed.line_of if parsed is not None else (lambda pointer: None)
    errors: list[DefinitionError] = []

    def error(path, message):
        pointer = _pointer(path)
        errors.append(DefinitionError(f"{pointer or 'document'}: {message}", pointer, line_of(pointer)))

    def bad_text(value: str) -> str | None:
        if len(value) > limits.max_string:
            return limits.too_long(len(value))
        if "\x00" in value:
            return "text must not hold NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text must be valid Unicode (no lone surrogates)"
        return None

    nodes = 0
    stack: list[tuple[Any, tuple]] = [(doc, ())]
    while stack and len(errors) < 20:
        value, path = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            error((), limits.too_many_nodes())
            break
        if len(path) >= limits.max_depth:
            error(path, limits.too_deep())
            break
        if isinstance(value, dict):
            for key, item in value.items():
                nodes += 1
                if not isinstance(key, str):
                    error((*path, key), "keys must be text")
                elif problem := bad_text(key):
                    error((*path, key), problem)
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, str):
            if problem := bad_text(value):
                error(path, problem)
        elif isinstance(value, float) and not math.isfinite(value):
            error(path, "numbers must be finite")
        elif not (value is None or isinstance(value, bool | int | float)):
            error(path, f"a value JSON cannot carry ({type(value).__name__})")
    channels = doc.get("channels") if isinstance(doc, dict) else None
    if not errors and isinstance(channels, dict) and len(channels) > limits.max_channels:
        error(("channels",), limits.too_many_channels(len(channels)))
    return errors


def _node_lines(node, path=(), out=None) -> dict[str, int]:
    out = {} if out is None else out
    out[_pointer(path)] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out.setdefault(_pointer((*path, key.value)), key.start_mark.line + 1)
            _node_lines(value, (*path, key.value), out)
            out[_pointer((*path, key.value))] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, (*path, i), out)
    return out


@dataclass(frozen=True)
class ParsedDocument:
    document: dict[str, Any]
    lines: dict[str, int]  # JSON pointer -> 1-based line, empty for JSON input

    def line_of(self, pointer: str) -> int | None:
        while True:
            if pointer in self.lines:
                return self.lines[pointer]
            if not pointer:
                return None
            pointer = pointer.rsplit("/", 1)[0]


def parse(text: str | bytes, limits: DefinitionLimits | None = None) -> ParsedDocument:
    """Parse YAML or JSON text into a document, remembering where each node stood. The
    limits (:class:`DefinitionLimits`) are checked while it is read."""
    limits = limits or DefinitionLimits.from_settings()
    too_large = f"document is larger than {limits.max_bytes} bytes (TIDEGATE_DEFINITION_MAX_BYTES)"
    if isinstance(text, bytes):
        if len(text) > limits.max_bytes:
            raise InvalidDefinition([DefinitionError(too_large)])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidDefinition([DefinitionError("document is not UTF-8 text")]) from None
    if not isinstance(text, str):
        raise InvalidDefinition([DefinitionError("document must be text")])
    if len(text) > limits.max_bytes or len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise InvalidDefinition([DefinitionError(too_large)])
    if not text.strip():
        raise InvalidDefinition([DefinitionError("document is empty")])
    try:
        loader = _LimitedLoader(text, limits)
        try:
            node = loader.get_single_node()
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _Refused as exc:
        raise InvalidDefinition([exc.error]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InvalidDefinition([DefinitionError(f"not valid YAML or JSON: {exc.problem or exc}", "", line)]) from None
    except yaml.YAMLError as exc:
        raise InvalidDefinition([DefinitionError(f"not valid YAML or JSON: {exc}")]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an integer of more digits than Python reads
        raise InvalidDefinition([DefinitionError(f"not valid YAML or JSON: {str(exc)[:200]}")]) from None
    if not isinstance(document, dict):
        raise InvalidDefinition([DefinitionError("document must be a mapping (an AsyncAPI object)", "", 1)])
    # Round-trip through JSON: refuses YAML-only types (dates, sets, binary, NaN) and
    # normalises keys.
    try:
        document = json.loads(json.dumps(document, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidDefinition([DefinitionError(f"document holds values JSON cannot carry: {exc}")]) from None
    parsed = ParsedDocument(document, _node_lines(node) if node is not None else {})
    errors = limit_errors(document, parsed, limits)
    if errors:
        raise InvalidDefinition(errors)
    return parsed


# ---------------------------------------------------------------- validation


# The AsyncAPI JSON schemas, vendored as package data (publisher/schemas/asyncapi/SOURCE.md).
SCHEMAS = resources.files("publisher") / "schemas" / "asyncapi"


@cache
def _schema(version: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{version}.json").read_text(encoding="utf-8"))


def validate(parsed: ParsedDocument) -> dict[str, Any]:
    """Check a parsed document against the AsyncAPI schema and WSO2's extension rules.

    Returns the document with ``x-scopes`` normalised to lists. Raises InvalidDefinition
    with every problem found, each with its JSON pointer and (for YAML) line.
    """
    doc = parsed.document
    if not isinstance(doc, dict):
        raise InvalidDefinition([DefinitionError("document must be a mapping (an AsyncAPI object)", "", 1)])
    # The limits first: the schema walk and the checks below then only see documents of a
    # bounded size and depth.
    errors = limit_errors(doc, parsed)
    if errors:
        raise InvalidDefinition(errors)
    version = doc.get("asyncapi")
    if version not in SUPPORTED_VERSIONS:
        raise InvalidDefinition(
            [
                DefinitionError(
                    f"'asyncapi' must be one of {', '.join(SUPPORTED_VERSIONS)} (got {version!r})",
                    "/asyncapi",
                    parsed.line_of("/asyncapi"),
                )
            ]
        )
    doc = normalise(doc)
    validator = jsonschema.Draft7Validator(_schema(version))
    errors = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        pointer = _pointer(err.absolute_path)
        errors.append(DefinitionError(_schema_message(err), pointer, parsed.line_of(pointer)))
    errors.extend(_extension_errors(doc, parsed))
    if errors:
        raise InvalidDefinition(errors)
    return doc


def _schema_message(err: jsonschema.ValidationError) -> str:
    # oneOf/anyOf errors are unreadable at the top; the most specific sub-error says more.
    best = jsonschema.exceptions.best_match([err]) if err.context else err
    where = _pointer(err.absolute_path) or "document"
    return f"{where}: {best.message}"


RESERVED_SCOPE_PREFIX = "apim:"
_SCOPES_POINTER = ("components", "securitySchemes", "oauth2", "flows", "implicit", "scopes")
_BINDINGS_POINTER = ("components", "securitySchemes", "oauth2", "flows", "implicit", "x-scopes-bindings")


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


def _link_errors(doc: dict[str, Any], parsed: ParsedDocument) -> list[DefinitionError]:
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


def _binding_errors(doc: dict[str, Any], parsed: ParsedDocument, declared: set[str]) -> list[DefinitionError]:
    """A binding must name a declared scope exactly and at least one role: a mistyped key or
    a blank value would otherwise leave the scope unbound, open to everyone."""
    implicit = implicit_flow(doc)
    if not isinstance(implicit, dict) or "x-scopes-bindings" not in implicit:
        return []
    bindings = implicit["x-scopes-bindings"]

    def error(message: str, *path) -> DefinitionError:
        pointer = _pointer((*_BINDINGS_POINTER, *path))
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


def _extension_errors(doc: dict[str, Any], parsed: ParsedDocument) -> list[DefinitionError]:
    errors = _link_errors(doc, parsed)
    declared = set(declared_scopes(doc))
    for name in declared:
        if is_reserved_scope(name):
            pointer = _pointer((*_SCOPES_POINTER, name))
            errors.append(
                DefinitionError(
                    f"Scope '{name}' is reserved: apim: scopes belong to the portal's REST APIs "
                    "and cannot be declared by an API",
                    pointer,
                    parsed.line_of(pointer),
                )
            )
    channels = doc.get("channels")
    for name, channel in (channels if isinstance(channels, dict) else {}).items():
        if not name.startswith("/"):
            pointer = _pointer(("channels", name))
            errors.append(DefinitionError(f"topic {name!r} must start with '/'", pointer, parsed.line_of(pointer)))
        for verb in ("publish", "subscribe"):
            op = channel.get(verb) if isinstance(channel, dict) else None
            if not isinstance(op, dict):
                continue
            mapping = op.get("x-uri-mapping")
            if mapping is not None and (not isinstance(mapping, str) or not mapping.startswith("/")):
                pointer = _pointer(("channels", name, verb, "x-uri-mapping"))
                errors.append(
                    DefinitionError("x-uri-mapping must be a path starting with '/'", pointer, parsed.line_of(pointer))
                )
            scopes = op.get("x-scopes")
            if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes)):
                pointer = _pointer(("channels", name, verb, "x-scopes"))
                errors.append(
                    DefinitionError(
                        "x-scopes must be a list of scope names (or WSO2's map of them)",
                        pointer,
                        parsed.line_of(pointer),
                    )
                )
                continue
            for scope in scopes or []:
                if scope not in declared:
                    pointer = _pointer(("channels", name, verb, "x-scopes"))
                    errors.append(
                        DefinitionError(
                            f"Scope '{scope}' not found: declare it under "
                            "components.securitySchemes.oauth2.flows.implicit.scopes",
                            pointer,
                            parsed.line_of(pointer),
                        )
                    )
    errors.extend(_binding_errors(doc, parsed, declared))
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
            if isinstance(op, dict) and isinstance(op.get("x-scopes"), dict):
                op["x-scopes"] = [op["x-scopes"][k] for k in sorted(op["x-scopes"], key=str)]
    return doc


def parse_and_validate(text: str | bytes) -> dict[str, Any]:
    return validate(parse(text))


# ---------------------------------------------------------------- reading


def declared_scopes(doc: dict[str, Any]) -> dict[str, str]:
    implicit = implicit_flow(doc)
    scopes = implicit.get("scopes") if isinstance(implicit, dict) else None
    return dict(scopes) if isinstance(scopes, dict) else {}


def implicit_flow(doc: dict[str, Any]) -> dict[str, Any]:
    try:
        return doc["components"]["securitySchemes"]["oauth2"]["flows"]["implicit"]
    except (KeyError, TypeError):
        return {}


def _is_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


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


def topics(doc: dict[str, Any]) -> list[Topic]:
    """One entry per channel with at least one operation. Both verbs arrive at the gateway as
    the same GET handshake: the scopes of each operation are required (publish's and
    subscribe's), the URL mapping and security are publish's when the channel has both."""
    by_target: dict[str, list[Operation]] = {}
    for op in operations(doc):
        by_target.setdefault(op.target, []).append(op)
    out = []
    for target, ops in by_target.items():
        ops.sort(key=lambda o: o.verb != "PUBLISH")
        lead = ops[0]
        scopes = {o.verb: o.scopes for o in ops}
        out.append(
            Topic(
                name=target,
                verbs=tuple(o.verb for o in ops),
                publish_scopes=scopes.get("PUBLISH", ()),
                subscribe_scopes=scopes.get("SUBSCRIBE", ()),
                uri_mapping=lead.uri_mapping,
                secured=lead.auth_type != "None",
                parameters=tuple(_params(target)),
            )
        )
    return out


def _params(target: str) -> list[str]:
    return [seg[1:-1] for seg in target.split("/") if seg.startswith("{") and seg.endswith("}")]


def blank_definition(*, name: str, version: str, endpoint: str) -> dict[str, Any]:
    """The document of a new API made from a form: one catch-all topic ``/*``."""
    return {
        "asyncapi": "2.0.0",
        "info": {"title": name, "version": version},
        "servers": {"production": {"url": endpoint, "protocol": "ws"}},
        "channels": {DEFAULT_TOPIC: {"publish": {}, "subscribe": {}, "x-auth-type": "Any"}},
        "components": {
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "implicit": {
                            "authorizationUrl": "http://localhost:9999",
                            "scopes": {},
                            "x-scopes-bindings": {},
                        }
                    },
                }
            }
        },
    }


def server_url(doc: dict[str, Any], name: str) -> str:
    server = (doc.get("servers") or {}).get(name)
    return server.get("url", "") if isinstance(server, dict) else ""


def with_servers(doc: dict[str, Any], *, production: str, sandbox: str = "") -> dict[str, Any]:
    """A copy of ``doc`` whose servers name the API's endpoints, as WSO2 writes them."""
    doc = json.loads(json.dumps(doc))
    servers = {"production": {"url": production, "protocol": "ws" if production.startswith("ws:") else "wss"}}
    if sandbox:
        servers["sandbox"] = {"url": sandbox, "protocol": "ws" if sandbox.startswith("ws:") else "wss"}
    doc["servers"] = servers
    return doc


# ---------------------------------------------------------------- editing

VERBS = ("PUBLISH", "SUBSCRIBE")


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
        old = doc.get("channels") or {}
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
        implicit = (
            doc.setdefault("components", {})
            .setdefault("securitySchemes", {})
            .setdefault("oauth2", {"type": "oauth2", "flows": {}})
            .setdefault("flows", {})
            .setdefault("implicit", {"authorizationUrl": "http://localhost:9999"})
        )
        implicit["scopes"] = {}
        implicit["x-scopes-bindings"] = {}
        for item in scopes:
            scope = _scope_item(item)
            name = str(scope.get("name") or "")
            implicit["scopes"][name] = str(scope.get("description") or "")
            bindings = scope.get("bindings") or []
            if isinstance(bindings, str):
                bindings = [b for b in bindings.split(",")]
            elif not isinstance(bindings, list):
                bindings = []
            roles = ",".join(str(b).strip() for b in bindings if str(b).strip())
            if roles:
                implicit["x-scopes-bindings"][name] = roles
    if secured is not None:
        doc.pop("x-auth-type", None)
        if secured:
            doc.pop("x-wso2-disable-security", None)
        else:
            doc["x-wso2-disable-security"] = True
    return doc


def is_secured(doc: dict[str, Any]) -> bool:
    """API-wide OAuth2: off when the document disables security at its root."""
    return not (_is_true(doc.get("x-wso2-disable-security")) or doc.get("x-auth-type") == "None")


_SCOPE_NAME_RE = re.compile(r"^[A-Za-z0-9_:\-.]{1,100}$")


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
        if not isinstance(name, str) or not _SCOPE_NAME_RE.match(name):
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


def validate_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate a document built in code (no source lines to point at)."""
    return validate(ParsedDocument(json.loads(json.dumps(doc)), {}))


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


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


def message_example(doc: dict[str, Any], channel: str, verb: str = "publish") -> str:
    """A frame to prefill the Try Out console with: the message's first example, else its
    payload schema's example, as text (JSON for structured payloads); empty when none."""
    op = ((doc.get("channels") or {}).get(channel) or {}).get(verb) or {}
    message = _resolve(doc, op.get("message") if isinstance(op, dict) else None)
    if isinstance(message, dict) and isinstance(message.get("oneOf"), list) and message["oneOf"]:
        message = _resolve(doc, message["oneOf"][0])
    if not isinstance(message, dict):
        return ""
    value: Any = None
    examples = message.get("examples")
    if isinstance(examples, list) and examples and isinstance(examples[0], dict) and "payload" in examples[0]:
        value = examples[0]["payload"]
    else:
        payload = _resolve(doc, message.get("payload"))
        if isinstance(payload, dict):
            if "example" in payload:
                value = payload["example"]
            elif isinstance(payload.get("examples"), list) and payload["examples"]:
                value = payload["examples"][0]
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)

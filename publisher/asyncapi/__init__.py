"""AsyncAPI documents, 2.0-2.6 and 3.0: parse, validate, read topics out of them and edit them.

The document is the source of truth for an API's topics, and each definition stays in the
version it was written in. Each version has its module (:mod:`.v2`, :mod:`.v3`); the
functions here pick the document's and return the same model (:class:`Operation`,
:class:`Topic`), so the gateway, the snapshot and the Dev Portal never ask which version a
definition is. Everything is a pure function over plain data, tested without a database.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from types import ModuleType
from typing import Any

import jsonschema

from publisher.asyncapi import model, payloads, v2, v3
from publisher.asyncapi.convert import NotConvertible, to_v3
from publisher.asyncapi.model import (
    DEFAULT_TOPIC,
    VERBS,
    Operation,
    Topic,
    binding_roles,
    design_errors,
    is_http_url,
    is_reserved_scope,
    link_fields,
    path_parameters,
    topics_of,
    without_unsafe_links,
)
from publisher.asyncapi.parsing import (
    MAX_DOCUMENT_BYTES,
    DefinitionError,
    DefinitionLimits,
    InvalidDefinition,
    ParsedDocument,
    _pointer,
    limit_errors,
    parse,
    to_yaml,
)

__all__ = [
    "DEFAULT_TOPIC",
    "MAX_DOCUMENT_BYTES",
    "NotConvertible",
    "SUPPORTED_VERSIONS",
    "VERBS",
    "DefinitionError",
    "DefinitionLimits",
    "InvalidDefinition",
    "Operation",
    "ParsedDocument",
    "Topic",
    "binding_roles",
    "blank_definition",
    "declared_scopes",
    "design_errors",
    "implicit_flow",
    "is_http_url",
    "is_reserved_scope",
    "is_secured",
    "is_v3",
    "limit_errors",
    "link_fields",
    "message_example",
    "message_schemas",
    "normalise",
    "operations",
    "parse",
    "parse_and_validate",
    "path_parameters",
    "payload_errors",
    "server_url",
    "to_v3",
    "to_yaml",
    "topics",
    "validate",
    "validate_document",
    "warnings",
    "with_design",
    "with_servers",
    "without_unsafe_links",
]

V2_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0", "2.6.0")
V3_VERSIONS = ("3.0.0",)
SUPPORTED_VERSIONS = V2_VERSIONS + V3_VERSIONS
NEW_API_VERSION = "3.0.0"  # what a new API starts as (WSO2 4.7 creates every new one as 3.0)


def is_v3(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("asyncapi"), str) and doc["asyncapi"].startswith("3.")


def _module(doc: Any) -> ModuleType:
    return v3 if is_v3(doc) else v2


# ---------------------------------------------------------------- validation


# The AsyncAPI JSON schemas, vendored as package data (publisher/schemas/asyncapi/SOURCE.md).
SCHEMAS = resources.files("publisher") / "schemas" / "asyncapi"


@cache
def _schema(version: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{version}.json").read_text(encoding="utf-8"))


def _version_error(version: Any) -> str:
    if isinstance(version, str) and version[:2] in ("2.", "3.") and version not in SUPPORTED_VERSIONS:
        return (
            f"AsyncAPI {version} is not supported: Tidegate reads {', '.join(V2_VERSIONS)} and {', '.join(V3_VERSIONS)}"
        )
    return f"'asyncapi' must be one of {', '.join(SUPPORTED_VERSIONS)} (got {version!r})"


def validate(parsed: ParsedDocument) -> dict[str, Any]:
    """Check a parsed document against its version's AsyncAPI schema, then against what the
    schema cannot say (references that must resolve, topics, WSO2's extensions).

    Returns the document normalised (WSO2's map form of ``x-scopes`` as lists). Raises
    InvalidDefinition with every problem found, each with its JSON pointer and (for YAML) line.
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
        raise InvalidDefinition([DefinitionError(_version_error(version), "/asyncapi", parsed.line_of("/asyncapi"))])
    module = _module(doc)
    doc = module.normalise(doc)
    validator = jsonschema.Draft7Validator(_schema(version))
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        pointer, message = _schema_error(err)
        errors.append(DefinitionError(message, pointer, parsed.line_of(pointer)))
    errors.extend(module.extension_errors(doc, parsed))
    if not errors:  # a topic's address names each parameter once (which value would it take?)
        for topic in topics(doc):
            repeated = sorted({p for p in topic.parameters if topic.parameters.count(p) > 1})
            if repeated:
                errors.append(
                    DefinitionError(
                        f"topic {topic.name}: the parameter {{{repeated[0]}}} appears more than once in its address",
                        "/channels",
                        parsed.line_of("/channels"),
                    )
                )
    if errors:
        raise InvalidDefinition(errors)
    return doc


def _schema_error(err: jsonschema.ValidationError) -> tuple[str, str]:
    """The most specific thing wrong: oneOf/anyOf errors are unreadable at the top, and in
    3.0 nearly every object may instead be a ``$ref``, whose "'$ref' is a required property"
    says nothing about what the author meant to write."""
    best = err
    while best.context:
        meant = [e for e in best.context if not (e.validator == "required" and "'$ref'" in e.message)]
        best = jsonschema.exceptions.best_match(meant or best.context)
        if best is None:
            best = err
            break
    pointer = _pointer(best.absolute_path)
    return pointer, f"{pointer or 'document'}: {best.message}"


def parse_and_validate(text: str | bytes) -> dict[str, Any]:
    return validate(parse(text))


def validate_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate a document built in code (no source lines to point at)."""
    return validate(ParsedDocument(json.loads(json.dumps(doc)), {}))


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with WSO2's map form of ``x-scopes`` (``{"0": x}``) as lists."""
    return _module(doc).normalise(doc)


def warnings(doc: dict[str, Any]) -> list[DefinitionError]:
    """What a valid document says that the gateway will not act on (a 3.0 channel without
    an address is no topic), for the Publisher to show beside a successful import."""
    return _module(doc).warnings(doc)


# ---------------------------------------------------------------- reading


def operations(doc: dict[str, Any]) -> list[Operation]:
    """The topics' operations in WSO2's ``APIOperations`` shape, whatever the version.
    Whatever does not have the shape validation requires (a document stored before a rule
    existed) is read as absent, never an error."""
    if not isinstance(doc, dict):
        return []
    return _module(doc).operations(doc)


def topics(doc: dict[str, Any]) -> list[Topic]:
    """One entry per topic with at least one operation: what the gateway enforces."""
    return topics_of(operations(doc))


def declared_scopes(doc: dict[str, Any]) -> dict[str, str]:
    """The scopes the document declares, name to description."""
    return _module(doc).declared_scopes(doc) if isinstance(doc, dict) else {}


def implicit_flow(doc: dict[str, Any]) -> dict[str, Any]:
    """The OAuth2 flow that declares the API's scopes and holds their ``x-scopes-bindings``."""
    return _module(doc).implicit_flow(doc) if isinstance(doc, dict) else {}


def is_secured(doc: dict[str, Any]) -> bool:
    """API-wide OAuth2: off when the document disables security at its root."""
    return model.is_secured(doc)


def server_url(doc: dict[str, Any], name: str) -> str:
    """The URL of the server ``name`` (production, sandbox), empty when there is none."""
    return _module(doc).server_url(doc, name)


def message_example(doc: dict[str, Any], topic: str, verb: str = "PUBLISH") -> str:
    """A frame to prefill the Try Out console with for ``verb`` on ``topic``: the message's
    first example, else its payload schema's example, as text (JSON for structured
    payloads); empty when none."""
    return _module(doc).message_example(doc, topic, verb.upper())


def message_schemas(doc: Any) -> dict[str, dict[str, payloads.PayloadSchema | None]]:
    """Each topic's message payload schema per direction, ``{topic: {"PUBLISH": PayloadSchema
    | None, "SUBSCRIBE": ...}}``, bundled to stand alone (:mod:`.payloads`), whatever the
    version: what the gateway validates messages against when the API asks it to."""
    return payloads.message_schemas(doc)


def payload_errors(doc: Any, directions: tuple[str, ...] = payloads.DIRECTIONS) -> list[DefinitionError]:
    """The payload schemas of ``directions`` (PUBLISH, SUBSCRIBE) the gateway could not
    validate with (a reference outside the document, a schema that does not compile), each
    naming its pointer."""
    return payloads.payload_errors(doc, directions)


# ---------------------------------------------------------------- writing


def blank_definition(*, name: str, version: str, endpoint: str) -> dict[str, Any]:
    """The document of a new API made from a form: AsyncAPI 3.0, one catch-all topic ``/*``."""
    return v3.blank_definition(name=name, version=version, endpoint=endpoint)


def with_servers(doc: dict[str, Any], *, production: str, sandbox: str = "") -> dict[str, Any]:
    """A copy of ``doc`` whose servers name the API's endpoints, as WSO2 writes them."""
    return _module(doc).with_servers(doc, production=production, sandbox=sandbox)


def with_design(
    doc: dict[str, Any],
    *,
    operations: list[dict[str, Any]] | None = None,
    scopes: list[dict[str, Any]] | None = None,
    secured: bool | None = None,
) -> dict[str, Any]:
    """A copy of ``doc`` with its topics, scopes or API-wide security replaced, written in
    the document's own version.

    ``operations`` and ``scopes`` are in WSO2's ``APIOperations`` and ``APIScope`` shapes
    (``{"target", "verb", "scopes", "uriMapping", "authType"}`` and
    ``{"scope": {"name", "description", "bindings"}}`` or the flat ``{"name", ...}``). What
    the document says beyond them (descriptions, messages, parameters of kept topics) stays.
    The result is not validated: pass it through :func:`validate_document`.
    """
    return _module(doc).with_design(doc, operations=operations, scopes=scopes, secured=secured)

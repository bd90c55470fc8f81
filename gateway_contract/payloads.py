"""Message payload schemas, compiled the one way the portal checks them and the gateway runs them.

The portal bundles each topic's payload schema out of the API's AsyncAPI definition
(``publisher.asyncapi.payloads``: every ``$ref`` local, under ``$defs``) and refuses a revision
whose schema does not compile here; the gateway compiles the same schema once per snapshot and
validates messages with it. ``fastjsonschema`` generates a Python function per schema: about
ten times faster than ``jsonschema`` on a small object (docs/benchmarks.md).

A compiled schema never reaches outside the process: every ``$ref`` that is not local to the
schema is refused at compile time (``fastjsonschema`` would otherwise fetch it with urllib),
and defaults are never written into the message (``use_default=False``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

import fastjsonschema

# A compiled payload schema: None when the message is valid, else (JSON pointer, message).
Check = Callable[[Any], "tuple[str, str] | None"]


class SchemaRefused(ValueError):
    """A payload schema that does not compile: ``pointer`` is where in the schema, when known."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.pointer = pointer


def _no_remote(uri: str) -> NoReturn:
    raise SchemaRefused(f"$ref {uri!r} is not local to the schema: only '#/...' references are read")


class _EveryScheme(Mapping[str, Callable[[str], Any]]):
    """Handlers for every URI scheme, each refusing: no schema can make the compiler fetch."""

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return _no_remote

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_HANDLERS = _EveryScheme()


def pointer_of(path: list[str]) -> str:
    """fastjsonschema's error path (``["data", "a", "1"]``) as a JSON pointer (``/a/1``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path[1:])


def _compiled(schema: dict[str, Any]) -> Callable[[Any], Any]:
    if not isinstance(schema, dict):
        raise SchemaRefused(f"a schema is an object, not {type(schema).__name__}")
    try:
        return fastjsonschema.compile(
            json.loads(json.dumps(schema)),  # fastjsonschema rewrites $refs in place: a copy
            handlers=_HANDLERS,
            use_default=False,
        )
    except SchemaRefused:
        raise
    except RecursionError:
        raise SchemaRefused("the schema is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - the compiler raises whatever its generated code does
        raise SchemaRefused(f"the schema does not compile: {exc}") from None


def _failure(exc: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    message = exc.message
    if exc.name and message.startswith(exc.name + " "):
        message = message[len(exc.name) + 1 :]
    return pointer_of(list(exc.path or ["data"])), message


def compile_schema(schema: dict[str, Any]) -> Check:
    """``schema`` (draft-07, as AsyncAPI's schema object is) as a check of decoded JSON.
    Raises :class:`SchemaRefused` when it cannot be compiled."""
    validate = _compiled(schema)

    def check(value: Any) -> tuple[str, str] | None:
        try:
            validate(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            return _failure(exc)
        except RecursionError:
            return "", "nested too deeply to validate"
        return None

    return check


def compile_text_check(schema: dict[str, Any]) -> Check:
    """``schema`` as a check of a text message: decoded as JSON and validated in one step (the
    gateway's per-message path). Text that is not JSON fails with pointer ``""``."""
    validate = _compiled(schema)
    decode = _DECODER.decode

    def check(text: str) -> tuple[str, str] | None:
        try:
            validate(decode(text))
        except fastjsonschema.JsonSchemaValueException as exc:
            return _failure(exc)
        except RecursionError:
            return "", "the message is nested too deeply"
        except ValueError as exc:  # after the schema's own exception, which is a ValueError too
            return "", f"the message is not JSON: {exc}"
        return None

    return check


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)  # made once: json.loads(**kw) makes one per call


def parse_json(text: str) -> tuple[bool, Any]:
    """A text message decoded as JSON: (True, value), or (False, why not) for text that is not
    JSON (``NaN`` and ``Infinity`` included, which Python's decoder would otherwise take)."""
    try:
        return True, _DECODER.decode(text)
    except RecursionError:
        return False, "the message is nested too deeply"
    except ValueError as exc:
        return False, f"the message is not JSON: {exc}"

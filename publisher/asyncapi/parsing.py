"""AsyncAPI text to a document: YAML or JSON read within limits, with each node's line
remembered for error messages. Version-independent; nothing here knows 2.x from 3.0."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import yaml
from django.conf import settings

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024  # the default of TIDEGATE_DEFINITION_MAX_BYTES


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


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)

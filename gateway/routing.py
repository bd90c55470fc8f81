"""Route matching: ``/<context>/<version><topic>`` to an API and a topic.

``{param}`` matches one path segment, a trailing ``/*`` anything below, a trailing slash
is tolerated, and the most specific topic wins: literal over parameter over wildcard.

Routing works on the path as the client sent it (the ASGI ``raw_path``), cut at its own
``/`` and then decoded one segment at a time: a server's decoded ``path`` has already
turned ``%2F`` into a separator. A path with a segment a backend could read as a dot
segment or a separator, however many times it decodes, is refused (``request_path``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote

from gateway.asgitypes import Scope
from gateway_contract.snapshot import ApiConfig, Snapshot, TopicConfig


class UnsafePath(ValueError):
    """A request path (or a parameter taken from one) that could leave the backend's base
    path once a backend decodes or normalises it."""


_DOT_SEGMENTS = frozenset({".", ".."})
_SEPARATORS = ("/", "\\", "\x00")
# Percent-decoding rounds judged per segment: a client has no need to encode a segment
# more than twice, so one still changing after this many is refused outright.
_MAX_DECODES = 4


def unsafe_segment(segment: str) -> str:
    """Why one path segment (as received, percent-encoded) may not be routed or sent
    upstream, or "" when it may. Judged as received and after each percent-decoding round
    (``%252e`` is ``%2e`` is ``.``), each also NFKC-normalised (a fullwidth ``．``)."""
    form = segment
    for _ in range(_MAX_DECODES):
        for shape in (form, unicodedata.normalize("NFKC", form)):
            # "..;x" is ".." to servers that strip path parameters (Tomcat, Jetty).
            if shape in _DOT_SEGMENTS or shape.partition(";")[0] in _DOT_SEGMENTS:
                return f"the path segment {segment!r} is a dot segment"
            if any(sep in shape for sep in _SEPARATORS):
                return f"the path segment {segment!r} encodes a '/', '\\' or NUL"
        decoded = unquote(form)
        if decoded == form:
            return ""
        form = decoded
    return f"the path segment {segment!r} is percent-encoded more than {_MAX_DECODES - 1} times"


def unsafe_param(value: str) -> str:
    """Why a matched path parameter (decoded once, as routing hands it out) may not be put
    into a backend path, or "" when it may."""
    if not value:
        return "a path parameter is empty"
    return unsafe_segment(quote(value, safe=""))


def raw_request_path(scope: Scope) -> str:
    """The request path as the client sent it: ``raw_path`` where the server gives it,
    else the decoded ``path`` encoded again (its ``%2F`` then already lost to the server)."""
    raw: bytes | None = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1")
    return quote(scope["path"], safe="/")


@functools.lru_cache(maxsize=1024)  # the same few paths, handshake after handshake
def request_path(raw_path: str) -> str:
    """The path to route on: ``raw_path`` decoded one ``/``-separated segment at a time.
    Raises ``UnsafePath`` for a segment that is, or decodes to, a dot segment or contains
    a ``/``, ``\\`` or NUL; no segment of the result contains a separator."""
    segments = raw_path.split("/")
    for segment in segments:
        why = unsafe_segment(segment)
        if why:
            raise UnsafePath(why)
    return "/".join(unquote(s) for s in segments)


@dataclass(frozen=True)
class Match:
    api: ApiConfig
    topic: TopicConfig
    params: dict[str, str]


@dataclass(frozen=True)
class _Route:
    regex: re.Pattern[str]
    names: tuple[str, ...]  # the topic's parameters, one per group of ``regex``, in order
    rank: tuple[int, int, int]  # lower sorts first: fewer wildcards, fewer params, longer literal
    api: ApiConfig
    topic: TopicConfig


def topic_regex(topic: str) -> tuple[str, tuple[str, ...], tuple[int, int, int]]:
    """The pattern of a topic's paths, its parameters' names (a group each, positional: a
    name is whatever the definition says, which need not be a regular-expression group
    name, and two alike would not compile) and its rank."""
    wildcard = topic.endswith("/*") or topic == "*"
    body = topic[:-2] if topic.endswith("/*") else topic
    parts, names, literal = [], [], 0
    for seg in [s for s in body.split("/") if s]:
        if seg.startswith("{") and seg.endswith("}"):
            names.append(seg[1:-1])
            parts.append("/([^/]+)")
        else:
            parts.append("/" + re.escape(seg))
            literal += len(seg)
    pattern = "".join(parts) + ("(?:/.*)?" if wildcard else "/?")
    return pattern, tuple(names), (int(wildcard), len(names), -literal)


MAX_MATCHED = 4096


class RouteTable:
    """Every route of a snapshot, compiled once per snapshot, grouped by API base path."""

    def __init__(self, snapshot: Snapshot):
        self._by_base: dict[str, list[_Route]] = {}
        for api in snapshot.apis:
            base = f"{api.context}/{api.version}"
            routes = self._by_base.setdefault(base, [])
            for topic in api.topics:
                pattern, names, rank = topic_regex(topic.name)
                routes.append(_Route(re.compile(pattern + r"\Z"), names, rank, api, topic))
            routes.sort(key=lambda r: r.rank)
        # Longest base first, so /a/b/1.0 is tried before /a/1.0 could claim it.
        self._bases = sorted(self._by_base, key=len, reverse=True)
        self._matched: dict[str, Match | None] = {}

    def match(self, path: str) -> Match | None:
        """The route of ``path``, or None. A path's answer never changes for a table, so it is
        kept (a ``Match`` is never changed once made): the same few paths, handshake after handshake."""
        try:
            return self._matched[path]
        except KeyError:
            pass
        found = self._match(path)
        if len(self._matched) >= MAX_MATCHED:  # a client may send any number of paths
            self._matched.clear()
        self._matched[path] = found
        return found

    def _match(self, path: str) -> Match | None:
        for base in self._bases:
            if path == base or path.startswith(base + "/"):
                rest = path[len(base) :]
                for route in self._by_base[base]:
                    m = route.regex.match(rest)
                    if m:
                        return Match(route.api, route.topic, dict(zip(route.names, m.groups(), strict=True)))
        return None

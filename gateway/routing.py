"""Route matching: ``/<context>/<version><topic>`` to an API and a topic.

``{param}`` matches one path segment, a trailing ``/*`` anything below, a trailing slash
is tolerated, and the most specific topic wins: literal over parameter over wildcard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway_sync.snapshot import ApiConfig, Snapshot, TopicConfig


@dataclass(frozen=True)
class Match:
    api: ApiConfig
    topic: TopicConfig
    params: dict[str, str]


@dataclass(frozen=True)
class _Route:
    regex: re.Pattern[str]
    rank: tuple[int, int, int]  # lower sorts first: fewer wildcards, fewer params, longer literal
    api: ApiConfig
    topic: TopicConfig


def topic_regex(topic: str) -> tuple[str, tuple[int, int, int]]:
    wildcard = topic.endswith("/*") or topic == "*"
    body = topic[:-2] if topic.endswith("/*") else topic
    parts, params, literal = [], 0, 0
    for seg in [s for s in body.split("/") if s]:
        if seg.startswith("{") and seg.endswith("}"):
            name = re.sub(r"\W", "_", seg[1:-1])
            parts.append(f"/(?P<{name}>[^/]+)")
            params += 1
        else:
            parts.append("/" + re.escape(seg))
            literal += len(seg)
    pattern = "".join(parts) + ("(?:/.*)?" if wildcard else "/?")
    return pattern, (int(wildcard), params, -literal)


class RouteTable:
    """Every route of a snapshot, compiled once per snapshot, grouped by API base path."""

    def __init__(self, snapshot: Snapshot):
        self._by_base: dict[str, list[_Route]] = {}
        for api in snapshot.apis:
            base = f"{api.context}/{api.version}"
            routes = self._by_base.setdefault(base, [])
            for topic in api.topics:
                pattern, rank = topic_regex(topic.name)
                routes.append(_Route(re.compile(pattern + r"\Z"), rank, api, topic))
            routes.sort(key=lambda r: r.rank)
        # Longest base first, so /a/b/1.0 is tried before /a/1.0 could claim it.
        self._bases = sorted(self._by_base, key=len, reverse=True)

    def match(self, path: str) -> Match | None:
        for base in self._bases:
            if path == base or path.startswith(base + "/"):
                rest = path[len(base) :]
                for route in self._by_base[base]:
                    m = route.regex.match(rest)
                    if m:
                        return Match(route.api, route.topic, m.groupdict())
        return None

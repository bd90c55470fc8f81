"""Path traversal into the backend (issue 14 item 6), as plain functions: a client's path
is routed as sent, segment by segment, and nothing it sends can take the backend's path
above the endpoint's own. Paths are given to ``admit`` as a client sends them
(percent-encoded, the ASGI ``raw_path``)."""

import posixpath
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.backend import backend_url
from gateway.decisions import Admission, Refusal, State, admit
from gateway.routing import UnsafePath
from gateway_contract.snapshot import Snapshot, TopicConfig
from testsupport.snapshots import api_config

BASE = "/tenant-a/v2"
API = api_config(
    production_endpoint=f"ws://backend{BASE}",
    topics=(
        TopicConfig(name="/{a}/{b}", uri_mapping="/{uri.var.a}/{uri.var.b}", secured=False),
        TopicConfig(name="/rooms/{room}", uri_mapping="/rooms?room={uri.var.room}", secured=False),
        TopicConfig(name="/files/*", uri_mapping="/files", secured=False),
    ),
)
STATE = State.build(Snapshot(version=1, environments=("Default",), apis=(API,)))


def _admit(raw_path: str, query: str = "") -> Admission | Refusal:
    return admit(STATE, raw_path, query, {})


@pytest.mark.parametrize(
    "raw_path",
    [
        "/chat/1.0.0/../..",  # both parameters ".."
        "/chat/1.0.0/x/..",
        "/chat/1.0.0/x/../..",
        "/chat/1.0.0/x/.",
        "/chat/1.0.0/%2e%2e/x",
        "/chat/1.0.0/%2E%2E/x",
        "/chat/1.0.0/x/.%2e",
        "/chat/1.0.0/x/%252e%252e",  # double-encoded: a backend that decodes twice sees ".."
        "/chat/1.0.0/x/%25252e%25252e",
        "/chat/1.0.0/x/..;jsessionid=1",  # ".." to servers that strip path parameters
        "/chat/1.0.0/x/%EF%BC%8E%EF%BC%8E",  # fullwidth dots, ".." after NFKC
        "/chat/1.0.0/x/a%2Fb",
        "/chat/1.0.0/x/a%2fb",
        "/chat/1.0.0/x/..%2F..",
        "/chat/1.0.0/x/a%252Fb",
        "/chat/1.0.0/x/..%5C..",
        "/chat/1.0.0/x/a%5cb",
        "/chat/1.0.0/x/a\\b",
        "/chat/1.0.0/x/a%00b",
        "/chat/1.0.0/x/a%2500b",
        "/chat/1.0.0/x/%252525252e",  # still changing after every round judged
        "/chat/1.0.0/rooms/..",  # a parameter that only goes into the mapping's query
        "/chat/1.0.0/files/../../admin",  # under a wildcard topic
        "/chat/1.0.0/files/a%2F..%2F..",
        "/chat/1.0.0/../1.0.0/x/y",  # in the API's base path
        "/elsewhere/../chat/1.0.0/x/y",  # before any API matched
    ],
)
def test_dot_segments_and_encoded_separators_are_refused_with_400(raw_path):
    decision = _admit(raw_path)
    assert isinstance(decision, Refusal), decision
    assert (decision.status, decision.code, decision.message) == (400, "400", "Bad Request")
    assert set(decision.body()) == {"code", "error_message", "error_description"}


def test_parameters_are_decoded_once_and_reach_the_mapped_path_encoded():
    cases = [
        ("/chat/1.0.0/r%201/caf%C3%A9", {"a": "r 1", "b": "café"}, "ws://backend/tenant-a/v2/r%201/caf%C3%A9"),
        ("/chat/1.0.0/x/100%25", {"a": "x", "b": "100%"}, "ws://backend/tenant-a/v2/x/100%25"),
        ("/chat/1.0.0/x/%3Fq%3D1", {"a": "x", "b": "?q=1"}, "ws://backend/tenant-a/v2/x/%3Fq%3D1"),
        ("/chat/1.0.0/rooms/r%261", {"room": "r&1"}, "ws://backend/tenant-a/v2/rooms?room=r%261"),
        # and what was fine before still is: dots that are no dot segment, a trailing slash
        ("/chat/1.0.0/x/a.b", {"a": "x", "b": "a.b"}, "ws://backend/tenant-a/v2/x/a.b"),
        ("/chat/1.0.0/x/...", {"a": "x", "b": "..."}, "ws://backend/tenant-a/v2/x/..."),
        ("/chat/1.0.0/x/y/", {"a": "x", "b": "y"}, "ws://backend/tenant-a/v2/x/y"),
        ("/chat/1.0.0/files/a/b.txt", {}, "ws://backend/tenant-a/v2/files"),
    ]
    for raw_path, params, upstream in cases:
        decision = _admit(raw_path)
        assert isinstance(decision, Admission), (raw_path, decision)
        assert (decision.match.params, decision.upstream_url) == (params, upstream), raw_path


def test_an_encoded_slash_is_not_a_separator_when_routing():
    # Decoded first, "/chat/1.0.0/x%2Fy" would be "/chat/1.0.0/x/y" and match "/{a}/{b}".
    decision = _admit("/chat/1.0.0/x%2Fy")
    assert isinstance(decision, Refusal) and decision.status == 400


def test_the_backend_url_never_takes_a_parameter_that_leaves_the_base_path():
    for value in ("..", ".", "", "%2e%2e", "a/b", "a\\b", "a\x00b"):
        with pytest.raises(UnsafePath):
            backend_url("ws://b/tenant-a/v2", "/{uri.var.a}/x", {"a": value}, "")


def test_the_client_query_adds_parameters_but_cannot_repeat_the_configured_ones():
    url = backend_url(
        "ws://b/v2?tenant=a",
        "/r?room={uri.var.r}",
        {"r": "r1"},
        "tenant=b&ROOM=x&Tenant=c&z=/../..&access_token=t&w=%2F..%23f",
    )
    assert url == "ws://b/v2/r?tenant=a&room=r1&z=%2F..%2F..&w=%2F..%23f"
    assert urlsplit(url).path == "/v2/r"


# Pieces of path segments an attacker would combine, and anything else.
_PIECES = st.sampled_from(
    [".", "..", "%", "%2", "%2e", "%2E", "%25", "%2f", "%2F", "%5c", "%5C", "%00", "%252e", "/", "\\", ";", "a", "é"]
    + ["%EF%BC%8E", "．", "／", "%3B", "%3F", "?", "#"]
)
_SEGMENT = st.one_of(st.lists(_PIECES, max_size=6).map("".join), st.text(max_size=8))


def _decodings(path: str):
    """The path as a backend may read it: decoded once, twice or three times, with "\\"
    also taken as a separator."""
    for _ in range(3):
        path = unquote(path)
        yield path
        yield path.replace("\\", "/")


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=_SEGMENT, b=_SEGMENT, query=st.text(max_size=12))
def test_the_backend_path_stays_under_the_endpoints_base_or_the_handshake_is_refused(a, b, query):
    decision = _admit(f"/chat/1.0.0/{a}/{b}", query)
    if isinstance(decision, Refusal):
        assert decision.status in (400, 404)
        return
    path = urlsplit(decision.upstream_url).path
    for decoded in _decodings(path):
        assert posixpath.normpath(decoded).startswith(BASE + "/"), (path, decoded)

import pytest

from gateway.backend import backend_url
from gateway.routing import RouteTable
from gateway_contract.snapshot import Snapshot, TopicConfig
from testsupport.snapshots import api_config


def _table(*apis):
    return RouteTable(Snapshot(version=1, environments=("Default",), apis=tuple(apis)))


def _api(context="/chat", version="1.0.0", topics=("/*",), id="a1"):
    return api_config(
        id=id,
        context=context,
        version=version,
        production_endpoint="ws://backend:8080/v2",
        topics=tuple(TopicConfig(name=t) for t in topics),
    )


@pytest.mark.parametrize(
    "path, topic, params",
    [
        ("/chat/1.0.0/rooms/lobby", "/rooms/lobby", {}),
        ("/chat/1.0.0/rooms/r1", "/rooms/{roomID}", {"roomID": "r1"}),
        ("/chat/1.0.0/rooms/r1/", "/rooms/{roomID}", {"roomID": "r1"}),
        ("/chat/1.0.0/rooms/r1/messages", "/rooms/*", {}),
        ("/chat/1.0.0/notifications", "/notifications", {}),
        ("/chat/1.0.0/other/deep/path", "/*", {}),
        ("/chat/1.0.0", "/*", {}),
    ],
)
def test_most_specific_topic_wins(path, topic, params):
    table = _table(_api(topics=("/*", "/rooms/*", "/rooms/{roomID}", "/rooms/lobby", "/notifications")))
    match = table.match(path)
    assert match is not None
    assert (match.topic.name, match.params) == (topic, params)


@pytest.mark.parametrize(
    "path",
    [
        "/chat/2.0.0/notifications",
        "/chats/1.0.0/notifications",
        "/chat/1.0.0/notificationsX",
        "/chat/1.0.0/rooms",
        "/chat/1.0.0/rooms/a/b",
        "/",
    ],
)
def test_paths_without_a_matching_topic_do_not_match(path):
    table = _table(_api(topics=("/notifications", "/rooms/{roomID}")))
    assert table.match(path) is None


def test_versions_and_nested_contexts_are_told_apart():
    v1 = _api(version="1.0.0", topics=("/*",), id="v1")
    v2 = _api(version="2.0.0", topics=("/*",), id="v2")
    nested = _api(context="/chat/admin", version="1.0.0", topics=("/*",), id="nested")
    table = _table(v1, v2, nested)
    assert table.match("/chat/2.0.0/x").api.id == "v2"
    assert table.match("/chat/1.0.0/x").api.id == "v1"
    assert table.match("/chat/admin/1.0.0/x").api.id == "nested"


@pytest.mark.parametrize(
    "endpoint, mapping, params, query, expected",
    [
        # No mapping: the endpoint URL exactly, its own path included, no topic path.
        ("ws://b:2360/v2", "", {}, "", "ws://b:2360/v2"),
        ("ws://b:2360", "", {}, "", "ws://b:2360/"),
        ("ws://b:2360/v2", "/notifications", {}, "", "ws://b:2360/v2/notifications"),
        ("ws://b:2360/v2", "/rooms?room={uri.var.roomID}", {"roomID": "r1"}, "", "ws://b:2360/v2/rooms?room=r1"),
        ("ws://b/", "/rooms/{uri.var.id}/feed", {"id": "a b"}, "", "ws://b/rooms/a%20b/feed"),
        # The client's query string is kept, minus access_token.
        ("ws://b/v2", "", {}, "x=1&access_token=secret&y=2", "ws://b/v2?x=1&y=2"),
        ("ws://b/v2?k=v", "/r?room={uri.var.r}&fixed=1", {"r": "a&b"}, "z=9", "ws://b/v2/r?k=v&room=a%26b&fixed=1&z=9"),
    ],
)
def test_backend_url(endpoint, mapping, params, query, expected):
    assert backend_url(endpoint, mapping, params, query) == expected


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from testsupport.hypothesis_profiles import examples  # noqa: E402


@pytest.mark.parametrize(
    "topic, path, params",
    [
        # Parameter names are the definition's, not regular-expression group names: these
        # raised re.error when the snapshot was applied, which ended the gateway's pull loop.
        ("/x/{a-b}/{a_b}", "/chat/1.0.0/x/1/2", {"a-b": "1", "a_b": "2"}),
        ("/x/{1}", "/chat/1.0.0/x/one", {"1": "one"}),
        ("/rooms/{room.id}", "/chat/1.0.0/rooms/r9", {"room.id": "r9"}),
    ],
)
def test_any_parameter_name_routes_and_keeps_its_name(topic, path, params):
    match = _table(_api(topics=(topic,))).match(path)
    assert match is not None and match.params == params
    mapped = backend_url("ws://backend:8080/v2", "/to/{uri.var." + next(iter(params)) + "}", match.params, "")
    assert mapped == "ws://backend:8080/v2/to/" + next(iter(params.values()))


segment = st.one_of(
    st.text(st.characters(blacklist_characters="/"), min_size=1, max_size=8),
    st.text(st.characters(blacklist_characters="/{}"), max_size=8).map(lambda n: "{" + n + "}"),
)


@examples(200)
@given(topics=st.lists(st.lists(segment, max_size=4).map(lambda s: "/" + "/".join(s)), min_size=1, max_size=5))
def test_a_route_table_is_built_from_any_topic_names(topics):
    # A snapshot is outside input to the gateway: no topic name may stop it being applied.
    table = _table(_api(topics=tuple(topics)))
    assert table.match("/chat/1.0.0/" + "x") is None or table.match("/chat/1.0.0/x").api.id == "a1"

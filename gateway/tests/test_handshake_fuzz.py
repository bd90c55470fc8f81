"""The gateway's ASGI app in process under random handshakes (issue 15, part B): random
paths, query strings, header sets and token strings (valid test keys, mangled ones,
garbage) against the real Relay and GatewayHttp, with a real echo backend on a free port.

The property: a 101 or a documented refusal with the JSON error body, never an exception
out of the app, and the relay's registry and the event loop's tasks back to where they
were. ``HYPOTHESIS_PROFILE=fuzz`` runs many more examples with fresh randomness.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import serve

from gateway.config import GatewayConfig
from gateway.http import GatewayHttp
from gateway.process import Gateway
from gateway.relay import Relay
from testsupport.snapshots import open_and_secure_apis, snapshot_json
from testsupport.stack import async_wait_until, free_port

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
REFUSALS = {400, 401, 403, 404, 429, 502, 503}


async def _echo(connection):
    async for message in connection:
        await connection.send(message)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("handshake-fuzz")
    loop = asyncio.new_event_loop()

    async def start_backend():
        return await serve(_echo, "127.0.0.1", 0, compression=None)

    server = loop.run_until_complete(start_backend())
    backend = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    apis = open_and_secure_apis(backend, secure_scopes=("chat:write",), room_mapping="/r?room={uri.var.room}")
    path = tmp / "snapshot.json"
    path.write_text(snapshot_json(*apis))
    gateway = Gateway(
        GatewayConfig(
            portal_url=f"http://127.0.0.1:{free_port()}",  # nobody there: the snapshot on disk is served
            token="t",
            testkey_path=tmp / "testkey.json",
            testkey_issuer="https://gw/testkey",
            testkey_users="admin:admin",
            environments=("Default",),
            sync_interval=3600,
            max_frame_size=1 << 20,
            connect_timeout=2,
            analytics=False,
            snapshot_path=path,
            miss_sync_interval=0.05,
        )
    )
    testkey = gateway.testkey
    loop.run_until_complete(gateway.ensure_started())
    app = ProtocolTypeRouter({"websocket": URLRouter([re_path(r"", Relay(gateway))]), "http": GatewayHttp(gateway)})
    tokens = [testkey.issue(user="admin"), testkey.issue(user="admin", scope="chat:write")]
    baseline = loop.run_until_complete(_tasks())
    yield {"loop": loop, "app": app, "gateway": gateway, "tokens": tokens, "baseline": baseline}
    loop.run_until_complete(gateway.stop())
    server.close()
    loop.close()


async def _tasks() -> int:
    return len(asyncio.all_tasks())


SEGMENT = st.one_of(
    st.sampled_from(["open", "secure", "1.0.0", "ws", "rooms", "r1", "..", ".", "%2e%2e", "%2F", "%00", "%25", ""]),
    st.text(max_size=6),
)


@st.composite
def handshakes(draw, tokens):
    segments = draw(st.lists(SEGMENT, max_size=5))
    raw = draw(
        st.one_of(
            st.just("/" + "/".join(segments)),
            st.sampled_from(["/open/1.0.0/ws", "/secure/1.0.0/ws", "/open/1.0.0/rooms/x", "/secure/1.0.0/rooms/y"]),
        )
    ).encode("utf-8", "surrogatepass")
    good = draw(st.sampled_from(tokens))
    token = draw(
        st.one_of(
            st.just(good),
            st.builds(
                lambda t, i, c: t[:i] + c + t[i + 1 :], st.just(good), st.integers(0, len(good)), st.text(max_size=2)
            ),
            st.just(good.rsplit(".", 1)[0] + "."),
            st.text(max_size=60),
            st.lists(st.text("abcXYZ0_-=", max_size=20), min_size=1, max_size=4).map(".".join),
        )
    )
    headers = []
    where = draw(st.sampled_from(["authorization", "query", "internal-key", "none", "garbage-scheme"]))
    query = draw(st.binary(max_size=30))
    tok = token.encode("utf-8", "surrogatepass")
    if where == "authorization":
        headers.append((b"authorization", b"Bearer " + tok))
    elif where == "garbage-scheme":
        headers.append((b"authorization", draw(st.binary(max_size=20)) + tok))
    elif where == "internal-key":
        headers.append((b"internal-key", tok))
    elif where == "query":
        query = b"access_token=" + tok + (b"&" + query if query else b"")
    names = st.one_of(
        st.sampled_from([b"x-forwarded-for", b"sec-websocket-protocol", b"origin", b"host", b"authorization"]),
        st.binary(min_size=1, max_size=12),
    )
    headers += draw(st.lists(st.tuples(names, st.binary(max_size=40)), max_size=6))
    subprotocols = draw(st.lists(st.text(max_size=8), max_size=3))
    return raw, query, headers, subprotocols


async def _one(app, raw, query, headers, subprotocols):
    from urllib.parse import unquote

    scope = {
        "type": "websocket",
        "path": unquote(raw.decode("latin-1")),
        "raw_path": raw,
        "query_string": query,
        "headers": headers,
        "subprotocols": subprotocols,
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 9090),
        "extensions": {"websocket.http.response": {}},
    }
    comm = ApplicationCommunicator(app, scope)
    await comm.send_input({"type": "websocket.connect"})
    first = await comm.receive_output(timeout=10)
    if first["type"] == "websocket.accept":
        await comm.send_input({"type": "websocket.receive", "text": "hello"})
        assert (await comm.receive_output(timeout=10)) == {"type": "websocket.send", "text": "hello"}
        await comm.send_input({"type": "websocket.disconnect", "code": 1000})
        await comm.wait(timeout=10)
        return 101, None
    assert first["type"] == "websocket.http.response.start", first
    body = await comm.receive_output(timeout=10)
    await comm.wait(timeout=10)
    return first["status"], json.loads(body["body"])


async def _settled(gateway, baseline: int) -> None:
    async def settled():
        return not len(gateway.registry) and await _tasks() <= baseline

    await async_wait_until(settled, 30, what=f"no connections and at most {baseline} tasks")


def test_random_handshakes_get_a_101_or_a_documented_refusal(world):
    seen: dict[int, int] = {}

    @settings(
        max_examples=3000 if FUZZ else 300,
        derandomize=not FUZZ,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=handshakes(world["tokens"]))
    def run(case):
        status, body = world["loop"].run_until_complete(_one(world["app"], *case))
        seen[status] = seen.get(status, 0) + 1
        assert status == 101 or status in REFUSALS, status
        if body is not None:
            assert set(body) == {"code", "error_message", "error_description"}
        world["loop"].run_until_complete(_settled(world["gateway"], world["baseline"]))

    run()
    assert 101 in seen and 401 in seen and 404 in seen, seen  # the strategies reach past the refusals


async def _testkey_post(app, authorization: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/testkey",
        "raw_path": b"/testkey",
        "query_string": b"",
        "headers": [(b"authorization", authorization), (b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 9090),
    }
    comm = ApplicationCommunicator(app, scope)
    await comm.send_input({"type": "http.request", "body": b"scope=", "more_body": False})
    start = await comm.receive_output(timeout=10)
    body = await comm.receive_output(timeout=10)
    await comm.wait(timeout=10)
    return start["status"], body["body"]


@pytest.mark.parametrize("credentials", [b"Basic \xff\xff\xff\xff", b"Basic \xc3\xa9t\xc3\xa9"])
def test_test_key_basic_credentials_outside_ascii_get_a_400_not_an_error(world, credentials):
    """The adapter's fuzz test: HTTP lets a header carry bytes above 0x7f, and base64 of such
    text raised a ValueError nobody caught (the request died without an answer)."""
    status, body = world["loop"].run_until_complete(_testkey_post(world["app"], credentials))
    assert (status, body) == (400, b"Error occurred while processing the request.")

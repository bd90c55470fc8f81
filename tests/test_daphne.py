"""The core of the gateway under Daphne, the supported alternative server: the same
application relays, refuses, enforces on open connections and limits frames. Daphne's
known limits (docs/gateway.md): a refused handshake is always 403 without a body, and it
drops empty messages."""

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import flow
from testsupport.flow import DEV, call
from testsupport.stack import free_port, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def daphne(stack):
    port = free_port()
    proc = stack.spawn_gateway("daphne-gateway", port, server="daphne")
    yield f"ws://127.0.0.1:{port}"
    proc.stop()


def test_relays_text_and_binary(daphne, chat):
    with connect(f"{daphne}/chat/1.0.0/rooms/r7", additional_headers=chat["headers"]) as ws:
        for frame in ["over daphne", b"\x01\x02"]:
            ws.send(frame)
            assert ws.recv(timeout=5) == frame


def test_refusals_are_403_under_daphne(daphne, chat):
    assert flow.handshake_status(f"{daphne}/chat/1.0.0/plain")[0] == 403
    assert flow.handshake_status(f"{daphne}/chat/1.0.0/nowhere", chat["headers"])[0] == 403


def test_close_codes_pass_through(daphne, chat):
    with connect(f"{daphne}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
        ws.send("!close 4321 bye from backend")
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=5)
    assert exc.value.rcvd.code == 4321


def test_live_enforcement_closes_revoked_tokens_with_4001(daphne, stack, admin_http, chat):
    app = flow.application_with_token(admin_http, "DaphneRevoked", chat["api"]["id"])
    url = f"{daphne}/chat/1.0.0/plain"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 5, what="subscription")
    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        requests.post(
            f"{stack.portal_url}/oauth2/revoke",
            data={"token": app["token"]},
            auth=(app["keys"]["consumerKey"], app["keys"]["consumerSecret"]),
            timeout=5,
        ).raise_for_status()
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=3)
    assert exc.value.rcvd.code == 4001


def test_deleted_application_closes_with_4002(daphne, admin_http, chat):
    app = flow.application_with_token(admin_http, "DaphneDeleted", chat["api"]["id"])
    url = f"{daphne}/chat/1.0.0/plain"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 5, what="subscription")
    with connect(url, additional_headers=app["headers"]) as ws:
        call(admin_http, "DELETE", f"{DEV}/applications/{app['id']}")
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=3)
    assert exc.value.rcvd.code == 4002

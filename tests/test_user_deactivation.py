"""Issue 14 item 4 through the real stack: deactivating a user (``manage.py
deactivate_user`` or the Admin REST) closes their open connections at the gateway with 4002,
refuses their token at the next handshake and leaves their applications out of the snapshot."""

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gateway_contract.wire import SNAPSHOT_PATH
from testsupport import flow
from testsupport.stack import wait_until

pytestmark = pytest.mark.e2e
PASSWORD = "Long-enough-pass-14"


def _snapshot(stack) -> dict:
    resp = requests.get(
        f"{stack.portal_url}{SNAPSHOT_PATH}", headers={"Authorization": "Bearer dev-gateway-token"}, timeout=10
    )
    resp.raise_for_status()
    return resp.json()


def _in_snapshot(stack, app_id: str) -> bool:
    snap = _snapshot(stack)
    return app_id in snap["application_ids"] or any(a["id"] == app_id for a in snap["applications"].values())


def _closed_after(ws, change) -> tuple[int, str]:
    """Run ``change``; the close code and its reason (how soon is not asserted: a loaded
    machine delays it, and tests/test_live_enforcement.py records such times)."""
    ws.send("still here")
    assert ws.recv(timeout=5) == "still here"
    change()
    with pytest.raises(ConnectionClosed) as exc:
        while True:
            ws.recv(timeout=5)
    return exc.value.rcvd.code, exc.value.rcvd.reason


def _connected_developer(stack, chat, username):
    session = flow.signed_up(stack, username, password=PASSWORD)
    app = flow.application_with_token(session, f"{username}-app", chat["api"]["id"])
    url = f"{stack.gateway_ws}/chat/1.0.0/plain"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 5, what="subscription at the gateway")
    assert _in_snapshot(stack, app["id"])
    return session, app, url


def _assert_locked_out(stack, session, app, url):
    status, body = flow.handshake_status(url, app["headers"])
    assert status in (401, 403), (status, body)
    assert not _in_snapshot(stack, app["id"])
    # nor can they use the portal's REST with their password any more
    assert session.get(f"{stack.portal_url}{flow.DEV}/applications", timeout=10).status_code == 401


def test_deactivate_user_command_closes_their_connections_with_4002(stack, chat):
    session, app, url = _connected_developer(stack, chat, "dana")
    with connect(url, additional_headers=app["headers"]) as ws:
        code, reason = _closed_after(ws, lambda: stack.manage("deactivate_user", "dana"))
    assert code == 4002, (code, reason)
    _assert_locked_out(stack, session, app, url)

    # --activate lets them in again: the application is back, the old token stays revoked.
    assert "dana: active" in stack.manage("deactivate_user", "dana", "--activate")
    assert _in_snapshot(stack, app["id"])
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 401, 5, what="reactivated, token revoked")
    assert session.get(f"{stack.portal_url}{flow.DEV}/applications", timeout=10).status_code == 200


def test_admin_rest_deactivate_closes_their_connections_with_4002(stack, admin_http, chat):
    session, app, url = _connected_developer(stack, chat, "erin")
    with connect(url, additional_headers=app["headers"]) as ws:
        code, reason = _closed_after(
            ws, lambda: flow.call(admin_http, "POST", "/api/am/admin/v4/users/erin/deactivate")
        )
    assert code == 4002, (code, reason)
    _assert_locked_out(stack, session, app, url)


def test_deactivating_a_publisher_closes_their_try_out_connections_with_4001(stack, admin_http, chat):
    # Their Internal-Key is a self-contained token checked by signature: it is revoked with
    # them, so its connection closes and the next handshake is refused.
    session = flow.signed_up(stack, "pia", "creator", "publisher")
    key = flow.call(session, "POST", f"{flow.PUB}/apis/{chat['api']['id']}/generate-key")["apikey"]
    url, headers = f"{stack.gateway_ws}/chat/1.0.0/plain", {"Internal-Key": key}
    wait_until(lambda: flow.handshake_status(url, headers)[0] == 101, 5, what="the try-out key at the gateway")
    with connect(url, additional_headers=headers) as ws:
        code, reason = _closed_after(ws, lambda: flow.call(admin_http, "POST", "/api/am/admin/v4/users/pia/deactivate"))
    assert code == 4001, (code, reason)
    status, body = flow.handshake_status(url, headers)
    assert status == 401 and "revoked" in body["error_description"], (status, body)

"""Per-frame rate limits and connection limits through the real gateway."""

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.stack import free_port, wait_until

pytestmark = pytest.mark.e2e


def _api_with_plan(stack, admin_http, context, plan, app_policy="Unlimited"):
    api = flow.import_api(
        admin_http,
        documents.chat_doc(stack.backend_url, context[1:]),
        context=context,
        policies=[plan],
    )
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, f"app-{context[1:]}", api["id"], plan=plan, app_policy=app_policy)
    url = f"{stack.gateway_ws}{context}/1.0.0/plain"
    flow.wait_for_route(url, app["headers"])
    return url, app


def test_five_events_per_minute_pass_five_frames_and_answer_the_sixth_with_notify(stack, admin_http):
    flow.event_policy(admin_http, "subscription", "5PerMinNotify", 5)
    url, app = _api_with_plan(stack, admin_http, "/limited", "5PerMinNotify")
    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("one")  # event 1, its echo event 2
        assert ws.recv(timeout=5) == "one"
        ws.send("two")  # events 3 and 4
        assert ws.recv(timeout=5) == "two"
        ws.send("three")  # event 5 reaches the backend; its echo, the 6th, is dropped
        assert ws.recv(timeout=5) == "Error code: 4003 reason: Websocket frame throttled out"
        ws.send("four")  # dropped too, and the client is told only once per window
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # an observation window: that nothing arrives is the point


def test_close_action_closes_with_4003(stack, admin_http):
    flow.event_policy(admin_http, "subscription", "3PerMinClose", 3, throttleAction="close")
    url, app = _api_with_plan(stack, admin_http, "/closing", "3PerMinClose")
    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("a")
        assert ws.recv(timeout=5) == "a"
        ws.send("b")  # event 3 passes; its echo is the 4th
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=5)
    assert exc.value.rcvd.code == 4003


def _connect_unless_429(url, headers):
    try:
        return connect(url, additional_headers=headers)
    except InvalidStatus as exc:
        if exc.response.status_code == 429:
            return None
        raise


def test_application_connection_limit_answers_429(stack, admin_http):
    flow.event_policy(admin_http, "application", "OneConnection", 1000, maxConnections=1)
    url, app = _api_with_plan(stack, admin_http, "/oneconn", "AsyncUnlimited", app_policy="OneConnection")
    # The route probe above held the one slot; it is let go once both its legs have closed.
    first = wait_until(lambda: _connect_unless_429(url, app["headers"]), 10, what="the probe's slot freed")
    with first:
        status, body = flow.handshake_status(url, app["headers"])
        assert (status, body["code"]) == (429, "900803")
    # once the first connection is gone the application may connect again
    # (the gateway lets it go once both legs have closed, which takes a moment under load)
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 5, what="the slot freed")


def test_two_gateway_processes_over_redis_hold_one_shared_limit(stack, admin_http, redis_url):
    flow.event_policy(admin_http, "subscription", "10PerMinShared", 10)
    url, app = _api_with_plan(stack, admin_http, "/shared", "10PerMinShared")
    ports = [free_port(), free_port()]
    gateways = [
        stack.spawn_gateway(f"redis-gw-{i}", port, env={"REDIS_URL": redis_url}) for i, port in enumerate(ports)
    ]
    try:
        path = "/shared/1.0.0/plain"
        echoed = throttled = 0
        with (
            connect(f"ws://127.0.0.1:{ports[0]}{path}", additional_headers=app["headers"]) as a,
            connect(f"ws://127.0.0.1:{ports[1]}{path}", additional_headers=app["headers"]) as b,
        ):
            for i in range(7):  # alternate between the two processes; each echo is two events
                ws = (a, b)[i % 2]
                ws.send(f"m{i}")
                reply = ws.recv(timeout=5)
                if reply == f"m{i}":
                    echoed += 1
                else:
                    assert reply == "Error code: 4003 reason: Websocket frame throttled out"
                    throttled += 1
        assert echoed == 5  # 10 events: five round trips across both processes, no more
        assert throttled == 2  # then each connection is told once
    finally:
        for gw in gateways:
            gw.stop()


def test_drop_action_drops_silently(stack, admin_http):
    flow.event_policy(admin_http, "subscription", "2PerMinDrop", 2, throttleAction="drop")
    url, app = _api_with_plan(stack, admin_http, "/dropping", "2PerMinDrop")
    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("first")
        assert ws.recv(timeout=5) == "first"
        ws.send("second")  # over the limit: no echo, no notice, the connection stays open
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # an observation window: that nothing arrives is the point
        ws.ping().wait(5)

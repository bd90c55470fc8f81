"""Issue 20's browser-safe credentials through real gateways (Uvicorn, free ports): one-time
connect tickets from ``POST /tickets`` used as ``?ticket=``, shared by two gateway processes
through a real Redis, and the token carried in ``Sec-WebSocket-Protocol``."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from gateway.tickets import COUNT_WINDOW, MAX_TICKETS_PER_TOKEN
from testsupport import documents, flow
from testsupport.stack import free_port, marked, wait_until

DEV = flow.DEV
PREFIX = "base64url.bearer.authorization.tidegate."
PATH = "/chat/1.0.0/plain"


def _ask(http_base: str, token: str, path: str = PATH) -> requests.Response:
    return requests.post(
        f"{http_base}/tickets", json={"path": path}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def ticket_for(http_base: str, token: str, path: str = PATH) -> dict:
    """A ticket from the gateway at ``http_base`` for ``path``, asserted issued."""
    response = _ask(http_base, token, path)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    flow.SECRETS.append(body["ticket"])
    return body


def bearer_entry(token: str) -> str:
    return PREFIX + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def refused(url: str, **kwargs) -> tuple[int, dict]:
    status, body = flow.handshake_status(url, kwargs.get("headers"))
    assert status != 101, f"{url.split('?')[0]} was admitted"
    return status, body


def test_a_ticket_opens_one_connection_and_never_a_second(stack, chat):
    marker, headers = marked()
    ticket = ticket_for(stack.gateway_http, chat["app"]["token"])
    assert ticket["expiresIn"] == 30
    assert ticket["api"] == {"context": "/chat", "version": "1.0.0"}
    url = f"{stack.gateway_ws}{PATH}?lang=en&ticket={ticket['ticket']}"
    with connect(url, additional_headers=headers, open_timeout=30) as ws:  # no token: the ticket alone
        ws.send("with a ticket")
        assert ws.recv(timeout=10) == "with a ticket"
    (event,) = stack.backend_events(marker)
    assert "ticket" not in event["path"] and "lang=en" in event["path"]  # spent at the gateway, not forwarded

    status, body = refused(url)  # replayed
    assert (status, body["code"]) == (401, "900901")
    assert body["error_description"] == "The connect ticket is unknown or already used"
    assert ticket["ticket"] not in str(body)


def test_a_ticket_is_bound_to_its_api(stack, admin_http, chat):
    other = flow.import_api(
        admin_http,
        documents.chat_doc(stack.backend_url, "OtherChat"),
        context="/otherchat",
        policies=["AsyncUnlimited"],
    )
    flow.deploy_and_publish(admin_http, other["id"])
    body = {"applicationId": chat["app"]["id"], "apiId": other["id"], "throttlingPolicy": "AsyncUnlimited"}
    flow.call(admin_http, "POST", f"{DEV}/subscriptions", 201, json=body)
    other_url = f"{stack.gateway_ws}/otherchat/1.0.0/plain"
    assert flow.wait_for_route(other_url, chat["headers"]) == 101  # the token itself is good there

    ticket = ticket_for(stack.gateway_http, chat["app"]["token"])  # for /chat
    status, body = refused(f"{other_url}?ticket={ticket['ticket']}")
    assert (status, body["code"]) == (401, "900901")
    assert "another API" in body["error_description"]
    # Spent by that attempt: not even its own API takes it now.
    assert refused(f"{stack.gateway_ws}{PATH}?ticket={ticket['ticket']}")[0] == 401


def test_tickets_are_asked_for_with_a_token_and_a_path(stack, chat):
    url = f"{stack.gateway_http}/tickets"
    no_token = requests.post(url, json={"path": PATH}, timeout=30)
    assert (no_token.status_code, no_token.json()["code"]) == (401, "900902")
    assert no_token.headers["access-control-allow-origin"] == "*"
    bad_body = requests.post(url, data="path=/chat", headers=chat["headers"], timeout=30)
    assert (bad_body.status_code, bad_body.json()["code"]) == (400, "400")
    # A token the handshake would refuse gets no ticket either, with the handshake's answer.
    scope = requests.post(url, json={"path": "/chat/1.0.0/admin"}, headers=chat["headers"], timeout=30)
    assert (scope.status_code, scope.json()["code"]) == (403, "900910")
    preflight = requests.options(
        url, headers={"Origin": "http://page.example", "Access-Control-Request-Method": "POST"}, timeout=30
    )
    assert preflight.status_code == 204
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    unknown = refused(f"{stack.gateway_ws}{PATH}?ticket=not-a-ticket")
    assert (unknown[0], unknown[1]["code"]) == (401, "900901")


def test_an_expired_ticket_is_refused(stack, chat):
    port = free_port()
    gateway = stack.spawn_gateway("ticket-expiry-gw", port, env={"TIDEGATE_TICKET_VALIDITY": "0.5"})
    try:
        http = f"http://127.0.0.1:{port}"
        flow.wait_for_route(f"ws://127.0.0.1:{port}{PATH}", chat["headers"])
        issued = time.time()
        ticket = ticket_for(http, chat["app"]["token"])
        assert ticket["expiresIn"] == 0.5
        wait_until(lambda: time.time() > issued + 0.6, 5, what="the ticket's validity to pass")
        status, body = refused(f"ws://127.0.0.1:{port}{PATH}?ticket={ticket['ticket']}")
        assert (status, body["code"]) == (401, "900901")
        assert body["error_description"] == "The connect ticket has expired"
    finally:
        gateway.stop()


def test_a_ticket_is_spent_once_across_two_gateway_processes_sharing_redis(stack, chat, redis_url):
    ports = [free_port(), free_port()]
    gateways = [
        stack.spawn_gateway(f"ticket-redis-gw-{i}", port, env={"REDIS_URL": redis_url}) for i, port in enumerate(ports)
    ]
    try:
        urls = [f"ws://127.0.0.1:{port}{PATH}" for port in ports]
        for url in urls:
            flow.wait_for_route(url, chat["headers"])
        for issuer, user in ((0, 1), (1, 0)):  # issued by one process, shown to the other first
            ticket = ticket_for(f"http://127.0.0.1:{ports[issuer]}", chat["app"]["token"])["ticket"]
            with connect(f"{urls[user]}?ticket={ticket}", open_timeout=30) as ws:
                ws.send("across processes")
                assert ws.recv(timeout=10) == "across processes"
            for url in urls:  # then neither process takes it again
                status, body = refused(f"{url}?ticket={ticket}")
                assert (status, body["code"]) == (401, "900901")
    finally:
        for gateway in gateways:
            gateway.stop()


def test_the_token_in_sec_websocket_protocol_is_taken_out_before_the_backend(stack, chat):
    marker, headers = marked()
    url = f"{stack.gateway_ws}{PATH}"
    entry = bearer_entry(chat["app"]["token"])
    with connect(url, additional_headers=headers, subprotocols=[entry, "chat.v2"], open_timeout=30) as ws:
        assert ws.subprotocol == "chat.v2"  # the real one answered, never the token entry
        ws.send("by subprotocol")
        assert ws.recv(timeout=10) == "by subprotocol"
    (event,) = stack.backend_events(marker)
    assert event["offered"] == ["chat.v2"] and event["subprotocol"] == "chat.v2"
    assert "authorization" not in event["headers"]


# Not the base64url alphabet; a length no encoding has; bytes that are no token (0xff 0xef).
@pytest.mark.parametrize("encoded", ["Zm9v.YmFy", "QUJDRAxyz", "_-8"])
def test_a_malformed_token_entry_is_refused_without_echoing_it(stack, chat, encoded):
    with pytest.raises(InvalidStatus) as refusal:
        with connect(f"{stack.gateway_ws}{PATH}", subprotocols=[PREFIX + encoded, "chat.v2"], open_timeout=30):
            pass
    response = refusal.value.response
    body = response.body.decode()
    assert response.status_code == 401
    assert json.loads(body)["code"] == "900901"
    assert "Sec-WebSocket-Protocol is malformed" in body
    assert encoded not in body and response.headers.get("Sec-WebSocket-Protocol") is None


def _early_in_a_window() -> None:
    """Wait until the tickets' current count window (fixed, COUNT_WINDOW seconds, by this
    machine's clock as the gateways read it) has 20 s left: a flood then counts in one."""
    wait_until(
        lambda: time.time() % COUNT_WINDOW < COUNT_WINDOW - 20, COUNT_WINDOW, interval=0.2, what="a fresh window"
    )


def test_one_token_gets_a_bounded_number_of_tickets(stack, admin_http, chat):
    """Each ticket is kept until it expires: one token asking without end filled the store."""
    token = flow.application_with_token(admin_http, "TicketFlood", chat["api"]["id"])["token"]
    _early_in_a_window()
    statuses = [_ask(stack.gateway_http, token).status_code for _ in range(MAX_TICKETS_PER_TOKEN)]
    refused = _ask(stack.gateway_http, token)
    assert statuses == [201] * MAX_TICKETS_PER_TOKEN
    assert refused.status_code == 429 and refused.json()["code"] == "900800", refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert refused.headers["access-control-expose-headers"] == "retry-after"  # a page can read it
    assert "ticket" not in refused.json()
    assert ticket_for(stack.gateway_http, chat["app"]["token"])["ticket"]  # another token is not held back


def test_gateways_sharing_redis_share_the_count(stack, admin_http, chat, redis_url):
    token = flow.application_with_token(admin_http, "TicketFloodShared", chat["api"]["id"])["token"]
    ports = [free_port(), free_port()]
    gateways = [
        stack.spawn_gateway(f"ticket-count-gw-{i}", port, env={"REDIS_URL": redis_url}) for i, port in enumerate(ports)
    ]
    try:
        for port in ports:
            flow.wait_for_route(f"ws://127.0.0.1:{port}{PATH}", chat["headers"])
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        _early_in_a_window()
        half = MAX_TICKETS_PER_TOKEN // 2
        statuses = [_ask(bases[i // half], token).status_code for i in range(MAX_TICKETS_PER_TOKEN)]
        assert statuses == [201] * MAX_TICKETS_PER_TOKEN  # half from each process
        for base in bases:  # then neither gives one more
            assert _ask(base, token).status_code == 429
    finally:
        for gateway in gateways:
            gateway.stop()

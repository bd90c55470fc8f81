"""The mission's main path with real parts: the portal under Daphne, the gateway under
Uvicorn, the echo backend, driven over REST, then real wscat and a real WebSocket client."""

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import documents, flow, wsclient
from testsupport.stack import marked, wait_until

pytestmark = pytest.mark.e2e


def test_a_deploy_is_served_at_the_first_handshake_after_the_rest_calls_return(chat):
    # Judged by what the gateway answered, not by a stopwatch: deploy-revision returns once
    # the gateways have the revision, and a token unknown to the gateway makes it pull.
    assert chat["first_status"] == 101


def test_wscat_talks_to_the_backend_through_the_gateway(stack, chat):
    command = f"wscat -c {stack.gateway_ws}/chat/1.0.0/notifications -H 'Authorization: Bearer {chat['app']['token']}'"
    out = flow.wscat(command, "hello through tidegate")
    assert "hello through tidegate" in out


def test_backend_gets_the_endpoint_url_with_the_mapping_not_the_topic_path(stack, chat):
    marker, headers = marked(chat["headers"])
    for topic in ("/rooms/r1", "/notifications", "/plain"):
        with connect(f"{stack.gateway_ws}/chat/1.0.0{topic}?lang=en&access_token=x", additional_headers=headers) as ws:
            ws.send("ping")
            assert ws.recv(timeout=5) == "ping"
    assert [c["path"] for c in stack.backend_events(marker, count=3)] == [
        "/v2/rooms?room=r1&lang=en",
        "/v2/notifications?lang=en",
        "/v2?lang=en",
    ]


def test_backend_never_sees_the_credentials(stack, chat):
    marker, headers = marked(chat["headers"])
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=headers) as ws:
        ws.send("x")
        ws.recv(timeout=5)
    [conn] = stack.backend_events(marker)
    assert "authorization" not in conn["headers"] and "internal-key" not in conn["headers"]


def test_backend_gets_the_client_address_appended_to_x_forwarded_for(stack, chat):
    marker, headers = marked({**chat["headers"], "X-Forwarded-For": "203.0.113.7"})
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=headers) as ws:
        ws.send("x")
        ws.recv(timeout=5)
    [conn] = stack.backend_events(marker)
    # The chain the client brought, then the address the gateway saw (not a copy of the first).
    assert conn["forwarded_for"] == "203.0.113.7, 127.0.0.1"


def test_text_binary_and_empty_frames_pass_both_ways(stack, chat):
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=chat["headers"], max_size=None) as ws:
        for frame in ["text ✓", b"\x00\x01binary\xff", "", b"", "x" * 200_000]:
            ws.send(frame)
            assert ws.recv(timeout=5) == frame


def test_close_codes_and_reasons_pass_both_ways(stack, chat):
    # client -> backend
    marker, headers = marked(chat["headers"])
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=headers) as ws:
        ws.close(4000, "client says bye")
    [close] = stack.backend_events(marker, "close")
    assert close["code"] == 4000
    # backend -> client
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
        ws.send("!close 4321 backend says bye")
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=5)
    assert (exc.value.rcvd.code, exc.value.rcvd.reason) == (4321, "backend says bye")


def test_subprotocol_is_negotiated_with_the_backend(stack, chat):
    with connect(
        f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=chat["headers"], subprotocols=["chat.v1", "unknown"]
    ) as ws:
        assert ws.subprotocol == "chat.v1"


def test_refusals_have_status_and_json_body(stack, chat, admin_http):
    base = f"{stack.gateway_ws}/chat/1.0.0"
    status, body = flow.handshake_status(f"{base}/notifications")
    assert (status, body["code"]) == (401, "900902")
    status, body = flow.handshake_status(f"{base}/notifications", {"Authorization": "Bearer not-a-token"})
    assert (status, body["code"]) == (401, "900901")
    status, body = flow.handshake_status(f"{base}/unknown-topic", chat["headers"])
    assert (status, body["code"]) == (404, "404")
    status, body = flow.handshake_status(f"{base}/admin", chat["headers"])
    assert (status, body["code"]) == (403, "900910")

    stranger = flow.application_with_token(admin_http, "NotSubscribed", None)
    status, body = flow.handshake_status(f"{base}/notifications", {"Authorization": f"Bearer {stranger['token']}"})
    assert (status, body["code"]) == (403, "900908")
    assert set(body) == {"code", "error_message", "error_description"}


def test_any_one_listed_scope_opens_a_scoped_topic(stack, chat, admin_http):
    owner = flow.application_with_token(admin_http, "Owner", chat["api"]["id"], scopes=["chat_owner"])
    # No wait: a subscription the portal just confirmed works at the next handshake.
    status, _ = flow.handshake_status(
        f"{stack.gateway_ws}/chat/1.0.0/admin", {"Authorization": f"Bearer {owner['token']}"}
    )
    assert status == 101


def test_topic_with_security_off_needs_no_token(stack, chat):
    with connect(f"{stack.gateway_ws}/chat/1.0.0/public") as ws:
        ws.send("open")
        assert ws.recv(timeout=5) == "open"


def test_backend_down_is_502_101503(stack, admin_http):
    doc = documents.chat_doc("ws://127.0.0.1:1", "Dead")
    api = flow.import_api(admin_http, doc, context="/dead")
    flow.deploy_and_publish(admin_http, api["id"])
    url = f"{stack.gateway_ws}/dead/1.0.0/public"
    flow.wait_for_route(url, {})
    status, body = flow.handshake_status(url)
    assert (status, body["code"]) == (502, "101503")


def test_testkey_issues_a_token_that_needs_no_subscription(stack, chat):
    resp = requests.post(
        f"{stack.gateway_http}/testkey", auth=("admin", "admin"), data={"scope": "chat_admin"}, timeout=5
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    status, _ = flow.handshake_status(f"{stack.gateway_ws}/chat/1.0.0/admin", {"Authorization": f"Bearer {resp.text}"})
    assert status == 101
    wrong = requests.post(f"{stack.gateway_http}/testkey", auth=("admin", "nope"), timeout=5)
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    missing = requests.post(f"{stack.gateway_http}/testkey", timeout=5)
    assert missing.status_code == 401


def test_wss_listener_relays_too(stack, chat):
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # websockets' asyncio client: its threading one can lose a request over TLS (testsupport/wsclient.py).
    url = f"wss://127.0.0.1:{stack.wss_port}/chat/1.0.0/plain"
    assert wsclient.echo(url, "secure", headers=chat["headers"], ssl=context) == "secure"


def test_gateway_health_reports_its_snapshot(stack, chat):
    health = requests.get(f"{stack.gateway_http}/health", timeout=5).json()
    assert health["status"] == "UP" and health["apis"] >= 2 and health["controlPlaneReachable"] is True


def test_sandbox_keys_reach_the_sandbox_endpoint_and_production_keys_the_production_one(stack, admin_http):
    doc = documents.chat_doc(stack.backend_url, "Sandboxed")
    api = flow.import_api(
        admin_http,
        doc,
        context="/sandboxed",
        endpointConfig={
            "production_endpoints": {"url": f"{stack.backend_url}/prod"},
            "sandbox_endpoints": {"url": f"{stack.backend_url}/sandbox"},
        },
    )
    flow.deploy_and_publish(admin_http, api["id"])
    prod = flow.application_with_token(admin_http, "ProdKeys", api["id"])
    sandbox = flow.application_with_token(admin_http, "SandboxKeys", api["id"], key_type="SANDBOX")
    url = f"{stack.gateway_ws}/sandboxed/1.0.0/plain"
    flow.wait_for_route(url, prod["headers"])
    paths = []
    for app in (prod, sandbox):
        marker, headers = marked(app["headers"])
        with connect(url, additional_headers=headers) as ws:
            ws.send("which")
            assert ws.recv(timeout=5) == "which"
        paths += [c["path"] for c in stack.backend_events(marker)]
    assert paths == ["/prod", "/sandbox"]


def test_prototyped_api_needs_no_token(stack, admin_http):
    doc = documents.chat_doc(stack.backend_url, "Proto")
    api = flow.import_api(admin_http, doc, context="/proto")
    rev = flow.call(admin_http, "POST", f"{flow.PUB}/apis/{api['id']}/revisions", 201, json={})
    flow.deploy_revision(admin_http, api["id"], rev["id"])
    flow.call(
        admin_http,
        "POST",
        f"{flow.PUB}/apis/change-lifecycle",
        params={"apiId": api["id"], "action": "Deploy as a Prototype"},
    )
    wait_until(lambda: flow.handshake_status(f"{stack.gateway_ws}/proto/1.0.0/plain")[0] == 101, 5, what="prototype")
    with connect(f"{stack.gateway_ws}/proto/1.0.0/plain") as ws:
        ws.send("try me")
        assert ws.recv(timeout=5) == "try me"


def test_signing_key_rotation_keeps_earlier_tokens_working_at_the_gateway(stack, chat, admin_http):
    """After ``rotate_signing_key`` the gateway accepts both the token signed before (old
    key, still published) and one signed after (new key)."""
    url = f"{stack.gateway_ws}/chat/1.0.0/plain"
    before = chat["headers"]
    old_kid = flow.jwt_header(chat["app"]["token"])["kid"]
    out = stack.manage("rotate_signing_key")
    assert "New signing key" in out and old_kid in out
    fresh = flow.application_with_token(admin_http, "AfterRotation", chat["api"]["id"])
    assert flow.jwt_header(fresh["token"])["kid"] != old_kid
    wait_until(lambda: flow.handshake_status(url, fresh["headers"])[0] == 101, 5, what="new key known to the gateway")
    for headers in (before, fresh["headers"]):
        with connect(url, additional_headers=headers) as ws:
            ws.send("still valid")
            assert ws.recv(timeout=5) == "still valid"

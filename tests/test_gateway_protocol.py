"""Protocol edges through the real gateway: frame size, invalid UTF-8, a backend that dies
or hangs, forged tokens, idle timeout and connection lifetime."""

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import time

import pytest
import requests
from joserfc.jwk import RSAKey
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.stack import free_port, wait_until

pytestmark = pytest.mark.e2e


def test_client_frame_over_the_size_limit_closes_with_1009(stack, chat):
    # Only the header of a 1 MiB + 1 frame: the gateway refuses it from its declared length,
    # before reading the payload (a client still writing would race the close frame).
    sock = flow.raw_handshake(stack.ws_port, "/chat/1.0.0/plain", chat["headers"])
    sock.sendall(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1024 * 1024 + 1) + os.urandom(4) + b"x" * 1024)
    frame = sock.recv(4096)
    sock.close()
    assert frame[0] == 0x88  # a close frame
    assert struct.unpack("!H", frame[2:4])[0] == 1009
    # The reason names the limit itself (aiohttp's own words named one byte more).
    assert frame[4 : 2 + frame[1]] == b"Message over 1048576 bytes"


def test_invalid_utf8_text_from_the_client_closes_with_1007(stack, chat):
    sock = flow.raw_handshake(stack.ws_port, "/chat/1.0.0/plain", chat["headers"])
    payload, mask = b"\xff\xfe not utf-8", os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    frame = sock.recv(4096)
    sock.close()
    assert frame[0] == 0x88  # a close frame
    assert struct.unpack("!H", frame[2:4])[0] == 1007


def test_backend_that_vanishes_closes_the_client_with_1014(stack, chat):
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
        ws.send("!drop")
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=5)
    assert exc.value.rcvd.code == 1014


def test_backend_that_hangs_at_the_handshake_is_502(stack, admin_http):
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(8)  # the kernel completes TCP handshakes; nobody ever answers HTTP
    try:
        backend = f"ws://127.0.0.1:{hang.getsockname()[1]}"
        api = flow.import_api(admin_http, documents.chat_doc(backend, "Hang"), context="/hang")
        flow.deploy_and_publish(admin_http, api["id"])
        app = flow.application_with_token(admin_http, "HangClient", api["id"])
        url = f"{stack.gateway_ws}/hang/1.0.0/plain"
        flow.wait_for_route(url, app["headers"], timeout=15)
        start = time.monotonic()
        status, body = flow.handshake_status(url, app["headers"])
        elapsed = time.monotonic() - start
    finally:
        hang.close()
    assert (status, body["code"]) == (502, "101503")
    # It waited for the configured 2 s connect timeout (not refused at once), then answered
    # (how much later depends on the machine's load, so only the lower bound is asserted).
    assert elapsed > 1.5


def _b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forgeries(stack, good_token: str):
    header, payload, signature = good_token.split(".")
    claims = flow.jwt_claims(good_token)
    jwks = requests.get(f"{stack.portal_url}/oauth2/jwks", timeout=5).json()
    public_pem = RSAKey.import_key(jwks["keys"][0]).as_pem(private=False)
    hs_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{payload}"
    hs_sig = _b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    stranger = RSAKey.generate_key(2048, parameters={"kid": jwks["keys"][0]["kid"]}, private=True)
    from joserfc import jwt
    from joserfc.jwk import KeySet

    return {
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "hs256-with-public-key": f"{hs_input}.{hs_sig}",
        "tampered-payload": f"{header}.{_b64({**claims, 'sub': 'someone-else'})}.{signature}",
        "other-key-same-kid": jwt.encode({"alg": "RS256", "kid": stranger.kid}, claims, KeySet([stranger])),
        "unknown-kid": jwt.encode({"alg": "RS256", "kid": "no-such-key"}, claims, stranger),
        "wrong-issuer": jwt.encode(
            {"alg": "RS256", "kid": stranger.kid}, {**claims, "iss": "https://evil.test/"}, stranger
        ),
        "garbage": "abc.def.ghi",
    }


def test_forged_tokens_are_refused_with_401(stack, chat):
    for name, token in _forgeries(stack, chat["app"]["token"]).items():
        status, body = flow.handshake_status(
            f"{stack.gateway_ws}/chat/1.0.0/plain", {"Authorization": f"Bearer {token}"}
        )
        assert (status, body["code"]) == (401, "900901"), name


def test_expired_token_is_refused_with_900903(stack, admin_http, chat):
    app = flow.application_with_token(admin_http, "Expiring", chat["api"]["id"], validity=1)
    url = f"{stack.gateway_ws}/chat/1.0.0/plain"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 401, 15, what="the token to expire")
    status, body = flow.handshake_status(url, app["headers"])
    assert (status, body["code"]) == (401, "900903")
    assert time.time() >= flow.jwt_claims(app["token"])["exp"]  # refused only once expired


def test_idle_connections_and_old_connections_are_closed_with_1001(stack, chat):
    port = free_port()
    gw = stack.spawn_gateway(
        "idle", port, env={"TIDEGATE_IDLE_TIMEOUT": "1.5", "TIDEGATE_MAX_CONNECTION_LIFETIME": "3"}
    )
    try:
        url = f"ws://127.0.0.1:{port}/chat/1.0.0/plain"
        # The reasons say which rule closed each connection; when is the gateway's clock's
        # business and not asserted here (a loaded machine would make that flaky).
        with connect(url, additional_headers=chat["headers"]) as ws:
            with pytest.raises(ConnectionClosed) as exc:
                ws.recv(timeout=10)
        assert (exc.value.rcvd.code, exc.value.rcvd.reason) == (1001, "Idle timeout")
        with connect(url, additional_headers=chat["headers"]) as ws:
            with pytest.raises(ConnectionClosed) as exc:
                while True:  # busy enough never to be idle
                    ws.send("keep busy")
                    ws.recv(timeout=10)
        assert (exc.value.rcvd.code, exc.value.rcvd.reason) == (1001, "Maximum connection lifetime reached")
    finally:
        gw.stop()

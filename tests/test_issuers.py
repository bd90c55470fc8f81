"""Credentials other than the built-in Key Manager's access tokens, through the real
gateway: Publisher Internal-Keys and a trusted external issuer with its JWKS URL."""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from websockets.sync.client import connect

from testsupport import flow
from testsupport.flow import PUB, call
from testsupport.stack import marked, wait_until

pytestmark = pytest.mark.e2e
ADMIN = "/api/am/admin/v4"


def test_publisher_internal_key_opens_the_api_it_names(stack, admin_http, chat):
    key = call(admin_http, "POST", f"{PUB}/apis/{chat['api']['id']}/generate-key")
    assert key["validityTime"] == 3600
    marker, headers = marked({"Internal-Key": key["apikey"]})
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=headers) as ws:
        ws.send("from the publisher")
        assert ws.recv(timeout=5) == "from the publisher"
    [seen] = stack.backend_events(marker)
    assert "internal-key" not in seen["headers"]
    # as a bearer token it is refused: Internal-Keys travel only in their own header
    assert (
        flow.handshake_status(f"{stack.gateway_ws}/chat/1.0.0/plain", {"Authorization": f"Bearer {key['apikey']}"})[0]
        == 401
    )


class _Jwks:
    """A real HTTP server publishing a JWKS, counting how often it is asked."""

    def __init__(self):
        self.keys: list[RSAKey] = []
        self.requests = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                jwks.requests += 1
                body = json.dumps({"keys": [k.as_dict(private=False) for k in jwks.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_key(self) -> RSAKey:
        key = RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:8], "alg": "RS256"}, private=True)
        self.keys.append(key)
        return key


def _token(key: RSAKey, issuer: str, kid: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": "partner", "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    return jwt.encode({"alg": "RS256", "kid": kid or key.kid}, claims, key)


def test_external_issuer_keys_are_fetched_refreshed_on_rotation_and_not_hammered(stack, admin_http, chat):
    jwks = _Jwks()
    issuer = "https://idp.partner.test/"
    first = jwks.add_key()
    call(
        admin_http,
        "POST",
        f"{ADMIN}/key-managers",
        201,
        json={
            "name": "Partner IdP",
            "issuer": issuer,
            "certificates": {"type": "JWKS", "value": jwks.url},
            "validateSubscription": False,
        },
    )
    url = f"{stack.gateway_ws}/chat/1.0.0/plain"

    def opens(key) -> bool:
        return flow.handshake_status(url, {"Authorization": f"Bearer {_token(key, issuer)}"})[0] == 101

    # The new issuer reaches the gateway with the next sync; its keys are fetched on first use.
    wait_until(lambda: opens(first), 15, what="the new issuer's token accepted")
    second = jwks.add_key()  # the issuer rotates its key: fetched again once the refresh window allows
    wait_until(lambda: opens(second), 15, what="the rotated key fetched")

    asked = jwks.requests
    for _ in range(20):  # made-up key ids do not make the gateway fetch again and again
        status, body = flow.handshake_status(
            url, {"Authorization": f"Bearer {_token(second, issuer, uuid.uuid4().hex)}"}
        )
        assert (status, body["code"]) == (401, "900901")
    assert jwks.requests - asked <= 1
    jwks.server.shutdown()

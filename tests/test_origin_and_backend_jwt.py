"""Issue 18's Origin allow-list and backend JWT, end to end: a real portal, the gateway under
Uvicorn on free ports, and a backend in this process that records every header of every
handshake it is asked for (tagged with ``X-Test-Marker``). Both policies are Publisher
settings read live: changed with ``PUT /apis/{apiId}`` and never a new revision."""

from __future__ import annotations

import json
import os
import stat
import threading
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from websockets.sync.client import connect
from websockets.sync.server import serve

from testsupport import documents, flow
from testsupport.stack import marked, wait_until

PUB = flow.PUB
CHANNELS = """\
  /feed:
    publish: {x-scopes: [feed_read]}
    subscribe: {}
  /open:
    publish: {}
    x-auth-type: None
"""


class Recorder:
    """A WebSocket echo backend that keeps each handshake's headers (all of them, repeats
    included) by the test's marker."""

    def __init__(self) -> None:
        self.seen: dict[str | None, list[dict]] = {}
        self.lock = threading.Lock()
        self.server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, ws) -> None:
        pairs = [(k.lower(), v) for k, v in ws.request.headers.raw_items()]
        marker = dict(pairs).get("x-test-marker")
        with self.lock:
            self.seen.setdefault(marker, []).append({"path": ws.request.path, "headers": pairs})
        for message in ws:
            ws.send(message)

    def handshakes(self, marker: str) -> list[dict]:
        with self.lock:
            return list(self.seen.get(marker, []))

    def one(self, marker: str) -> dict:
        found = wait_until(lambda: self.handshakes(marker), 10, what=f"the backend handshake marked {marker}")
        assert len(found) == 1, found
        return found[0]


def values(handshake: dict, name: str) -> list[str]:
    return [v for k, v in handshake["headers"] if k == name.lower()]


@pytest.fixture(scope="module")
def recorder():
    rec = Recorder()
    yield rec
    rec.server.shutdown()


@pytest.fixture(scope="module")
def feed(stack, admin_http, recorder):
    """An API in front of the recorder, deployed and published, and a subscribed
    application's token with the topic's scope."""
    doc = documents.asyncapi_doc(
        "Feed", f"ws://127.0.0.1:{recorder.port}/up", CHANNELS, scopes="feed_read: Read the feed"
    )
    api = flow.import_api(admin_http, doc, context="/originjwt", policies=["AsyncUnlimited"])
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, "FeedClient", api["id"], scopes=["feed_read"])
    url = f"{stack.gateway_ws}/originjwt/1.0.0/feed"
    flow.wait_for_route(url, app["headers"])
    return {"id": api["id"], "app": app, "url": url, "open_url": f"{stack.gateway_ws}/originjwt/1.0.0/open"}


def put(session, api_id: str, body: dict) -> dict:
    return flow.call(session, "PUT", f"{PUB}/apis/{api_id}", 200, json=body)


def revisions(session, api_id: str) -> list[str]:
    return [r["id"] for r in flow.call(session, "GET", f"{PUB}/apis/{api_id}/revisions")["list"]]


def handshake(url: str, headers: dict) -> tuple[int, dict | None]:
    return flow.handshake_status(url, headers)


def refused_with_origin_code(url: str, headers: dict) -> bool:
    status, body = handshake(url, headers)
    return status == 403 and body["code"] == "900930"


def test_origin_allowed_refused_absent_and_wildcard(stack, admin_http, feed, recorder):
    before = revisions(admin_http, feed["id"])
    put(
        admin_http,
        feed["id"],
        {"originConfiguration": {"allowedOrigins": ["https://app.example.com", "https://*.example.org"]}},
    )
    token = feed["app"]["headers"]
    # Shutting a client out is eventual (the next pull, within about a second).
    wait_until(
        lambda: refused_with_origin_code(feed["url"], {**token, "Origin": "https://evil.example"}),
        10,
        what="the Origin list at the gateway",
    )

    marker, headers = marked({**token, "Origin": "https://evil.example"})
    status, body = handshake(feed["url"], headers)
    assert (status, body["code"], body["error_message"]) == (403, "900930", "Origin not allowed")
    marker_apex, headers = marked({**token, "Origin": "https://example.org"})  # not a subdomain of itself
    assert handshake(feed["url"], headers)[0] == 403

    allowed, headers = marked({**token, "Origin": "https://app.example.com"})
    assert handshake(feed["url"], headers)[0] == 101
    # The backend gets the client's own Origin.
    assert values(recorder.one(allowed), "origin") == ["https://app.example.com"]
    sub, headers = marked({**token, "Origin": "https://eu.chat.example.org"})
    assert handshake(feed["url"], headers)[0] == 101
    assert values(recorder.one(sub), "origin") == ["https://eu.chat.example.org"]
    absent, headers = marked(token)  # not a browser: allowed
    assert handshake(feed["url"], headers)[0] == 101
    assert values(recorder.one(absent), "origin") == []

    # The refused handshakes never reached the backend (it records before answering 101,
    # and the allowed ones above came after them).
    assert recorder.handshakes(marker) == [] and recorder.handshakes(marker_apex) == []
    assert revisions(admin_http, feed["id"]) == before


def test_browsers_only_refuses_a_handshake_without_origin(admin_http, feed):
    token = feed["app"]["headers"]
    put(
        admin_http,
        feed["id"],
        {"originConfiguration": {"allowedOrigins": ["https://app.example.com"], "browsersOnly": True}},
    )
    wait_until(lambda: refused_with_origin_code(feed["url"], token), 10, what="browsers only at the gateway")
    assert handshake(feed["url"], {**token, "Origin": "https://app.example.com"})[0] == 101
    put(admin_http, feed["id"], {"originConfiguration": {"browsersOnly": False}})
    # Letting clients in is read at once (docs/gateway.md, Consistency): no waiting.
    assert handshake(feed["url"], token)[0] == 101


def test_a_list_change_applies_at_the_next_handshake_without_a_revision(admin_http, feed):
    before = revisions(admin_http, feed["id"])
    token = feed["app"]["headers"]
    newcomer = {**token, "Origin": "https://new.example.net:8443"}
    put(admin_http, feed["id"], {"originConfiguration": {"allowedOrigins": ["https://app.example.com"]}})
    wait_until(lambda: refused_with_origin_code(feed["url"], newcomer), 10, what="the newcomer refused")

    put(
        admin_http,
        feed["id"],
        {"originConfiguration": {"allowedOrigins": ["https://app.example.com", "https://new.example.net:8443"]}},
    )
    assert handshake(feed["url"], newcomer)[0] == 101  # the very next handshake

    put(admin_http, feed["id"], {"originConfiguration": {"allowedOrigins": ["https://app.example.com"]}})
    wait_until(lambda: refused_with_origin_code(feed["url"], newcomer), 10, what="the newcomer refused again")
    put(admin_http, feed["id"], {"originConfiguration": {"allowedOrigins": []}})
    assert handshake(feed["url"], newcomer)[0] == 101
    assert revisions(admin_http, feed["id"]) == before


def _jwt_sent(recorder, url: str, headers: dict, header: str = "X-JWT-Assertion") -> list[str]:
    marker, tagged = marked(headers)
    assert handshake(url, tagged)[0] == 101
    return values(recorder.one(marker), header)


def test_backend_jwt_verifies_against_the_gateway_jwks_and_replaces_the_token(stack, admin_http, feed, recorder):
    app, token = feed["app"], feed["app"]["token"]
    put(admin_http, feed["id"], {"originConfiguration": {"allowedOrigins": [], "browsersOnly": False}})
    assert _jwt_sent(recorder, feed["url"], app["headers"]) == []  # off by default

    put(admin_http, feed["id"], {"backendJWTConfiguration": {"enabled": True}})
    wait_until(lambda: _jwt_sent(recorder, feed["url"], app["headers"]), 10, what="a backend JWT")

    marker, headers = marked({**app["headers"], "X-JWT-Assertion": "forged.by.client"})
    assert handshake(feed["url"], headers)[0] == 101
    seen = recorder.one(marker)
    (assertion,) = values(seen, "x-jwt-assertion")  # the client's own is gone
    # The client's credentials never reach the backend.
    assert values(seen, "authorization") == []
    assert all(token not in v for _, v in seen["headers"]) and token not in seen["path"]

    jwks = requests.get(f"{stack.gateway_http}/.well-known/jwks.json", timeout=10)
    assert jwks.status_code == 200 and jwks.headers["content-type"] == "application/json"
    keys = KeySet.import_key_set(jwks.json())
    assert all("d" not in k for k in jwks.json()["keys"])  # the public half only
    # The gateway's own key, made on its first run, kept private in its data directory.
    key_file = stack.data_dir / "gateway" / "backend-jwt-jwk.json"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert json.loads(key_file.read_text())["kid"] == jwks.json()["keys"][0]["kid"]
    decoded = jwt.decode(assertion, keys, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"] in {k["kid"] for k in jwks.json()["keys"]}
    claims, client = decoded.claims, flow.jwt_claims(token)
    w = "http://wso2.org/claims/"
    assert claims["iss"] == "wso2.org/products/am"
    assert claims["exp"] == client["exp"] and claims["iat"] <= time.time() + 1
    assert {k: claims[w + k] for k in ("apiname", "apicontext", "version", "tier", "keytype")} == {
        "apiname": "Feed",
        "apicontext": "/originjwt/1.0.0",
        "version": "1.0.0",
        "tier": "AsyncUnlimited",
        "keytype": "PRODUCTION",
    }
    assert claims[w + "applicationid"] == app["id"] and claims[w + "applicationname"] == "FeedClient"
    assert claims[w + "applicationtier"] == "Unlimited" and claims[w + "subscriber"] == "admin"
    assert claims[w + "enduser"] == client["sub"] == claims["sub"]
    assert claims[w + "client_id"] == app["keys"]["consumerKey"]
    assert "feed_read" in claims["scope"].split()

    # The same token gets the same JWT (signed once, cached until it expires), also when
    # it comes as ?access_token=, which never reaches the backend either.
    marker, headers = marked()
    with connect(f"{feed['url']}?access_token={token}&lang=en", additional_headers=headers, open_timeout=30):
        pass
    seen = recorder.one(marker)
    assert values(seen, "x-jwt-assertion") == [assertion]
    assert token not in seen["path"] and "lang=en" in seen["path"]

    # A topic open to all has no one to speak for: no JWT, and a forged one is dropped.
    assert _jwt_sent(recorder, feed["open_url"], {"X-JWT-Assertion": "forged"}) == []


def test_backend_jwt_header_name_is_the_apis(admin_http, feed, recorder):
    headers = feed["app"]["headers"]
    put(admin_http, feed["id"], {"backendJWTConfiguration": {"enabled": True, "header": "X-End-User"}})
    wait_until(lambda: _jwt_sent(recorder, feed["url"], headers, "X-End-User"), 10, what="the JWT in X-End-User")
    assert _jwt_sent(recorder, feed["url"], headers) == []
    put(admin_http, feed["id"], {"backendJWTConfiguration": {"enabled": False, "header": "X-JWT-Assertion"}})
    wait_until(lambda: _jwt_sent(recorder, feed["url"], headers, "X-End-User") == [], 10, what="no backend JWT")

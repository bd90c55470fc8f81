"""The main path through the REST APIs, as a script of a WSO2 user would drive it."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import socket
import struct
import subprocess

import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from testsupport.stack import ROOT, wait_until

PUB = "/api/am/publisher/v4"
# Every token and consumer secret the tests were given, to look for in the logs at the end.
SECRETS: list[str] = []
DEV = "/api/am/devportal/v3"


def call(session, method: str, path: str, expect: int | tuple[int, ...] = 200, **kwargs):
    resp = session.request(method, session.base + path, timeout=30, **kwargs)
    expected = (expect,) if isinstance(expect, int) else expect
    assert resp.status_code in expected, f"{method} {path}: {resp.status_code} {resp.text[:500]}"
    return resp.json() if resp.content and resp.headers.get("content-type", "").startswith("application/json") else None


def event_policy(session, level: str, name: str, per_minute: int, **properties) -> dict:
    """A throttling policy of ``per_minute`` events a minute at ``level`` (subscription,
    application or advanced) through Admin v4; ``properties`` are WSO2's other fields
    (throttleAction, maxConnections, ...)."""
    limit = {"type": "EVENTCOUNTLIMIT", "eventCount": {"timeUnit": "min", "unitTime": 1, "eventCount": per_minute}}
    return call(
        session,
        "POST",
        f"/api/am/admin/v4/throttling/policies/{level}",
        201,
        json={"policyName": name, "defaultLimit": limit, **properties},
    )


def import_api(session, document: str, **properties) -> dict:
    return call(
        session,
        "POST",
        f"{PUB}/apis/import-asyncapi",
        201,
        files={"file": ("api.yaml", document.encode(), "application/yaml")},
        data={"additionalProperties": json.dumps(properties)},
    )


def deploy_revision(session, api_id: str, revision_id: str, environment: str = "Default") -> None:
    """Deploy an existing revision of ``api_id`` to ``environment`` (201 expected)."""
    call(
        session,
        "POST",
        f"{PUB}/apis/{api_id}/deploy-revision",
        201,
        params={"revisionId": revision_id},
        json=[{"name": environment}],
    )


def deploy_and_publish(session, api_id: str) -> None:
    rev = call(session, "POST", f"{PUB}/apis/{api_id}/revisions", 201, json={"description": "e2e"})
    call(
        session,
        "POST",
        f"{PUB}/apis/{api_id}/deploy-revision",
        201,
        params={"revisionId": rev["id"]},
        json=[{"name": "Default", "vhost": "localhost", "displayOnDevportal": True}],
    )
    call(session, "POST", f"{PUB}/apis/change-lifecycle", 200, params={"apiId": api_id, "action": "Publish"})


def application_with_token(
    session,
    name: str,
    api_id: str | None,
    *,
    plan="AsyncUnlimited",
    scopes=(),
    app_policy="Unlimited",
    validity: int | None = None,
    key_type: str = "PRODUCTION",
) -> dict:
    """A new application (subscribed to ``api_id`` when given) with keys of ``key_type`` and a token."""
    app = call(session, "POST", f"{DEV}/applications", 201, json={"name": name, "throttlingPolicy": app_policy})
    app_id = app["applicationId"]
    sub = None
    if api_id:
        sub = call(
            session,
            "POST",
            f"{DEV}/subscriptions",
            201,
            json={"applicationId": app_id, "apiId": api_id, "throttlingPolicy": plan},
        )
    keys = call(
        session,
        "POST",
        f"{DEV}/applications/{app_id}/generate-keys",
        200,
        json={"keyType": key_type, "grantTypesToBeSupported": ["client_credentials"]},
    )
    body = {"consumerSecret": keys["consumerSecret"], "scopes": list(scopes)}
    if validity:
        body["validityPeriod"] = validity
    token = call(
        session, "POST", f"{DEV}/applications/{app_id}/oauth-keys/{keys['keyMappingId']}/generate-token", 200, json=body
    )
    SECRETS.extend([token["accessToken"], keys["consumerSecret"]])
    return {
        "id": app_id,
        "keys": keys,
        "token": token["accessToken"],
        "subscription": sub["subscriptionId"] if sub else None,
        "headers": {"Authorization": f"Bearer {token['accessToken']}"},
    }


def handshake_status(url: str, headers: dict | None = None) -> tuple[int, dict | None]:
    """Open and close a connection; return 101 or the refusal's status and JSON body."""
    try:
        with connect(url, additional_headers=headers or {}, open_timeout=30):  # a loaded machine is slow
            return 101, None
    except InvalidStatus as exc:
        body = exc.response.body
        return exc.response.status_code, json.loads(body) if body else None


def wait_for_route(url: str, headers: dict, timeout: float = 30.0) -> int:
    """Wait until the gateway stops answering 404 for ``url`` (a deploy has arrived); the
    status it answered then."""
    return wait_until(
        lambda: (status := handshake_status(url, headers)[0]) != 404 and status, timeout, what=f"{url} not 404"
    )


def wscat(command: str, message: str, wait: float = 1.5) -> str:
    """Run a wscat command line as a user would paste it (the project's pinned wscat), send
    one message and return what it printed. wscat prints only to a terminal, hence script(1)."""
    argv = shlex.split(command)
    assert argv[0] in ("wscat", "npx"), command
    if argv[0] == "npx":
        argv = argv[1:]
    argv[0] = str(ROOT / "node_modules" / ".bin" / "wscat")
    line = " ".join(shlex.quote(a) for a in [*argv, "-x", message, "-w", str(wait)])
    out = subprocess.run(["script", "-qec", line, "/dev/null"], capture_output=True, text=True, timeout=30)
    return out.stdout + out.stderr


def _jwt_part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, unverified: for reading ``exp`` in tests, never for trust."""
    return _jwt_part(token, 1)


def jwt_header(token: str) -> dict:
    """The header of a JWT (``kid``), unverified."""
    return _jwt_part(token, 0)


def raw_handshake(port: int, path: str, headers: dict) -> socket.socket:
    """A WebSocket handshake by hand, for sending what no well-behaved client would."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One client frame (FIN set, masked), with the 7/16/64-bit length forms."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def signed_up(stack, username: str, *roles: str, password: str | None = None) -> requests.Session:
    """A user signed up through the portal's page, given ``roles`` the way an operator does
    (``manage.py grant_role``), and a REST session for them (HTTP Basic; ``.password`` holds
    the password)."""
    password = password or f"{username}-Passw0rd!"
    web = requests.Session()
    page = web.get(f"{stack.portal_url}/signup/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    resp = web.post(
        f"{stack.portal_url}/signup/",
        data={"csrfmiddlewaretoken": token, "username": username, "password1": password, "password2": password},
        headers={"Referer": f"{stack.portal_url}/signup/"},
        timeout=30,
    )
    assert resp.ok and f"Welcome, {username}." in resp.text, resp.text[:500]
    if roles:
        stack.manage("grant_role", username, *roles)
    session = stack.session(username, password)
    session.password = password
    return session

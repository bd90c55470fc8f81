"""Standalone mode with real processes: a gateway without the portal, the adapter on its
own port, the project's `mg` client deploying an archive exported by the Publisher, real
wscat through it, refusals of hostile archives, and undeploy."""

import io
import subprocess
import sys
import zipfile

import pytest
import requests
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.stack import ROOT, Stack, free_port, marked, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("standalone"))
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    adapter = free_port()
    stack._spawn(
        "standalone",
        [
            sys.executable,
            "manage.py",
            "standalone",
            "--port",
            str(stack.ws_port),
            "--tls-port",
            "0",
            "--adapter-port",
            str(adapter),
        ],
    )
    wait_until(lambda: requests.get(f"{stack.gateway_http}/health", timeout=1).ok, 30, what="standalone gateway")
    yield stack, f"https://127.0.0.1:{adapter}"
    stack.stop()


def mg(stack, tmp_path, *args) -> subprocess.CompletedProcess:
    env = {**stack.env, "TIDEGATE_MG_CONFIG": str(tmp_path / "mg.json")}
    return subprocess.run(
        [sys.executable, "manage.py", "mg", *args, "-k"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_an_archive_exported_by_the_publisher_deploys_and_serves_without_the_portal(
    standalone, admin_http, chat, tmp_path
):
    stack, adapter = standalone
    exported = admin_http.get(
        f"{admin_http.base}{flow.PUB}/apis/export", params={"apiId": chat["api"]["id"]}, timeout=10
    )
    archive = tmp_path / "Chat-1.0.0.zip"
    archive.write_bytes(exported.content)

    assert mg(stack, tmp_path, "login", "--host", adapter, "-u", "admin", "-p", "wrong").returncode != 0
    login = mg(stack, tmp_path, "login", "--host", adapter, "-u", "admin", "-p", "admin")
    assert login.returncode == 0, login.stderr
    deployed = mg(stack, tmp_path, "deploy", "api", "-f", str(archive))
    assert deployed.returncode == 0, deployed.stderr
    listed = mg(stack, tmp_path, "get", "apis")
    assert "Chat" in listed.stdout and "/chat/1.0.0" in listed.stdout
    again = mg(stack, tmp_path, "deploy", "api", "-f", str(archive))
    assert again.returncode != 0 and "already" in again.stderr  # without --override

    token = requests.post(f"{stack.gateway_http}/testkey", auth=("admin", "admin"), timeout=5).text
    command = f"wscat -c {stack.gateway_ws}/chat/1.0.0/rooms/r5 -H 'Authorization: Bearer {token}'"
    assert "standalone echo" in flow.wscat(command, "standalone echo")
    assert flow.handshake_status(f"{stack.gateway_ws}/chat/1.0.0/rooms/r5")[0] == 401

    # hostile archives are refused and change nothing
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("Evil-1/api.yaml", "type: api\ndata: {name: Evil}\n")
        z.writestr("../../escape.txt", "x")
    evil = tmp_path / "evil.zip"
    evil.write_bytes(buffer.getvalue())
    refused = mg(stack, tmp_path, "deploy", "api", "-f", str(evil))
    assert refused.returncode != 0 and "escapes the archive" in refused.stderr
    assert mg(stack, tmp_path, "get", "apis").stdout == listed.stdout

    undeployed = mg(stack, tmp_path, "undeploy", "api", "-n", "Chat", "-v", "1.0.0")
    assert undeployed.returncode == 0, undeployed.stderr
    assert (
        flow.handshake_status(f"{stack.gateway_ws}/chat/1.0.0/rooms/r5", {"Authorization": f"Bearer {token}"})[0] == 404
    )


def test_the_adapter_refuses_requests_without_credentials(standalone):
    stack, adapter = standalone
    certificate = stack.data_dir / "tls" / "gateway.crt"  # the self-signed one made on first run
    resp = requests.get(f"{adapter}/api/mgw/adapter/0.1/apis", verify=str(certificate), timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == 401


def test_an_asyncapi_3_0_archive_is_served_with_the_same_enforcement(standalone, stack, admin_http, tmp_path):
    """An API whose definition is AsyncAPI 3.0 (scopes as security requirements and x-scopes,
    URL mappings on operations), exported by the Publisher and deployed with ``mg``: the
    standalone gateway routes its addresses, decides its scopes and maps its backend paths
    as the portal-fed gateway does."""
    gateway, adapter = standalone
    api = flow.import_api(
        admin_http,
        documents.twin("market", "3.0"),
        context="/market3",
        endpointConfig={"production_endpoints": {"url": f"{stack.backend_url}/v2"}},
    )
    exported = admin_http.get(f"{admin_http.base}{flow.PUB}/apis/export", params={"apiId": api["id"]}, timeout=10)
    with zipfile.ZipFile(io.BytesIO(exported.content)) as z:
        assert b"asyncapi: 3.0.0" in z.read("Market-1.0.0/Definitions/asyncapi.yaml")
    archive = tmp_path / "Market-1.0.0.zip"
    archive.write_bytes(exported.content)
    assert mg(gateway, tmp_path, "login", "--host", adapter, "-u", "admin", "-p", "admin").returncode == 0
    deployed = mg(gateway, tmp_path, "deploy", "api", "-f", str(archive))
    assert deployed.returncode == 0, deployed.stderr

    def token(scope: str) -> dict:
        issued = requests.post(
            f"{gateway.gateway_http}/testkey", auth=("admin", "admin"), data={"scope": scope}, timeout=5
        )
        flow.SECRETS.append(issued.text)
        return {"Authorization": f"Bearer {issued.text}"}

    base = f"{gateway.gateway_ws}/market3/1.0.0"
    reader = token("market_read")
    marker, headers = marked(reader)
    with connect(f"{base}/prices/ACME", additional_headers=headers) as ws:
        ws.send("quote?")
        assert ws.recv(timeout=5) == "quote?"
    assert [c["path"] for c in stack.backend_events(marker)] == ["/v2/quotes?symbol=ACME"]
    status, body = flow.handshake_status(f"{base}/halt", reader)
    assert (status, body["code"]) == (403, "900910")
    assert flow.handshake_status(f"{base}/halt", token("market_admin"))[0] == 101
    assert flow.handshake_status(f"{base}/prices/ACME")[0] == 401
    assert flow.handshake_status(f"{base}/kitchen", reader)[0] == 404


def test_an_archive_keeps_its_origin_allow_list_and_token_header_at_a_standalone_gateway(
    standalone, stack, admin_http, tmp_path
):
    # Read from api.yaml since round 3: a standalone gateway enforced neither before, so an
    # API for one web app answered every page, and its clients' tokens went unread.
    gateway, adapter = standalone
    api = flow.import_api(
        admin_http,
        documents.CHAT_ASYNCAPI,
        context="/chatorigins",
        endpointConfig={"production_endpoints": {"url": f"{stack.backend_url}/v2"}},
    )
    flow.call(
        admin_http,
        "PUT",
        f"{flow.PUB}/apis/{api['id']}",
        json={
            "authorizationHeader": "X-Token",
            "originConfiguration": {"allowedOrigins": ["https://app.example.com"], "browsersOnly": True},
        },
    )
    exported = admin_http.get(f"{admin_http.base}{flow.PUB}/apis/export", params={"apiId": api["id"]}, timeout=10)
    archive = tmp_path / "Chat-origins.zip"
    archive.write_bytes(exported.content)
    assert mg(gateway, tmp_path, "login", "--host", adapter, "-u", "admin", "-p", "admin").returncode == 0
    deployed = mg(gateway, tmp_path, "deploy", "api", "-f", str(archive))
    assert deployed.returncode == 0, deployed.stderr

    token = requests.post(f"{gateway.gateway_http}/testkey", auth=("admin", "admin"), timeout=5).text
    flow.SECRETS.append(token)
    url = f"{gateway.gateway_ws}/chatorigins/1.0.0/rooms/r1"
    allowed = {"X-Token": f"Bearer {token}", "Origin": "https://app.example.com"}
    with connect(url, additional_headers=allowed) as ws:
        ws.send("from the allowed page")
        assert ws.recv(timeout=5) == "from the allowed page"
    status, body = flow.handshake_status(url, {**allowed, "Origin": "https://evil.example.net"})
    assert (status, body["code"]) == (403, "900930")
    assert flow.handshake_status(url, {"X-Token": f"Bearer {token}"})[0] == 403  # browsers only: no Origin
    status, body = flow.handshake_status(url, {"Authorization": f"Bearer {token}", "Origin": allowed["Origin"]})
    assert status == 401, (status, body)  # the token goes in X-Token for this API

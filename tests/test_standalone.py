"""Standalone mode with real processes: a gateway without the portal, the adapter on its
own port, the project's `mg` client deploying an archive exported by the Publisher, real
wscat through it, refusals of hostile archives, and undeploy."""

import io
import subprocess
import sys
import zipfile

import pytest
import requests

from testsupport import flow
from testsupport.stack import ROOT, Stack, free_port, wait_until

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

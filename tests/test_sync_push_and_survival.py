"""Gateway sync beyond the pull: changes pushed through Redis reach every gateway at once,
and a gateway restarted while the portal is down serves the snapshot it kept on disk."""

import contextlib
import json
import time

import pytest
import requests
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.flow import PUB, call
from testsupport.stack import Stack, free_port, metric, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, redis_url):
    """A stack of its own whose gateways pull only every 5 s, so only a push is fast."""
    with Stack(
        tmp_path_factory.mktemp("pushed"), extra_env={"REDIS_URL": redis_url, "TIDEGATE_SYNC_INTERVAL": "5"}
    ) as stack:
        yield stack


def _push_pulls(gateway_http: str) -> float:
    """How many times the gateway fetched because a push told it to."""
    return metric(gateway_http, "tidegate_sync_pulls_total", '{cause="push"}') or 0.0


def test_a_deploy_is_pushed_to_two_gateways_through_redis(pushed):
    session = pushed.session()
    second = free_port()
    other = pushed.spawn_gateway("gateway-2", second)
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{second}/health", timeout=1).json()["pushConnected"],
            10,
            what="second gateway subscribed to pushes",
        )
        wait_until(
            lambda: requests.get(f"{pushed.gateway_http}/health", timeout=1).json()["pushConnected"],
            10,
            what="first gateway subscribed to pushes",
        )
        api = flow.import_api(session, documents.chat_doc(pushed.backend_url), context="/pushed")
        rev = call(session, "POST", f"{PUB}/apis/{api['id']}/revisions", 201, json={})
        gateways = [f"http://127.0.0.1:{port}" for port in (pushed.ws_port, second)]
        # No handshake probes before the push: an unknown API would make a gateway pull at
        # once (read your writes), and the test would no longer tell a push from a pull.
        pushes = [_push_pulls(g) for g in gateways]
        flow.deploy_revision(session, api["id"], rev["id"])
        start = time.monotonic()
        arrived = {}

        def both_pushed():
            for g, before in zip(gateways, pushes, strict=True):
                if g not in arrived and _push_pulls(g) > before:
                    arrived[g] = time.monotonic() - start
            return len(arrived) == 2

        # Well inside the 5 s pull: only a push can do it. How soon is recorded, not asserted.
        wait_until(both_pushed, 4, interval=0.01, what="a push to both gateways")
        (pushed.data_dir / "propagation.json").write_text(json.dumps(list(arrived.values())))
        for port in (pushed.ws_port, second):
            assert flow.handshake_status(f"ws://127.0.0.1:{port}/pushed/1.0.0/public")[0] == 101
    finally:
        other.stop()


def test_a_deployment_reaches_only_the_gateways_of_its_environment(stack, admin_http):
    call(
        admin_http,
        "POST",
        "/api/am/admin/v4/environments",
        201,
        json={"name": "Edge", "displayName": "Edge gateways", "vhosts": [{"host": "edge.localhost"}]},
    )
    assert call(admin_http, "POST", "/api/am/admin/v4/environments", 409, json={"name": "Edge"})
    api = flow.import_api(admin_http, documents.chat_doc(stack.backend_url, "Edgy"), context="/edgy")
    rev = call(admin_http, "POST", f"{PUB}/apis/{api['id']}/revisions", 201, json={})
    flow.deploy_revision(admin_http, api["id"], rev["id"], "Edge")
    edge_port = free_port()
    edge = stack.spawn_gateway("edge-gateway", edge_port, env={"TIDEGATE_GATEWAY_ENVIRONMENTS": "Edge"})
    try:
        with connect(f"ws://127.0.0.1:{edge_port}/edgy/1.0.0/public") as ws:
            ws.send("at the edge")
            assert ws.recv(timeout=5) == "at the edge"
        # The Default gateway has applied a configuration at least as new as the Edge one's.
        edge_version = metric(f"http://127.0.0.1:{edge_port}", "tidegate_snapshot_version")
        wait_until(
            lambda: metric(stack.gateway_http, "tidegate_snapshot_version") >= edge_version,
            10,
            what="the Default gateway to catch up",
        )
        assert flow.handshake_status(f"{stack.gateway_ws}/edgy/1.0.0/public")[0] == 404
        assert flow.handshake_status(f"ws://127.0.0.1:{edge_port}/chat/1.0.0/public")[0] == 404
    finally:
        edge.stop()


def test_gateways_keep_serving_while_redis_is_away_and_catch_up_when_it_returns(tmp_path_factory):
    from conftest import start_redis

    workdir = tmp_path_factory.mktemp("redis-away")
    url, redis = start_redis(workdir)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    stack = Stack(tmp_path_factory.mktemp("away"), extra_env={"REDIS_URL": url, "TIDEGATE_SYNC_INTERVAL": "0.5"})
    try:
        stack.start()
        second = free_port()
        stack.spawn_gateway("gateway-b", second)
        healths = [f"{stack.gateway_http}/health", f"http://127.0.0.1:{second}/health"]
        for health in healths:
            wait_until(lambda h=health: requests.get(h, timeout=1).json()["pushConnected"], 10, what="push connected")
        session = stack.session()
        flow.event_policy(session, "subscription", "4PerMinAway", 4)
        api = flow.import_api(
            session, documents.chat_doc(stack.backend_url, "Away"), context="/away", policies=["4PerMinAway"]
        )
        flow.deploy_and_publish(session, api["id"])
        app = flow.application_with_token(session, "Stayer", api["id"], plan="4PerMinAway")
        targets = [f"ws://127.0.0.1:{p}/away/1.0.0/plain" for p in (stack.ws_port, second)]
        for target in targets:
            wait_until(lambda t=target: flow.handshake_status(t, app["headers"])[0] == 101, 5, what="deployed")

        redis.kill()
        redis.wait(10)
        for target in targets:  # both relay, each holding the limit with its own counters
            with connect(target, additional_headers=app["headers"]) as ws:
                for i in range(2):
                    ws.send(f"no redis {i}")
                    assert ws.recv(timeout=5) == f"no redis {i}"
                ws.send("over")
                assert ws.recv(timeout=5).startswith("Error code: 4003")
        for health in healths:
            wait_until(lambda h=health: not requests.get(h, timeout=1).json()["pushConnected"], 10, what="push lost")
        # changes still arrive, by the pull
        call(
            session,
            "POST",
            f"{PUB}/subscriptions/block-subscription",
            params={"subscriptionId": app["subscription"], "blockState": "BLOCKED"},
        )
        for target in targets:
            wait_until(lambda t=target: flow.handshake_status(t, app["headers"])[0] == 403, 5, what="pulled")

        url, redis = start_redis(workdir, port)  # Redis is back on the same address
        for health in healths:
            wait_until(lambda h=health: requests.get(h, timeout=1).json()["pushConnected"], 15, what="push back")
        call(
            session, "POST", f"{PUB}/subscriptions/unblock-subscription", params={"subscriptionId": app["subscription"]}
        )
        for target in targets:
            wait_until(lambda t=target: flow.handshake_status(t, app["headers"])[0] == 101, 5, what="in sync again")
    finally:
        stack.stop()
        redis.kill()


def test_the_documented_nginx_stream_config_balances_two_gateways(stack, chat, tmp_path):
    import re
    import shutil
    import subprocess

    from testsupport.stack import ROOT

    ports = [free_port(), free_port()]
    front = free_port()
    config = (ROOT / "deploy" / "nginx-stream.conf").read_text()
    config = config.replace("127.0.0.1:9190", f"127.0.0.1:{ports[0]}").replace(
        "127.0.0.1:9191", f"127.0.0.1:{ports[1]}"
    )
    config = re.sub(r"listen 9090;", f"listen 127.0.0.1:{front};", config)
    # Plain ws only here; the wss listener (and its certificate) is tests/test_production.py's.
    config = re.sub(r"\n    server \{\n        listen 9095 ssl;.*?\n    \}", "", config, flags=re.S)
    config = config.replace(
        "worker_processes auto;", f"worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;"
    )
    (tmp_path / "nginx.conf").write_text(config)
    gateways = [stack.spawn_gateway(f"balanced-{i}", port) for i, port in enumerate(ports)]
    nginx = subprocess.Popen(
        [
            shutil.which("nginx") or "/usr/sbin/nginx",
            "-c",
            str(tmp_path / "nginx.conf"),
            "-p",
            str(tmp_path),
            "-g",
            "daemon off;",
        ]
    )
    try:
        wait_until(
            lambda: flow.handshake_status(f"ws://127.0.0.1:{front}/chat/1.0.0/public")[0] == 101,
            10,
            what="nginx stream up",
        )
        with contextlib.ExitStack() as held:
            sockets = [
                held.enter_context(
                    connect(f"ws://127.0.0.1:{front}/chat/1.0.0/plain", additional_headers=chat["headers"])
                )
                for _ in range(4)
            ]
            for ws in sockets:
                ws.send("balanced")
                assert ws.recv(timeout=5) == "balanced"
            opened = [
                int(
                    float(
                        re.search(
                            r"^tidegate_open_connections (\S+)",
                            requests.get(f"http://127.0.0.1:{p}/metrics", timeout=5).text,
                            re.M,
                        ).group(1)
                    )
                )
                for p in ports
            ]
        assert sorted(opened) == [2, 2]  # least_conn spreads them
    finally:
        nginx.terminate()
        nginx.wait(10)
        for gw in gateways:
            gw.stop()


def test_a_revocation_closes_connections_on_both_gateways_within_2_s(pushed):
    from websockets.exceptions import ConnectionClosed

    session = pushed.session()
    api = flow.import_api(session, documents.chat_doc(pushed.backend_url, "Twice"), context="/twice")
    flow.deploy_and_publish(session, api["id"])
    app = flow.application_with_token(session, "TwoPlaces", api["id"])
    second = free_port()
    other = pushed.spawn_gateway("gateway-3", second)
    try:
        urls = [f"ws://127.0.0.1:{port}/twice/1.0.0/plain" for port in (pushed.ws_port, second)]
        for u in urls:
            wait_until(lambda u=u: flow.handshake_status(u, app["headers"])[0] == 101, 10, what="deployed")
        with (
            connect(urls[0], additional_headers=app["headers"]) as a,
            connect(urls[1], additional_headers=app["headers"]) as b,
        ):
            start = time.monotonic()
            requests.post(
                f"{pushed.portal_url}/oauth2/revoke",
                data={"token": app["token"]},
                auth=(app["keys"]["consumerKey"], app["keys"]["consumerSecret"]),
                timeout=5,
            ).raise_for_status()
            codes = []
            for ws in (a, b):
                with pytest.raises(ConnectionClosed) as exc:
                    ws.recv(timeout=10)
                codes.append(exc.value.rcvd.code)
            elapsed = time.monotonic() - start
        (pushed.data_dir / "revocation.json").write_text(json.dumps({"seconds": round(elapsed, 3)}))
        assert codes == [4001, 4001]
    finally:
        other.stop()


def test_a_gateway_restarted_while_the_portal_is_down_serves_from_its_disk_snapshot(pushed):
    """Last in this file: it stops the shared stack's portal for good."""
    session = pushed.session()
    api = flow.import_api(session, documents.chat_doc(pushed.backend_url, "Kept"), context="/kept")
    flow.deploy_and_publish(session, api["id"])
    app = flow.application_with_token(session, "Keeper", api["id"])
    url = f"{pushed.gateway_ws}/kept/1.0.0/plain"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 10, what="deployed")

    pushed.processes["gateway"].stop()
    pushed.processes["portal"].stop()
    pushed.start_gateway()  # the same data directory, no portal to ask
    health = requests.get(f"{pushed.gateway_http}/health", timeout=5).json()
    assert (health["status"], health["snapshotSource"], health["controlPlaneReachable"]) == ("UP", "disk", False)
    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("still served")
        assert ws.recv(timeout=5) == "still served"


def test_an_unchanged_snapshot_is_answered_304_only_to_the_gateway_token(stack, admin_http):
    """The portal answers a current gateway's pull before Django's request cycle; that
    shortcut must agree with the full view: 304 only with the gateway token and the
    current ETag, the full answer otherwise."""
    url = f"{stack.portal_url}/internal/gateway/snapshot"
    token = {"Authorization": "Bearer dev-gateway-token"}  # the development default
    first = requests.get(url, headers=token, timeout=5)
    assert first.status_code == 200
    etag, version = first.headers["ETag"], first.json()["version"]

    same = requests.get(url, headers={**token, "If-None-Match": etag}, timeout=5)
    assert (same.status_code, same.headers["ETag"], same.content) == (304, etag, b"")
    for refused in ({"Authorization": "Bearer not-the-token"}, {}):
        resp = requests.get(url, headers={**refused, "If-None-Match": etag}, timeout=5)
        assert resp.status_code == 401 and resp.json()["description"] == "gateway token required"

    flow.event_policy(admin_http, "application", "SnapshotEtagProbe", 100)  # the configuration moves on
    moved = requests.get(url, params={"since": version}, headers={**token, "If-None-Match": etag}, timeout=5)
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert moved.json()["version"] > version

"""Frame analytics end to end: exact counts from a scripted client, the Publisher's page and
REST, Prometheus metrics, disconnecting a live connection, and a collector that is away."""

import re
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.flow import PUB, call
from testsupport.stack import free_port, metric, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def counted(stack, admin_http):
    """An API of its own with a 4-events-per-minute plan, and one scripted conversation."""
    flow.event_policy(admin_http, "subscription", "4PerMinCounted", 4)
    api = flow.import_api(
        admin_http,
        documents.chat_doc(stack.backend_url, "Counted"),
        context="/counted",
        policies=["4PerMinCounted"],
    )
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, "Counter", api["id"], plan="4PerMinCounted")
    url = f"{stack.gateway_ws}/counted/1.0.0/plain"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 5, what="route")
    before = call(admin_http, "GET", f"{PUB}/apis/{api['id']}/analytics", params={"range": "1h"})["totals"]
    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("ab")  # in 1, echo out 2
        assert ws.recv(timeout=5) == "ab"
        ws.send(b"cde")  # in 3, echo out 4
        assert ws.recv(timeout=5) == b"cde"
        ws.send("f")  # the 5th event: throttled on the way in
        assert ws.recv(timeout=5).startswith("Error code: 4003")
        ws.close(4000, "done")
    return {"api": api, "app": app, "before": before}


def _analytics(admin_http, api_id):
    return call(admin_http, "GET", f"{PUB}/apis/{api_id}/analytics", params={"range": "1h"})


def test_counts_are_exact_in_both_directions_with_throttled_frames(admin_http, counted):
    api_id = counted["api"]["id"]
    wait_until(lambda: _analytics(admin_http, api_id)["totals"]["throttled"] >= 1, 10, what="batch shipped")
    data = _analytics(admin_http, api_id)
    before = counted["before"]
    grew = {k: data["totals"][k] - before[k] for k in ("framesIn", "framesOut", "bytesIn", "bytesOut", "throttled")}
    assert grew == {"framesIn": 2, "framesOut": 2, "bytesIn": 5, "bytesOut": 5, "throttled": 1}
    assert {"code": 4000, "count": 1} in data["closeCodes"]
    assert data["topApplications"][0] == {"applicationId": counted["app"]["id"], "name": "Counter", "frames": 4}


def test_csv_download_has_the_rows(admin_http, counted):
    resp = admin_http.get(
        f"{admin_http.base}{PUB}/apis/{counted['api']['id']}/analytics",
        params={"range": "1h", "format": "csv"},
        timeout=10,
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    lines = resp.text.splitlines()
    assert lines[0] == "minute,application,topic,kind,label,count,total"
    assert any(",Counter,/plain,frame,in-throttled,1," in line for line in lines)


def test_prometheus_metrics_are_served_and_parse(stack, counted):
    text = requests.get(f"{stack.gateway_http}/metrics", timeout=5).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    frames = {s.labels["direction"]: s.value for s in families["tidegate_frames"].samples if s.name.endswith("_total")}
    assert frames["in"] >= 2 and frames["out"] >= 2
    statuses = {s.labels["status"] for s in families["tidegate_handshakes"].samples}
    assert "101" in statuses
    assert families["tidegate_snapshot_version"].samples[0].value > 0
    assert "tidegate_relay_latency_seconds" in families
    assert "tidegate_open_connections" in families


def _reported_connection(admin_http, api_id: str, opened: float) -> dict:
    """The one ChatClient connection the gateway reports as opened since ``opened``: this
    test's, not one that an earlier test's gateway reported before it stopped."""

    def reported():
        live = call(admin_http, "GET", f"{PUB}/apis/{api_id}/connections")["list"]
        return [c for c in live if c["applicationName"] == "ChatClient" and c["since"] >= opened]

    [mine] = wait_until(reported, 5, what="connection reported")
    return mine


def test_disconnect_closes_a_live_connection_with_1008(stack, admin_http, chat):
    api_id = chat["api"]["id"]
    opened = time.time()
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
        ws.send("x")
        ws.recv(timeout=5)

        mine = _reported_connection(admin_http, api_id, opened)
        call(admin_http, "POST", f"{PUB}/apis/{api_id}/connections/{mine['id']}/disconnect", 202)
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=5)
    assert exc.value.rcvd.code == 1008


def _signed_in(stack, username: str = "admin", password: str = "admin") -> requests.Session:
    """A browser-like session signed in through the login page (CSRF token and cookie)."""
    web = requests.Session()
    page = web.get(f"{stack.portal_url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    resp = web.post(
        f"{stack.portal_url}/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        headers={"Referer": f"{stack.portal_url}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert resp.status_code == 302, resp.text[:500]
    return web


def test_the_pages_disconnect_button_closes_a_live_connection_with_1008(stack, admin_http, chat):
    """The Analytics tab's Disconnect form, posted as the browser does (to the URL its action
    names, with its CSRF token): the gateway closes that connection and the page says so."""
    api_id = chat["api"]["id"]
    web = _signed_in(stack)
    opened = time.time()
    with connect(f"{stack.gateway_ws}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
        ws.send("x")
        ws.recv(timeout=5)

        mine = _reported_connection(admin_http, api_id, opened)
        page = f"{stack.portal_url}/publisher/apis/{api_id}/analytics"
        body = web.get(page, timeout=30).text
        form = re.search(
            r'<form method="post" action="([^"]+)"[^>]*>.*?name="csrfmiddlewaretoken" value="([^"]+)"'
            r'[^<]*<input type="hidden" name="connection" value="' + re.escape(mine["id"]) + '"',
            body,
        )
        assert form, "no Disconnect form for the live connection on the page"
        action, token = form.groups()
        assert action == f"/publisher/apis/{api_id}/analytics/disconnect"
        resp = web.post(
            f"{stack.portal_url}{action}",
            data={"csrfmiddlewaretoken": token, "connection": mine["id"]},
            headers={"Referer": page},
            timeout=30,
        )
        assert resp.url.split("?")[0] == page and "Disconnect requested" in resp.text
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=5)
    assert exc.value.rcvd.code == 1008


def test_relaying_goes_on_when_the_collector_is_away(stack, chat):
    port = free_port()
    gw = stack.spawn_gateway(
        "no-collector",
        port,
        env={"TIDEGATE_ANALYTICS_URL": "http://127.0.0.1:1/nowhere", "TIDEGATE_ANALYTICS_INTERVAL": "0.1"},
    )
    try:
        http = f"http://127.0.0.1:{port}"
        with connect(f"ws://127.0.0.1:{port}/chat/1.0.0/plain", additional_headers=chat["headers"]) as ws:
            ws.send("m0")
            assert ws.recv(timeout=5) == "m0"
            # The batch with that frame cannot be shipped: it waits, and relaying goes on.
            wait_until(lambda: metric(http, "tidegate_analytics_pending_batches") >= 1, 10, what="a batch waiting")
            for i in range(1, 50):
                ws.send(f"m{i}")
                assert ws.recv(timeout=5) == f"m{i}"
        assert metric(http, "tidegate_analytics_dropped_batches_total") == 0  # bounded, nothing lost yet
    finally:
        gw.stop()

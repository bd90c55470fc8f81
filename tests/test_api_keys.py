"""API keys (issue 20), end to end: keys made through the Dev Portal REST, an API whose
Publisher chose OAuth2, API keys or both, and the real gateway under Uvicorn refusing or
letting handshakes in with WSO2's codes. The portal, gateway and echo backend are the
session's stack (tests/conftest.py)."""

from __future__ import annotations

import html
import re

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.flow import DEV, PUB, call
from testsupport.stack import marked, wait_until

pytestmark = pytest.mark.e2e


def _api(stack, admin_http, context: str, schemes: list[str]) -> dict:
    api = flow.import_api(
        admin_http, documents.chat_doc(stack.backend_url, context[1:]), context=context, policies=["AsyncUnlimited"]
    )
    call(admin_http, "PUT", f"{PUB}/apis/{api['id']}", json={"securityScheme": schemes})
    flow.deploy_and_publish(admin_http, api["id"])
    return api


def _application(admin_http, name: str, api_id: str | None) -> str:
    app = call(admin_http, "POST", f"{DEV}/applications", 201, json={"name": name, "throttlingPolicy": "Unlimited"})
    if api_id:
        call(
            admin_http,
            "POST",
            f"{DEV}/subscriptions",
            201,
            json={"applicationId": app["applicationId"], "apiId": api_id, "throttlingPolicy": "AsyncUnlimited"},
        )
    return app["applicationId"]


def _api_key(session, app_id: str, key_type: str = "PRODUCTION", validity: int = -1, **restrictions) -> str:
    body = call(
        session,
        "POST",
        f"{DEV}/applications/{app_id}/api-keys/{key_type}/generate",
        json={"validityPeriod": validity, "additionalProperties": restrictions},
    )
    assert body["validityTime"] == validity
    flow.SECRETS.append(body["apikey"])
    return body["apikey"]


@pytest.fixture(scope="module")
def keyed(stack, admin_http):
    """An API taking OAuth2 tokens and API keys, an application subscribed to it and a key."""
    api = _api(stack, admin_http, "/keyed", ["oauth2", "api_key"])
    app_id = _application(admin_http, "KeyedClient", api["id"])
    key = _api_key(admin_http, app_id)
    url = f"{stack.gateway_ws}/keyed/1.0.0/notifications"
    flow.wait_for_route(url, {"apikey": key})
    return {"api": api, "app": app_id, "key": key, "url": url}


def _status(url: str, headers: dict | None = None) -> tuple[int, str | None]:
    status, body = flow.handshake_status(url, headers)
    return status, body["code"] if body else None


def test_api_key_in_header_or_query_reaches_the_backend_without_the_key(stack, keyed):
    marker, headers = marked({"apikey": keyed["key"]})
    with connect(keyed["url"], additional_headers=headers, open_timeout=30) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
    seen = stack.backend_events(marker)[0]
    assert "apikey" not in seen["headers"] and "apikey" not in seen["path"]

    marker, headers = marked()
    with connect(f"{keyed['url']}?apikey={keyed['key']}&room=7", additional_headers=headers, open_timeout=30) as ws:
        ws.send("by query")
        assert ws.recv(timeout=10) == "by query"
    seen = stack.backend_events(marker)[0]
    assert "apikey" not in seen["path"] and "room=7" in seen["path"]


def test_an_api_key_buys_no_connect_ticket(stack, keyed):
    """Tickets are for bearer tokens: one bought with an API key would carry it past the key's
    IP and referer limits, which are judged at each handshake."""
    answer = requests.post(
        f"{stack.gateway_http}/tickets",
        json={"path": "/keyed/1.0.0/notifications"},
        headers={"apikey": keyed["key"]},
        timeout=30,
    )
    assert (answer.status_code, answer.json()["code"]) == (401, "900902")
    assert "ticket" not in answer.json()


def test_api_key_is_wso2s_self_contained_jwt(stack, admin_http, keyed):
    header, claims = flow.jwt_header(keyed["key"]), flow.jwt_claims(keyed["key"])
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"]
    assert claims["token_type"] == "apiKey" and claims["keytype"] == "PRODUCTION"
    assert claims["application"]["uuid"] == keyed["app"] and claims["application"]["name"] == "KeyedClient"
    assert claims["sub"] == "admin" and claims["iss"] and claims["jti"] and claims["iat"]
    assert "exp" not in claims  # validityPeriod -1: no expiry
    assert [s["context"] for s in claims["subscribedAPIs"]] == ["/keyed/1.0.0"]
    assert "AsyncUnlimited" in claims["tierInfo"]
    # the Key Manager's published key verifies it
    jwks = call(admin_http, "GET", "/oauth2/jwks")
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}


def test_unsubscribed_application_is_refused_403(stack, admin_http, keyed):
    app_id = _application(admin_http, "KeyedStranger", None)
    key = _api_key(admin_http, app_id)
    assert _status(keyed["url"], {"apikey": key}) == (403, "900908")


def test_blocked_subscription_refuses_the_api_key(stack, admin_http, keyed):
    app_id = _application(admin_http, "KeyedBlocked", keyed["api"]["id"])
    key = _api_key(admin_http, app_id)
    assert _status(keyed["url"], {"apikey": key})[0] == 101
    sub = call(admin_http, "GET", f"{DEV}/subscriptions", params={"applicationId": app_id})["list"][0]
    call(
        admin_http,
        "POST",
        f"{PUB}/subscriptions/block-subscription",
        params={"subscriptionId": sub["subscriptionId"], "blockState": "BLOCKED"},
    )
    wait_until(lambda: _status(keyed["url"], {"apikey": key}) == (403, "900908"), 30, what="blocked at the gateway")


def test_permitted_ip_is_the_peers_address(stack, admin_http, keyed):
    elsewhere = _api_key(admin_http, keyed["app"], permittedIP="192.0.2.0/24, 2001:db8::/32")
    assert _status(keyed["url"], {"apikey": elsewhere}) == (403, "900908")
    here = _api_key(admin_http, keyed["app"], permittedIP="192.0.2.7,127.0.0.0/8")
    assert _status(keyed["url"], {"apikey": here})[0] == 101
    # X-Forwarded-For is the client's to write: it never counts
    assert _status(keyed["url"], {"apikey": elsewhere, "X-Forwarded-For": "192.0.2.9"}) == (403, "900908")


def test_permitted_referer_patterns(stack, admin_http, keyed):
    key = _api_key(admin_http, keyed["app"], permittedReferer="https://*.example.com/*, https://app.test/chat")
    assert _status(keyed["url"], {"apikey": key}) == (403, "900908")  # no Referer at all
    assert _status(keyed["url"], {"apikey": key, "Referer": "https://example.com.evil.test/"}) == (403, "900908")
    assert _status(keyed["url"], {"apikey": key, "Referer": "https://app.test/chat/more"}) == (403, "900908")
    assert _status(keyed["url"], {"apikey": key, "Referer": "https://www.example.com/page"})[0] == 101
    assert _status(keyed["url"], {"apikey": key, "Referer": "https://app.test/chat"})[0] == 101


def test_revoked_api_key_closes_its_connection_with_4001_and_is_refused(stack, admin_http, keyed):
    key = _api_key(admin_http, keyed["app"])
    with connect(keyed["url"], additional_headers={"apikey": key}, open_timeout=30) as ws:
        ws.send("still here")
        assert ws.recv(timeout=10) == "still here"
        call(admin_http, "POST", f"{DEV}/applications/{keyed['app']}/api-keys/PRODUCTION/revoke", json={"apikey": key})
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                ws.recv(timeout=30)
    assert exc.value.rcvd.code == 4001 and "revoked" in exc.value.rcvd.reason
    assert _status(keyed["url"], {"apikey": key}) == (401, "900901")
    # the application's other keys still work
    assert _status(keyed["url"], {"apikey": keyed["key"]})[0] == 101


def test_api_key_with_a_validity_expires_closing_its_connection(stack, admin_http, keyed):
    key = _api_key(admin_http, keyed["app"], validity=3)
    exp = flow.jwt_claims(key)["exp"]
    with connect(keyed["url"], additional_headers={"apikey": key}, open_timeout=30) as ws:
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                ws.recv(timeout=30)
    assert exc.value.rcvd.code == 4001
    wait_until(lambda: _status(keyed["url"], {"apikey": key}) == (401, "900903"), 30, what="expired at the gateway")
    assert flow.jwt_claims(key)["exp"] == exp


def test_each_api_takes_only_the_credential_kinds_its_publisher_chose(stack, admin_http, keyed, chat):
    only_keys = _api(stack, admin_http, "/keyonly", ["api_key"])
    app = flow.application_with_token(admin_http, "KeyOnlyClient", only_keys["id"])
    key = _api_key(admin_http, app["id"])
    url = f"{stack.gateway_ws}/keyonly/1.0.0/notifications"
    flow.wait_for_route(url, {"apikey": key})
    assert _status(url, {"apikey": key})[0] == 101
    assert _status(url, app["headers"]) == (401, "900902")  # a bearer token on an API-key-only API
    assert _status(f"{url}?access_token={app['token']}") == (401, "900902")
    # the stack's Chat API takes OAuth2 only: an API key is no credential there
    chat_url = f"{stack.gateway_ws}/chat/1.0.0/notifications"
    assert _status(chat_url, {"apikey": key}) == (401, "900902")
    # on an API taking both, a key is never a bearer token, a token never an API key
    assert _status(keyed["url"], {"Authorization": f"Bearer {keyed['key']}"}) == (401, "900901")
    assert _status(keyed["url"], {"apikey": app["token"]}) == (401, "900901")
    # the Publisher sees the choice, frozen with the revision
    assert call(admin_http, "GET", f"{PUB}/apis/{only_keys['id']}")["securityScheme"] == ["api_key"]


def test_rest_refusals_change_nothing(stack, admin_http, keyed):
    base = f"{DEV}/applications/{keyed['app']}/api-keys"
    for body, field in (
        ({"validityPeriod": 0}, "validityPeriod"),
        ({"validityPeriod": "soon"}, "validityPeriod"),
        ({"additionalProperties": {"permittedIP": "10.0.0.300"}}, "permittedIP"),
        ({"additionalProperties": {"permittedReferer": "https://a b"}}, "permittedReferer"),
    ):
        err = call(admin_http, "POST", f"{base}/PRODUCTION/generate", 400, json=body)
        assert err["code"] == 400 and field in err["message"] + str(err.get("error")), err
    assert call(admin_http, "POST", f"{base}/GOLD/generate", 404, json={})["code"] == 404
    assert call(admin_http, "POST", f"{base}/PRODUCTION/revoke", 400, json={"apikey": "not-a-key"})["code"] == 400
    # a production key is not revoked through the sandbox path, nor another application's
    other = _application(admin_http, "KeyedOther", None)
    call(admin_http, "POST", f"{base}/SANDBOX/revoke", 400, json={"apikey": keyed["key"]})
    call(
        admin_http, "POST", f"{DEV}/applications/{other}/api-keys/PRODUCTION/revoke", 400, json={"apikey": keyed["key"]}
    )
    # another developer's application is unknown to them
    dev = flow.signed_up(stack, "keyeddev")
    call(dev, "POST", f"{base}/PRODUCTION/generate", 404, json={})
    call(dev, "POST", f"{base}/PRODUCTION/revoke", 404, json={"apikey": keyed["key"]})
    # and the key these refusals named still works
    assert _status(keyed["url"], {"apikey": keyed["key"]})[0] == 101
    err = call(admin_http, "PUT", f"{PUB}/apis/{keyed['api']['id']}", 400, json={"securityScheme": ["basic_auth"]})
    assert "securityScheme" in err["description"], err
    assert call(admin_http, "GET", f"{PUB}/apis/{keyed['api']['id']}")["securityScheme"] == ["oauth2", "api_key"]


def _signed_in(stack) -> requests.Session:
    """A browser-like session of the demo admin, signed in through the login page."""
    web = requests.Session()
    page = web.get(f"{stack.portal_url}/login/", timeout=30)
    resp = web.post(
        f"{stack.portal_url}/login/",
        data={"csrfmiddlewaretoken": _csrf(page.text), "username": "admin", "password": "admin"},
        headers={"Referer": f"{stack.portal_url}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert resp.status_code == 302, resp.text[:500]
    return web


def _csrf(text: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)


def test_application_page_makes_shows_once_and_revokes_a_key_that_try_out_uses(stack, keyed):
    web = _signed_in(stack)
    page_url = f"{stack.portal_url}/devportal/applications/{keyed['app']}"
    page = web.get(page_url, timeout=30)
    assert 'id="api-keys"' in page.text
    made = web.post(
        f"{page_url}/api-keys/generate",
        data={
            "csrfmiddlewaretoken": _csrf(page.text),
            "key_type": "PRODUCTION",
            "validity": "-1",
            "permitted_ip": "127.0.0.1",
            "permitted_referer": "",
        },
        headers={"Referer": page_url},
        timeout=30,
    )
    key = html.unescape(re.search(r'<pre id="api-key">([^<]+)</pre>', made.text).group(1))
    flow.SECRETS.append(key)
    jti = flow.jwt_claims(key)["jti"]
    again = web.get(page_url, timeout=30).text
    assert key not in again and f'data-jti="{jti}"' in again  # shown once; listed by its id
    assert "IP <code>127.0.0.1</code>" in again

    # Try Out on the API page offers a wscat command with the key in the apikey header
    api_page = web.get(f"{stack.portal_url}/devportal/apis/{keyed['api']['id']}", timeout=30).text
    commands = [html.unescape(c) for c in re.findall(r'class="wscat-apikey-command">([^<]+)</pre>', api_page)]
    command = next(c for c in commands if "/notifications" in c)
    assert "-H 'apikey: $APIKEY'" in command
    out = flow.wscat(command.replace("$APIKEY", key), "echo through wscat")
    assert "echo through wscat" in out and "error" not in out, out  # wscat prints what came back

    revoked = web.post(
        f"{page_url}/api-keys/revoke",
        data={"csrfmiddlewaretoken": _csrf(again), "jti": jti},
        headers={"Referer": page_url},
        timeout=30,
    )
    assert revoked.ok and f'data-jti="{jti}"' not in revoked.text
    wait_until(lambda: _status(keyed["url"], {"apikey": key}) == (401, "900901"), 30, what="revoked at the gateway")


def test_plans_and_security_tab_chooses_the_credential_kinds(stack, admin_http):
    api = flow.import_api(
        admin_http, documents.chat_doc(stack.backend_url, "tabbed"), context="/tabbed", policies=["AsyncUnlimited"]
    )
    web = _signed_in(stack)
    plans_url = f"{stack.portal_url}/publisher/apis/{api['id']}/plans"
    page = web.get(plans_url, timeout=30).text
    assert 'name="scheme_oauth2" checked' in page and 'name="scheme_api_key" >' in page
    etag = html.unescape(re.search(r'name="etag" value="([^"]*)"', page).group(1))
    saved = web.post(
        f"{plans_url}/save",
        data={
            "csrfmiddlewaretoken": _csrf(page),
            "etag": etag,
            "policies": ["AsyncUnlimited"],
            "secured": "on",
            "scheme_api_key": "on",
            "authorization_header": "Authorization",
        },
        headers={"Referer": plans_url},
        timeout=30,
    )
    assert saved.ok and "Saved plans and security." in saved.text
    assert call(admin_http, "GET", f"{PUB}/apis/{api['id']}")["securityScheme"] == ["api_key"]
    assert 'name="scheme_api_key" checked' in web.get(plans_url, timeout=30).text

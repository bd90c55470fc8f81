"""AsyncAPI 3.0 definitions used end to end, each beside its 2.x twin (issue 17): real
documents (tests/asyncapi/, the demo's Notifications API) imported over REST as two APIs,
deployed, subscribed and used through the real gateway under Uvicorn in front of the echo
backend. Every case runs for both versions and expects the same outcome: the gateway never
knows which version a definition was written in."""

import json
import re

import pytest
import requests
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.flow import DEV, call
from testsupport.stack import marked

pytestmark = pytest.mark.e2e

VERSIONS = documents.VERSIONS
SCOPE_SETS = {
    "none": [],
    "read": ["market_read"],
    "trade": ["market_read", "market_trade"],
    "admin": ["market_read", "market_admin"],
    "owner": ["chat_owner"],
}


def _context(name: str, version: str) -> str:
    return f"/a3-{name}-v{version[0]}"


def _subscribed_app(session, name: str, api_ids: list[str]) -> dict:
    """An application subscribed to every API of ``api_ids``, with production keys."""
    app = call(session, "POST", f"{DEV}/applications", 201, json={"name": name, "throttlingPolicy": "Unlimited"})
    for api_id in api_ids:
        call(
            session,
            "POST",
            f"{DEV}/subscriptions",
            201,
            json={"applicationId": app["applicationId"], "apiId": api_id, "throttlingPolicy": "AsyncUnlimited"},
        )
    keys = call(
        session,
        "POST",
        f"{DEV}/applications/{app['applicationId']}/generate-keys",
        200,
        json={"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]},
    )
    flow.SECRETS.append(keys["consumerSecret"])
    return {"id": app["applicationId"], "keys": keys}


def _token(session, app: dict, scopes: list[str]) -> dict:
    """A token of ``app`` asking for ``scopes``: its headers and the scopes it was granted."""
    keys = app["keys"]
    path = f"{DEV}/applications/{app['id']}/oauth-keys/{keys['keyMappingId']}/generate-token"
    token = call(session, "POST", path, 200, json={"consumerSecret": keys["consumerSecret"], "scopes": scopes})
    flow.SECRETS.append(token["accessToken"])
    return {"headers": {"Authorization": f"Bearer {token['accessToken']}"}, "granted": set(token["tokenScopes"])}


@pytest.fixture(scope="module")
def twins(stack, admin_http):
    """Every twin document imported in both versions (its own context each), deployed and
    published; one application subscribed to all of them, with a token per scope set."""
    apis = {}
    for name in documents.TWIN_NAMES:
        for version in VERSIONS:
            api = flow.import_api(
                admin_http,
                documents.twin(name, version),
                context=_context(name, version),
                endpointConfig={"production_endpoints": {"url": f"{stack.backend_url}/v2"}},
            )
            assert api["operations"], (name, version)
            flow.deploy_and_publish(admin_http, api["id"])
            apis[name, version] = api
    # The suite's Chat API (tests/conftest.py) and its 3.0 form, documents.chat_doc_v3.
    for version, chat in zip(VERSIONS, (documents.chat_doc, documents.chat_doc_v3), strict=True):
        api = flow.import_api(admin_http, chat(stack.backend_url), context=_context("chat", version))
        flow.deploy_and_publish(admin_http, api["id"])
        apis["chat", version] = api
    app = _subscribed_app(admin_http, "AsyncAPI3Twins", [api["id"] for api in apis.values()])
    tokens = {label: _token(admin_http, app, scopes) for label, scopes in SCOPE_SETS.items()}
    # deploy-revision returns once the gateway has the revisions: no waiting for routes.
    return {"apis": apis, "app": app, "tokens": tokens}


def _url(stack, name: str, version: str, topic: str) -> str:
    return f"{stack.gateway_ws}{_context(name, version)}/1.0.0{topic}"


def _status(stack, name, version, topic, headers=None) -> tuple[int, str | None]:
    status, body = flow.handshake_status(_url(stack, name, version, topic), headers)
    return status, body and body["code"]


def _backend_paths(stack, name: str, version: str, topics: list[str], headers: dict | None = None) -> list[str]:
    """Talk on each topic in turn (one echoed frame) and return the paths the backend saw."""
    marker, marked_headers = marked(headers)
    for topic in topics:
        with connect(_url(stack, name, version, topic), additional_headers=marked_headers, open_timeout=30) as ws:
            ws.send("ping")
            assert ws.recv(timeout=10) == "ping"
    return [c["path"] for c in stack.backend_events(marker, count=len(topics))]


def test_both_versions_import_to_the_same_topics_and_scopes(twins):
    """What the Publisher shows for an imported API (topics, verbs, scopes, mappings, security)
    is the same for each twin: the 3.0 reading of WSO2's extensions matches the 2.x one."""
    for name in (*documents.TWIN_NAMES, "chat"):
        v2, v3 = (twins["apis"][name, version] for version in VERSIONS)

        def key(op):
            return op["target"], op["verb"]

        assert sorted(v2["operations"], key=key) == sorted(v3["operations"], key=key), name
        assert v2["scopes"] == v3["scopes"], name
        assert v2["tags"] == v3["tags"], name  # 3.0 keeps them under info
    assert twins["apis"]["notifications", "3.0"]["tags"] == ["notifications", "chat"]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_secured_topic_without_a_token_is_401(stack, twins, version):
    for name, topic in [
        ("chat-rooms", "/rooms/r1"),
        ("chat-rooms", "/rooms/r1/members/m1"),
        ("chat-rooms", "/lobby"),
        ("market", "/prices/ACME"),
        ("sensors", "/readings/s1"),
        ("notifications", "/notifications"),
        ("notifications", "/rooms/r1"),
    ]:
        assert _status(stack, name, version, topic) == (401, "900902"), (name, topic)


@pytest.mark.parametrize("version", VERSIONS)
def test_an_unknown_topic_is_404(stack, twins, version):
    headers = twins["tokens"]["admin"]["headers"]
    for name, topic in [
        ("chat-rooms", "/kitchen"),
        ("chat-rooms", "/rooms"),  # the parameter is a whole segment: /rooms alone is no topic
        ("chat-rooms", "/rooms/r1/members"),
        ("chat-rooms", "/drafts"),  # 3.0: a channel without address is not routed
        ("market", "/prices"),
        ("public-feed", "/headlines"),
        ("notifications", "/alerts"),
    ]:
        assert _status(stack, name, version, topic, headers) == (404, "404"), (name, topic)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_backend_gets_the_mapped_path_and_query(stack, twins, version):
    headers = twins["tokens"]["admin"]["headers"]
    assert _backend_paths(
        stack, "chat-rooms", version, ["/rooms/r1?lang=en", "/rooms/r1/members/m7", "/lobby"], headers
    ) == ["/v2/rooms/r1/messages?format=json&lang=en", "/v2/presence?room=r1&member=m7", "/v2"]
    assert _backend_paths(stack, "sensors", version, ["/readings/s-9"], headers) == ["/v2/sensors/s-9?unit=celsius"]
    assert _backend_paths(stack, "market", version, ["/prices/ACME?depth=5"], headers) == [
        "/v2/quotes?symbol=ACME&depth=5"
    ]
    assert _backend_paths(stack, "notifications", version, ["/notifications", "/rooms/r9"], headers) == [
        "/v2/notifications",
        "/v2/rooms?room=r9",
    ]


# (token's scopes, topic, expected status): /prices needs market_read; /orders needs
# market_read (to follow) and one of market_trade, market_admin (to place); /halt
# market_admin.
SCOPE_DECISIONS = [
    ("none", "/prices/ACME", 403),
    ("read", "/prices/ACME", 101),
    ("read", "/orders", 403),
    ("trade", "/orders", 101),
    ("admin", "/orders", 101),
    ("trade", "/halt", 403),
    ("admin", "/halt", 101),
]


@pytest.mark.parametrize("version", VERSIONS)
def test_scopes_on_operations_decide_each_topic(stack, twins, version):
    outcomes = [
        _status(stack, "market", version, topic, twins["tokens"][label]["headers"])
        for label, topic, _ in SCOPE_DECISIONS
    ]
    expected = [(status, None if status == 101 else "900910") for _, _, status in SCOPE_DECISIONS]
    assert outcomes == expected


def test_scopes_are_granted_from_both_versions_declarations(twins):
    assert twins["tokens"]["admin"]["granted"] >= {"market_read", "market_admin"}
    assert twins["tokens"]["trade"]["granted"] >= {"market_read", "market_trade"}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_scope_bound_to_a_role_is_not_granted_to_a_user_without_it(stack, twins, version):
    """market_admin is bound to the admin role (x-scopes-bindings) in both versions: a plain
    Dev Portal user asking for it gets market_read only, and /halt stays closed to them."""
    trader = flow.signed_up(stack, f"a3-trader-v{version[0]}")
    app = _subscribed_app(trader, "Trading", [twins["apis"]["market", version]["id"]])
    token = _token(trader, app, ["market_read", "market_admin"])
    assert token["granted"] == {"market_read"}
    assert _status(stack, "market", version, "/prices/ACME", token["headers"]) == (101, None)
    assert _status(stack, "market", version, "/halt", token["headers"]) == (403, "900910")


@pytest.mark.parametrize("version", VERSIONS)
def test_topics_with_security_off_need_no_token(stack, twins, version):
    assert _backend_paths(stack, "sensors", version, ["/status", "/announcements"]) == [
        "/v2/status?board=public",
        "/v2",
    ]
    assert _status(stack, "sensors", version, "/readings/s1") == (401, "900902")  # the others stay secured


@pytest.mark.parametrize("version", VERSIONS)
def test_an_api_with_security_off_needs_no_token_on_any_topic(stack, twins, version):
    assert _backend_paths(stack, "public-feed", version, ["/headlines/world", "/tips"]) == [
        "/v2/news?section=world",
        "/v2",
    ]


def _signed_in(stack) -> requests.Session:
    """A browser-like session of the demo admin, signed in through the login page."""
    web = requests.Session()
    page = web.get(f"{stack.portal_url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    resp = web.post(
        f"{stack.portal_url}/login/",
        data={"csrfmiddlewaretoken": token, "username": "admin", "password": "admin"},
        headers={"Referer": f"{stack.portal_url}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert resp.status_code == 302, resp.text[:500]
    return web


@pytest.mark.parametrize("version", VERSIONS)
def test_the_dev_portal_console_offers_the_same_topics_and_message_examples(stack, twins, version):
    """The live console of the Dev Portal's API page: each topic with its parameters, whether
    it takes a token, and the message it is prefilled with (the first example)."""
    api_id = twins["apis"]["sensors", version]["id"]
    page = _signed_in(stack).get(f"{stack.portal_url}/devportal/apis/{api_id}", timeout=30)
    assert page.status_code == 200
    found = re.search(r'<script id="console-topics" type="application/json">(.*?)</script>', page.text, re.S)
    topics = {t["topic"]: (t["params"], t["secured"], t["example"]) for t in json.loads(found.group(1))}
    assert topics == {
        "/readings/{sensorId}": (["sensorId"], True, '{"offset": -0.5}'),
        "/status": ([], False, "status all"),
        "/announcements": ([], False, ""),
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_the_suites_chat_api_decides_the_same_in_both_versions(stack, twins, version):
    """documents.chat_doc and chat_doc_v3: /admin takes either of its two scopes (in 3.0, two
    security requirements), /public is open, a room maps to a query."""
    plain, owner = twins["tokens"]["none"]["headers"], twins["tokens"]["owner"]["headers"]
    assert _status(stack, "chat", version, "/admin", plain) == (403, "900910")
    assert _status(stack, "chat", version, "/admin", owner) == (101, None)
    assert _status(stack, "chat", version, "/plain") == (401, "900902")
    assert _backend_paths(stack, "chat", version, ["/public"]) == ["/v2"]
    assert _backend_paths(stack, "chat", version, ["/rooms/r1", "/notifications?lang=en"], plain) == [
        "/v2/rooms?room=r1",
        "/v2/notifications?lang=en",
    ]

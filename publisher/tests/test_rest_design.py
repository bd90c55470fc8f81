"""Publisher REST for designing an API after it exists: PUT /apis/{apiId} (topics, scopes,
endpoints, plans, security) with If-Match, revision restore and delete, the endpoint
check, and import by URL with its guards."""

import http.server
import json
import socket
import ssl
import threading

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient
from websockets.sync.server import serve

from portal.models import AuditEvent
from publisher import asyncapi, fetch
from publisher.models import Api, ApiRevision
from tests import factories
from testsupport import documents
from testsupport.stack import free_port

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(client):
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"inlineAPIDefinition": documents.CHAT_ASYNCAPI, "additionalProperties": json.dumps({"context": "/chat"})},
    )
    assert resp.status_code == 201, resp.content
    return Api.objects.get(pk=resp.json()["id"])


def _get(client, api):
    resp = client.get(f"{BASE}/apis/{api.id}")
    assert resp.status_code == 200
    return resp.json(), resp["ETag"]


def _put(client, api, body, etag=None):
    headers = {"HTTP_IF_MATCH": etag} if etag else {}
    return client.put(f"{BASE}/apis/{api.id}", body, format="json", **headers)


def test_put_operations_rewrites_the_definition_and_keeps_what_else_it_said(client, chat):
    data, etag = _get(client, chat)
    ops = data["operations"]
    for op in ops:
        if op["target"] == "/notifications":
            op["uriMapping"] = "/feed"
            op["scopes"] = ["chat_admin"]
    ops.append({"target": "/alerts", "verb": "SUBSCRIBE", "scopes": [], "uriMapping": None, "authType": "None"})
    resp = _put(client, chat, {"operations": ops}, etag)
    assert resp.status_code == 200, resp.content
    assert resp["ETag"] != etag
    chat.refresh_from_db()
    channel = chat.definition["channels"]["/notifications"]
    assert channel["publish"]["x-uri-mapping"] == "/feed" and channel["publish"]["x-scopes"] == ["chat_admin"]
    # The room channel's parameters survived the edit; the new topic is open.
    assert chat.definition["channels"]["/rooms/{roomID}"]["parameters"] == {"roomID": {"schema": {"type": "string"}}}
    alerts = [t for t in asyncapi.topics(chat.definition) if t.name == "/alerts"][0]
    assert alerts.verbs == ("SUBSCRIBE",) and not alerts.secured
    # The definition endpoint shows the same thing: one source of truth.
    defn = client.get(f"{BASE}/apis/{chat.id}/asyncapi").json()
    assert defn["channels"]["/notifications"]["subscribe"]["x-uri-mapping"] == "/feed"
    assert AuditEvent.objects.filter(action="api.update", target_id=str(chat.id)).exists()


def test_deleting_a_topic_and_adding_scopes_with_role_bindings(client, chat):
    data, etag = _get(client, chat)
    ops = [o for o in data["operations"] if o["target"] != "/admin"]
    scopes = data["scopes"] + [{"scope": {"name": "chat_read", "description": "Read chats", "bindings": ["dev"]}}]
    ops[0]["scopes"] = ["chat_read"]
    resp = _put(client, chat, {"operations": ops, "scopes": scopes}, etag)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert "/admin" not in {o["target"] for o in body["operations"]}
    assert {s["scope"]["name"]: s["scope"]["bindings"] for s in body["scopes"]} == {
        "chat_admin": ["admin"],
        "chat_read": ["dev"],
    }


@pytest.mark.parametrize(
    "change, pointer",
    [
        ({"operations": [{"target": "/x", "verb": "PUBLISH", "scopes": ["nope"]}]}, "/channels/~1x/publish/x-scopes"),
        ({"operations": [{"target": "x", "verb": "PUBLISH"}]}, "/operations/0/target"),
        ({"operations": [{"target": "/x", "verb": "GET"}]}, "/operations/0/verb"),
        ({"operations": [{"target": "/x", "verb": "PUBLISH", "uriMapping": "nope"}]}, "/operations/0/uriMapping"),
        ({"scopes": [{"scope": {"name": "bad name"}}]}, "/scopes/0/name"),
        # Removing a scope a topic still uses.
        ({"scopes": []}, "/channels/~1admin/publish/x-scopes"),
    ],
)
def test_bad_design_is_400_pointing_at_the_problem_and_changes_nothing(client, chat, change, pointer):
    before = Api.objects.get(pk=chat.pk).definition
    resp = _put(client, chat, change)
    assert resp.status_code == 400, resp.content
    assert pointer in [e.get("pointer") for e in resp.json()["error"]]
    assert Api.objects.get(pk=chat.pk).definition == before


def test_endpoints_plans_security_and_header(client, chat):
    resp = _put(
        client,
        chat,
        {
            "endpointConfig": {
                "production_endpoints": {"url": "ws://prod:8080/v3"},
                "sandbox_endpoints": {"url": "ws://sandbox:8080/v3"},
            },
            "policies": ["AsyncGold"],
            "securityScheme": [],
            "authorizationHeader": "X-Auth",
            "description": "Chat rooms",
        },
    )
    assert resp.status_code == 200, resp.content
    chat.refresh_from_db()
    assert (chat.production_endpoint, chat.sandbox_endpoint) == ("ws://prod:8080/v3", "ws://sandbox:8080/v3")
    assert chat.definition["servers"]["sandbox"]["url"] == "ws://sandbox:8080/v3"
    assert chat.policies == ["AsyncGold"] and chat.authorization_header == "X-Auth"
    assert all(not t.secured for t in asyncapi.topics(chat.definition))
    assert resp.json()["securityScheme"] == []
    # And back on.
    assert _put(client, chat, {"securityScheme": ["oauth2"]}).json()["securityScheme"] == ["oauth2"]


@pytest.mark.parametrize(
    "change",
    [
        {"endpointConfig": {"production_endpoints": {"url": "http://nope"}}},
        {"policies": ["NoSuchPlan"]},
        {"policies": []},
        {"apiThrottlingPolicy": "NoSuchLimit"},
        {"authorizationHeader": "Bad Header"},
        {"version": "2.0.0"},
        {"context": "/other"},
        {"name": ""},
    ],
)
def test_bad_fields_are_400_and_change_nothing(client, chat, change):
    before = _get(client, chat)[0]
    resp = _put(client, chat, change)
    assert resp.status_code == 400, resp.content
    assert resp.json()["code"] == 400 and resp.json()["description"]
    assert _get(client, chat)[0] == before


def test_stale_if_match_is_412_and_changes_nothing(client, chat):
    _, etag = _get(client, chat)
    assert _put(client, chat, {"description": "first"}, etag).status_code == 200
    resp = _put(client, chat, {"description": "second"}, etag)
    assert resp.status_code == 412
    assert "changed by someone else" in resp.json()["description"]
    chat.refresh_from_db()
    assert chat.description == "first"


def test_restore_revision_brings_back_topics_and_endpoint(client, chat, publisher):
    rev = client.post(f"{BASE}/apis/{chat.id}/revisions", {"description": "v1"}, format="json").json()
    data, _ = _get(client, chat)
    _put(
        client,
        chat,
        {"operations": data["operations"][:1], "endpointConfig": {"production_endpoints": {"url": "ws://new:1/"}}},
    )
    assert len(_get(client, chat)[0]["operations"]) == 1
    resp = client.post(f"{BASE}/apis/{chat.id}/restore-revision?revisionId={rev['id']}")
    assert resp.status_code == 201
    restored = resp.json()
    assert restored["operations"] == data["operations"]
    assert restored["endpointConfig"]["production_endpoints"]["url"] == "ws://127.0.0.1:1/v2"
    assert client.post(f"{BASE}/apis/{chat.id}/restore-revision?revisionId=nope").status_code == 404


def test_delete_revision_refused_while_deployed(client, chat):
    rev = client.post(f"{BASE}/apis/{chat.id}/revisions", {}, format="json").json()
    client.post(f"{BASE}/apis/{chat.id}/deploy-revision?revisionId={rev['id']}", [{"name": "Default"}], format="json")
    resp = client.delete(f"{BASE}/apis/{chat.id}/revisions/{rev['id']}")
    assert resp.status_code == 409 and "undeploy it" in resp.json()["description"]
    assert ApiRevision.objects.filter(pk=rev["id"]).exists()
    client.post(f"{BASE}/apis/{chat.id}/undeploy-revision?revisionId={rev['id']}&allEnvironments=true")
    resp = client.delete(f"{BASE}/apis/{chat.id}/revisions/{rev['id']}")
    assert resp.status_code == 200 and resp.json()["count"] == 0
    assert not ApiRevision.objects.filter(pk=rev["id"]).exists()


def test_its_provider_may_design_but_another_creator_or_a_developer_may_not(client, chat):
    assert _put(client, chat, {"description": "by the provider"}).status_code == 200
    creator = APIClient()
    creator.force_authenticate(factories.user("cre", roles=["creator"]))
    assert _put(creator, chat, {"description": "by another creator"}).status_code == 403
    dev = APIClient()
    dev.force_authenticate(factories.user("dev"))
    assert _put(dev, chat, {"description": "by a developer"}).status_code == 403
    chat.refresh_from_db()
    assert chat.description == "by the provider"


# ------------------------------------------------------------ test connection


def test_validate_endpoint_reports_a_real_handshake_and_a_refusal(client):
    def echo(ws):
        for msg in ws:
            ws.send(msg)

    with serve(echo, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        ok = client.post(f"{BASE}/apis/validate-endpoint?endpointUrl=ws://127.0.0.1:{port}/v1").json()
        server.shutdown()
    assert ok["isValid"] and ok["statusCode"] == 101 and ok["error"] is None
    refused = client.post(f"{BASE}/apis/validate-endpoint?endpointUrl=ws://127.0.0.1:{free_port()}/").json()
    assert not refused["isValid"] and "cannot connect" in refused["error"]
    bad = client.post(f"{BASE}/apis/validate-endpoint?endpointUrl=http://x").json()
    assert not bad["isValid"] and "ws://" in bad["error"]


# ------------------------------------------------------------ import by URL


@pytest.fixture
def web():
    """A real HTTP server on loopback with a few paths."""
    routes = {
        "/chat.yaml": (200, documents.CHAT_ASYNCAPI.encode()),
        "/huge.yaml": (200, b"#" * (asyncapi.MAX_DOCUMENT_BYTES + 10)),
        "/missing": (404, b"no"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/chat.yaml")
                self.end_headers()
                return
            status, body = routes.get(self.path, (404, b""))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the importer stopped reading at its size limit

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _import_url(client, url, context="/byurl"):
    return client.post(
        f"{BASE}/apis/import-asyncapi", {"url": url, "additionalProperties": json.dumps({"context": context})}
    )


def test_import_by_url_refuses_loopback_by_default(client, web):
    resp = _import_url(client, f"{web}/chat.yaml")
    assert resp.status_code == 400
    assert "public addresses only" in resp.json()["description"]
    assert not Api.objects.filter(context="/byurl").exists()


@pytest.mark.parametrize("url", ["ftp://example.com/x.yaml", "file:///etc/passwd", "http://user:pw@example.com/"])
def test_import_by_url_takes_plain_http_urls_only(client, url):
    resp = _import_url(client, url)
    assert resp.status_code == 400 and Api.objects.count() == 0


def _serve_on(address, port, seen):
    """An HTTP server on ``address``:``port`` that serves the chat document and records
    the Host header of each request in ``seen``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((address, self.headers["Host"]))
            body = documents.CHAT_ASYNCAPI.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _rebinding_resolver(monkeypatch, name, answers):
    """Resolve ``name`` to the next of ``answers`` on each lookup, like an attacker's DNS
    server with a zero TTL (the one part these tests cannot run for real); other names
    resolve as usual."""
    real = socket.getaddrinfo
    answers = iter(answers)

    def resolve(host, *args, **kwargs):
        return real(next(answers) if host == name else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_import_by_url_does_not_follow_a_name_rebound_to_loopback_after_the_check(client, monkeypatch):
    """The name resolves to a public address for the check and to loopback afterwards: the
    fetch goes to the public address it checked (unreachable here), never to the portal's
    own network."""
    port, seen = free_port(), []
    server = _serve_on("127.0.0.1", port, seen)
    _rebinding_resolver(monkeypatch, "docs.rebind.test", ["93.184.215.14"] + ["127.0.0.1"] * 10)
    monkeypatch.setattr(fetch, "CONNECT_TIMEOUT", 1.0)
    try:
        resp = _import_url(client, f"http://docs.rebind.test:{port}/chat.yaml")
    finally:
        server.shutdown()
        server.server_close()
    assert seen == []
    assert resp.status_code == 400 and "docs.rebind.test" in resp.json()["description"]
    assert Api.objects.count() == 0


@override_settings(TIDEGATE={**settings.TIDEGATE, "IMPORT_URL_ALLOW_PRIVATE": True})
def test_import_by_url_fetches_from_the_resolved_address_under_the_host_name(client, monkeypatch):
    """One lookup per hop: the address it returned gets the request, with the URL's host
    name in the Host header (name-based virtual hosts keep working); a second address the
    name moves to afterwards gets nothing."""
    port, seen = free_port(), []
    servers = [_serve_on("127.0.0.1", port, seen), _serve_on("127.0.0.2", port, seen)]
    _rebinding_resolver(monkeypatch, "docs.rebind.test", ["127.0.0.1"] + ["127.0.0.2"] * 10)
    try:
        resp = _import_url(client, f"http://docs.rebind.test:{port}/chat.yaml")
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert resp.status_code == 201, resp.content
    assert seen == [("127.0.0.1", f"docs.rebind.test:{port}")]


@override_settings(TIDEGATE={**settings.TIDEGATE, "IMPORT_URL_ALLOW_PRIVATE": True})
def test_import_by_url_over_https_verifies_the_certificate_against_the_host_name(client, monkeypatch, tmp_path):
    """Connecting to the resolved address does not loosen TLS: the certificate must be
    trusted and name the URL's host."""
    from gateway.tls import ensure_self_signed

    cert, key = ensure_self_signed(tmp_path)  # names localhost and 127.0.0.1
    port, seen = free_port(), []
    server = _serve_on("127.0.0.1", port, seen)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    try:
        untrusted = _import_url(client, f"https://localhost:{port}/chat.yaml", context="/untrusted")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the operator trusts this certificate
        _rebinding_resolver(monkeypatch, "docs.rebind.test", ["127.0.0.1"] * 10)
        wrong_name = _import_url(client, f"https://docs.rebind.test:{port}/chat.yaml", context="/wrongname")
        trusted = _import_url(client, f"https://localhost:{port}/chat.yaml", context="/trusted")
    finally:
        server.shutdown()
        server.server_close()
    assert untrusted.status_code == 400 and "SSLError" in untrusted.json()["description"]
    assert wrong_name.status_code == 400 and "SSLError" in wrong_name.json()["description"]
    assert trusted.status_code == 201, trusted.content
    assert seen == [("127.0.0.1", f"localhost:{port}")]
    assert list(Api.objects.values_list("context", flat=True)) == ["/trusted"]


@override_settings(TIDEGATE={**settings.TIDEGATE, "IMPORT_URL_ALLOW_PRIVATE": True})
def test_import_by_url_says_when_it_cannot_connect(client):
    resp = _import_url(client, f"http://localhost:{free_port()}/chat.yaml")  # nothing listens there
    assert resp.status_code == 400
    assert "could not connect" in resp.json()["description"]
    assert Api.objects.count() == 0


@override_settings(TIDEGATE={**settings.TIDEGATE, "IMPORT_URL_ALLOW_PRIVATE": True})
def test_import_by_url_when_allowed_follows_a_redirect_and_bounds_size(client, web):
    resp = _import_url(client, f"{web}/moved")
    assert resp.status_code == 201, resp.content
    assert {o["target"] for o in resp.json()["operations"]} >= {"/notifications", "/admin"}
    huge = _import_url(client, f"{web}/huge.yaml", context="/huge")
    assert huge.status_code == 400 and "larger than" in huge.json()["description"]
    missing = _import_url(client, f"{web}/missing", context="/missing")
    assert missing.status_code == 400 and "HTTP 404" in missing.json()["description"]
    assert Api.objects.count() == 1


# ------------------------------------------------------------ lifecycle checklist


def _publish(client, api, checklist=""):
    q = f"apiId={api.id}&action=Publish"
    if checklist:
        q += "&lifecycleChecklist=" + checklist
    return client.post(f"{BASE}/apis/change-lifecycle?{q}")


def test_publishing_a_new_version_copies_subscriptions_and_can_deprecate_the_old(client, publisher):
    from devportal import services as dp
    from devportal.models import Subscription

    v1 = factories.published_api(publisher)
    app = dp.application_create(owner=factories.user("dev"), name="App")
    dp.subscription_create(application=app, api=v1, throttling_policy="AsyncGold", user=app.owner)
    v2 = factories.api(publisher, version="2.0.0")
    resp = _publish(client, v2, "Deprecate old versions after publishing the API:true")
    assert resp.status_code == 200, resp.content
    v1.refresh_from_db()
    assert v1.lifecycle_status == "DEPRECATED"
    assert Subscription.objects.get(api=v2, application=app).throttling_policy == "AsyncGold"

    # Ticking "Requires re-subscription" copies nothing; leaving deprecation unticked keeps v2 published.
    v3 = factories.api(publisher, version="3.0.0")
    checklist = "Requires re-subscription when publishing the API:true"
    assert _publish(client, v3, checklist).status_code == 200
    assert not Subscription.objects.filter(api=v3).exists()
    v2.refresh_from_db()
    assert v2.lifecycle_status == "PUBLISHED"


def test_unknown_checklist_item_is_400_and_publishes_nothing(client, chat):
    resp = _publish(client, chat, "Tidy up:true")
    assert resp.status_code == 400 and "Unknown checklist item" in resp.json()["description"]
    chat.refresh_from_db()
    assert chat.lifecycle_status == "CREATED"
    assert _publish(client, chat, "garbage").status_code == 400


def test_import_takes_description_and_tags_from_the_document(client):
    with open("demo/notifications.asyncapi.yaml") as fh:
        document = fh.read()
    resp = client.post(
        f"{BASE}/apis/import-asyncapi",
        {"inlineAPIDefinition": document, "additionalProperties": json.dumps({"context": "/notes"})},
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["description"].startswith("Live notifications") and body["tags"] == ["notifications", "chat"]


def test_publishing_a_new_version_copies_blocked_subscriptions_still_blocked(client, publisher):
    from devportal import services as dp
    from devportal.models import Subscription

    v1 = factories.published_api(publisher)
    dev = factories.user("dev")
    states = {"Blocked": "BLOCKED", "ProdBlocked": "PROD_ONLY_BLOCKED", "Open": "UNBLOCKED"}
    for name, state in states.items():
        sub = dp.subscription_create(
            application=dp.application_create(owner=dev, name=name), api=v1, throttling_policy="AsyncGold", user=dev
        )
        if state != "UNBLOCKED":
            resp = client.post(f"{BASE}/subscriptions/block-subscription?subscriptionId={sub.id}&blockState={state}")
            assert resp.status_code == 200, resp.content
    v2 = factories.api(publisher, version="2.0.0")
    assert _publish(client, v2).status_code == 200
    copied = client.get(f"{BASE}/subscriptions?apiId={v2.id}").json()["list"]
    assert {s["applicationInfo"]["name"]: s["subscriptionStatus"] for s in copied} == states
    assert Subscription.objects.filter(api=v2).count() == 3


def test_a_new_version_carries_subscriptions_only_to_who_may_see_it_and_as_approval_asks(client, publisher):
    # Copied subscriptions skipped the checks of subscribing: a developer kept access to a
    # version RESTRICTED to a role they lack, and a plan needing approval came without it.
    from django.contrib.auth.models import Group

    from devportal import services as dp
    from devportal.models import Subscription, Workflow
    from publisher import services
    from publisher.models import PolicyLevel, ThrottlingPolicy

    v1 = factories.published_api(publisher)
    dev, partner = factories.user("dev"), factories.user("partner")
    partner.groups.add(Group.objects.create(name="partners"))
    for user in (dev, partner):
        app = dp.application_create(owner=user, name=f"{user.username}-app")
        dp.subscription_create(application=app, api=v1, throttling_policy="AsyncGold", user=user)
    ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION, name="AsyncSilver").update(requires_approval=True)
    v2 = factories.api(publisher, version="2.0.0")
    services.api_update(
        api=v2,
        user=publisher,
        changes={"visibility": "RESTRICTED", "visibleRoles": ["partners"], "policies": ["AsyncSilver"]},
    )
    assert _publish(client, v2).status_code == 200
    copied = {s.application.owner.username: s for s in Subscription.objects.filter(api=v2)}
    assert set(copied) == {"partner"}
    assert (copied["partner"].status, copied["partner"].throttling_policy) == ("ON_HOLD", "AsyncSilver")
    assert Workflow.objects.filter(subject_id=str(copied["partner"].id), status="CREATED").exists()

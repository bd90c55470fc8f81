"""Publisher pages over Django's test client: each tab renders, each form changes what it
says (through the same services as REST) or explains why not and changes nothing."""

import pytest
from django.test import Client

from devportal import services as dp
from devportal.models import Subscription
from portal.models import AuditEvent
from publisher import asyncapi, services
from publisher.models import Api
from tests import factories
from testsupport import documents
from testsupport.stack import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(publisher):
    return services.api_import_asyncapi(
        provider=publisher, document=documents.CHAT_ASYNCAPI, properties={"context": "/chat"}
    )


def _client(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def web(publisher):
    return _client(publisher)


def _page(api, tab):
    return f"/publisher/apis/{api.id}/{tab}" if tab != "detail" else f"/publisher/apis/{api.id}"


@pytest.mark.parametrize(
    "tab, text",
    [
        ("detail", "Create revision"),
        ("topics", "Add a topic"),
        ("scopes", "chat_admin"),
        ("endpoints", "Test connection"),
        ("plans", "Business plans"),
        ("definition", "/rooms/{roomID}"),
        ("subscriptions", "No application subscribes"),
        ("analytics", "Last 24h"),
        ("revisions/diff", "No differences"),
    ],
)
def test_every_tab_renders_with_the_api_navigation(web, chat, tab, text):
    resp = web.get(_page(chat, tab))
    assert resp.status_code == 200
    body = resp.content.decode()
    assert text in body
    assert 'aria-label="API sections"' in body


def _etag(api):
    return services.api_etag(Api.objects.get(pk=api.pk))


def test_add_edit_and_delete_a_topic(web, chat):
    resp = web.post(
        _page(chat, "topics/save"),
        {
            "etag": _etag(chat),
            "target": "/alerts/{level}",
            "publish": "on",
            "scopes_publish": ["chat_admin"],
            "subscribe": "on",
            "uri_mapping": "/alerts?level={uri.var.level}",
            "secured": "on",
        },
        follow=True,
    )
    assert "Added topic /alerts/{level}." in resp.content.decode()
    topic = {t.name: t for t in asyncapi.topics(Api.objects.get(pk=chat.pk).definition)}["/alerts/{level}"]
    assert topic.verbs == ("PUBLISH", "SUBSCRIBE") and topic.scopes == ("chat_admin",) and topic.secured
    assert topic.uri_mapping == "/alerts?level={uri.var.level}"

    # Edit in place: rename, subscribe only, open, no mapping.
    web.post(
        _page(chat, "topics/save"),
        {"etag": _etag(chat), "original": "/alerts/{level}", "target": "/alerts", "subscribe": "on"},
    )
    names = [t.name for t in asyncapi.topics(Api.objects.get(pk=chat.pk).definition)]
    assert "/alerts" in names and "/alerts/{level}" not in names
    alerts = {t.name: t for t in asyncapi.topics(Api.objects.get(pk=chat.pk).definition)}["/alerts"]
    assert alerts.verbs == ("SUBSCRIBE",) and not alerts.secured and alerts.uri_mapping == ""

    resp = web.post(_page(chat, "topics/delete"), {"etag": _etag(chat), "target": "/alerts"}, follow=True)
    assert "Deleted topic /alerts." in resp.content.decode()
    assert "/alerts" not in [t.name for t in asyncapi.topics(Api.objects.get(pk=chat.pk).definition)]


@pytest.mark.parametrize(
    "form, message",
    [
        ({"target": "/x"}, "Tick publish, subscribe or both"),
        ({"target": "", "publish": "on"}, "Name the topic"),
        ({"target": "/admin", "publish": "on"}, "There is already a topic /admin"),
        ({"target": "/x", "publish": "on", "uri_mapping": "no-slash"}, "URL mapping must be a path"),
    ],
)
def test_bad_topic_form_explains_and_changes_nothing(web, chat, form, message):
    before = Api.objects.get(pk=chat.pk).definition
    resp = web.post(_page(chat, "topics/save"), {"etag": _etag(chat), **form}, follow=True)
    assert message in resp.content.decode()
    assert Api.objects.get(pk=chat.pk).definition == before


def test_a_stale_page_cannot_overwrite_a_newer_change(web, chat):
    stale = _etag(chat)
    web.post(
        _page(chat, "plans/save"), {"etag": stale, "policies": ["AsyncGold"], "secured": "on", "description": "new"}
    )
    resp = web.post(_page(chat, "topics/delete"), {"etag": stale, "target": "/admin"}, follow=True)
    assert "changed by someone else" in resp.content.decode()
    assert "/admin" in [t.name for t in asyncapi.topics(Api.objects.get(pk=chat.pk).definition)]


def test_scopes_add_rename_and_refuse_deleting_one_in_use(web, chat):
    web.post(_page(chat, "scopes/save"), {"etag": _etag(chat), "name": "chat_read", "bindings": "dev, admin"})
    assert asyncapi.declared_scopes(Api.objects.get(pk=chat.pk).definition)["chat_read"] == ""
    # Renaming follows into the topics that use the scope.
    web.post(
        _page(chat, "scopes/save"),
        {"etag": _etag(chat), "original": "chat_admin", "name": "chat_owner", "description": "Own"},
    )
    doc = Api.objects.get(pk=chat.pk).definition
    assert doc["channels"]["/admin"]["publish"]["x-scopes"] == ["chat_owner"]
    resp = web.post(_page(chat, "scopes/delete"), {"etag": _etag(chat), "original": "chat_owner"}, follow=True)
    assert "Scope &#x27;chat_owner&#x27; not found" in resp.content.decode()
    assert "chat_owner" in asyncapi.declared_scopes(Api.objects.get(pk=chat.pk).definition)


def test_definition_editor_saves_and_reports_lines(web, chat):
    text = asyncapi.to_yaml(chat.definition).replace("chat_admin: Administer chats", "other: Other")
    resp = web.post(_page(chat, "definition/save"), {"etag": _etag(chat), "definition": text})
    body = resp.content.decode()
    assert "Not saved" in body and "line " in body and "Scope &#x27;chat_admin&#x27; not found" in body
    assert Api.objects.get(pk=chat.pk).definition == chat.definition
    good = asyncapi.to_yaml(chat.definition).replace("/notifications:", "/news:")
    resp = web.post(_page(chat, "definition/save"), {"etag": _etag(chat), "definition": good}, follow=True)
    assert "Saved the definition" in resp.content.decode()
    assert "/news" in [t.name for t in asyncapi.topics(Api.objects.get(pk=chat.pk).definition)]
    # The Topics tab shows the same document.
    assert "/news" in web.get(_page(chat, "topics")).content.decode()


def test_revisions_restore_delete_undeploy_and_diff(web, chat, publisher):
    web.post(_page(chat, "revisions/create"), {"description": "first"})
    rev = chat.revisions.get()
    web.post(_page(chat, "topics/delete"), {"etag": _etag(chat), "target": "/admin"})
    diff = web.get(_page(chat, "revisions/diff") + f"?from={rev.id}&to=working").content.decode()
    assert 'class="diff-del"' in diff and "/admin" in diff
    resp = web.post(_page(chat, "revisions/restore"), {"revision": rev.id}, follow=True)
    assert "The working copy is now what REVISION 1 was." in resp.content.decode()
    assert "/admin" in [t.name for t in asyncapi.topics(Api.objects.get(pk=chat.pk).definition)]

    web.post(_page(chat, "deploy"), {"revision": rev.id, "environment": "Default"})
    assert chat.deployments.count() == 1
    resp = web.post(_page(chat, "revisions/delete"), {"revision": rev.id}, follow=True)
    assert "undeploy it before deleting it" in resp.content.decode()
    resp = web.post(_page(chat, "undeploy"), {"revision": rev.id, "environment": "Default"}, follow=True)
    assert "REVISION 1 undeployed from Default" in resp.content.decode()
    web.post(_page(chat, "revisions/delete"), {"revision": rev.id})
    assert not chat.revisions.exists()


def test_publish_with_checklist_deprecates_the_old_version(web, publisher):
    v1 = factories.published_api(publisher)
    v2 = factories.api(publisher, version="2.0.0")
    web.post(
        _page(v2, "lifecycle"),
        {"action": "Publish", "checklist": ["Deprecate old versions after publishing the API"]},
    )
    v1.refresh_from_db()
    assert v1.lifecycle_status == "DEPRECATED"


def test_internal_key_gives_a_command_per_topic_once_deployed(web, chat, publisher):
    rev = services.api_revision_create(api=chat, created_by=publisher)
    services.api_revision_deploy(api=chat, revision=rev, environments=[{"name": "Default"}], deployed_by=publisher)
    body = web.post(_page(chat, "internal-key")).content.decode()
    assert "Internal-Key: eyJ" in body and "/chat/1.0.0/notifications" in body


def test_subscriptions_block_by_publisher_only(web, chat, publisher):
    app = dp.application_create(owner=factories.user("dev"), name="App")
    sub = Subscription.objects.create(application=app, api=chat, throttling_policy="AsyncUnlimited")
    creator = _client(factories.user("cre", roles=["creator"]))
    page = creator.get(_page(chat, "subscriptions")).content.decode()
    assert "App" in page and ">Block<" not in page
    resp = creator.post(_page(chat, "subscriptions/block"), {"subscription": sub.id, "state": "BLOCKED"}, follow=True)
    assert "Only publishers" in resp.content.decode()
    sub.refresh_from_db()
    assert sub.status == "UNBLOCKED"
    resp = web.post(_page(chat, "subscriptions/block"), {"subscription": sub.id, "state": "BLOCKED"}, follow=True)
    assert "App&#x27;s subscription is now BLOCKED." in resp.content.decode()
    sub.refresh_from_db()
    assert sub.status == "BLOCKED"


def test_creator_sees_no_deploy_or_lifecycle_buttons(chat):
    page = _client(factories.user("cre", roles=["creator"])).get(_page(chat, "detail")).content.decode()
    assert "Create revision" in page
    assert "Deploy REVISION" not in page and ">Publish<" not in page


def test_audit_page_lists_changes_for_publishers_and_admins_only(web, chat):
    web.post(_page(chat, "plans/save"), {"etag": _etag(chat), "policies": ["AsyncGold"], "secured": "on"})
    assert AuditEvent.objects.filter(action="api.update").exists()
    page = web.get("/publisher/audit?action=api.update").content.decode()
    assert "api.update" in page and "pub" in page and "policies" in page
    assert _client(factories.user("cre", roles=["creator"])).get("/publisher/audit").status_code == 403


def test_import_page_refuses_a_loopback_url(web):
    resp = web.post(
        "/publisher/apis/import", {"url": "http://127.0.0.1:9/chat.yaml", "context": "/byurl"}
    ).content.decode()
    assert "public addresses only" in resp
    assert not Api.objects.filter(context="/byurl").exists()


def test_grant_role_command_gives_and_takes_roles():
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from portal.roles import has_role

    alice = factories.user("alice")
    out = StringIO()
    call_command("grant_role", "alice", "creator", "publisher", stdout=out)
    assert "alice: creator, publisher" in out.getvalue() and has_role(alice, "publisher")
    call_command("grant_role", "alice", "publisher", "--revoke", stdout=StringIO())
    assert has_role(alice, "creator") and not has_role(alice, "publisher")
    with pytest.raises(CommandError):
        call_command("grant_role", "nobody", "creator")


# One view per form (issue 16): each form of the Publisher's pages posts to its own URL.
ACTIONS = {
    "detail": ["internal-key", "revisions/create", "revisions/restore", "revisions/delete", "deploy", "lifecycle"],
    "topics": ["topics/save", "topics/delete"],
    "scopes": ["scopes/save", "scopes/delete"],
    "endpoints": ["endpoints/save", "endpoints/test"],
    "plans": ["plans/save"],
    "definition": ["definition/save"],
}
ACTION_URLS = [a for actions in ACTIONS.values() for a in actions] + ["undeploy", "subscriptions/block"]


def test_each_form_of_the_publisher_pages_posts_to_its_own_url(web, chat, publisher):
    factories.redeploy(chat, publisher)  # the page then has restore, deploy and undeploy forms
    services.api_revision_create(api=chat, created_by=publisher)  # and one not deployed, to delete
    services.api_change_lifecycle(api=chat, action="Publish", user=publisher)
    chat.refresh_from_db()
    dp.subscription_create(
        application=dp.application_create(owner=factories.user("dev"), name="App"),
        api=chat,
        throttling_policy="AsyncUnlimited",
        user=publisher,
    )
    for tab, actions in {
        **ACTIONS,
        "detail": ACTIONS["detail"] + ["undeploy"],
        "subscriptions": ["subscriptions/block"],
    }.items():
        body = web.get(_page(chat, tab)).content.decode()
        for action in actions:
            assert f'action="{_page(chat, action)}"' in body or f'formaction="{_page(chat, action)}"' in body, (
                tab,
                action,
            )
        assert 'name="do"' not in body


@pytest.mark.parametrize("action", ACTION_URLS)
def test_a_form_url_refuses_get_and_a_developer(web, chat, action):
    """GET is 405 (nothing to show there); a developer (no Publisher role) is refused (403) and nothing changes."""
    assert web.get(_page(chat, action)).status_code == 405
    audits = AuditEvent.objects.count()
    developer = _client(factories.user("dev"))
    assert developer.post(_page(chat, action), {"etag": _etag(chat), "action": "Block"}).status_code == 403
    assert AuditEvent.objects.count() == audits


@pytest.mark.parametrize("tab", ["detail", "topics", "scopes", "endpoints", "plans", "definition", "subscriptions"])
def test_the_pages_themselves_no_longer_take_a_post(web, chat, tab):
    """The old do= dispatchers are gone: a POST to a page (e.g. a lifecycle change) is 405 and changes nothing."""
    resp = web.post(_page(chat, tab), {"do": "lifecycle", "action": "Publish", "etag": _etag(chat)})
    assert resp.status_code == 405
    assert Api.objects.get(pk=chat.pk).lifecycle_status == "CREATED"


def test_endpoints_test_connection_and_save_each_post_to_their_own_url(web, chat):
    closed = f"ws://127.0.0.1:{free_port()}/v1"
    resp = web.post(
        _page(chat, "endpoints/test"), {"production": "ws://127.0.0.1:1/v2", "sandbox": closed, "which": "sandbox"}
    )
    body = resp.content.decode()
    assert resp.status_code == 200 and 'id="endpoint-check"' in body
    assert f"Sandbox <code>{closed}</code>" in body and f'value="{closed}"' in body  # what was typed stays
    assert Api.objects.get(pk=chat.pk).sandbox_endpoint == ""  # testing saves nothing
    resp = web.post(
        _page(chat, "endpoints/save"),
        {"production": "ws://127.0.0.1:1/v2", "sandbox": closed, "etag": _etag(chat)},
        follow=True,
    )
    assert "Saved the endpoints." in resp.content.decode()
    assert resp.redirect_chain[-1][0] == _page(chat, "endpoints")
    assert Api.objects.get(pk=chat.pk).sandbox_endpoint == closed


@pytest.mark.parametrize(
    "form, said",
    [
        ({"environment": "Nope"}, "Unknown gateway environment &#x27;Nope&#x27;"),
        ({"environment": ""}, "Choose the environment to undeploy from."),
        ({"environment": "Default", "revision": "bad"}, "That revision no longer exists."),
    ],
    ids=["unknown environment", "no environment", "no such revision"],
)
def test_an_undeploy_that_cannot_happen_says_why_and_changes_nothing(web, chat, form, said):
    """The review: each of these redirected back with no message at all."""
    web.post(_page(chat, "revisions/create"), {"description": "first"})
    rev = chat.revisions.get()
    web.post(_page(chat, "deploy"), {"revision": rev.id, "environment": "Default"})
    resp = web.post(_page(chat, "undeploy"), {"revision": rev.id, **form}, follow=True)
    assert said in resp.content.decode()
    assert chat.deployments.count() == 1


def test_undeploying_where_the_revision_is_not_deployed_says_so(web, chat):
    web.post(_page(chat, "revisions/create"), {"description": "first"})
    rev = chat.revisions.get()
    resp = web.post(_page(chat, "undeploy"), {"revision": rev.id, "environment": "Default"}, follow=True)
    assert "REVISION 1 was not deployed to Default: nothing to undeploy." in resp.content.decode()


@pytest.mark.parametrize("tab", ["", "/topics", "/scopes", "/endpoints", "/plans", "/definition", "/analytics"])
def test_a_page_answers_head_as_it_answers_get(web, chat, tab):
    """The review: GET-only pages refused HEAD (405), which uptime checks and link checkers send."""
    url = f"/publisher/apis/{chat.id}{tab}"
    assert web.get(url).status_code == 200
    resp = web.head(url)
    assert resp.status_code == 200 and resp.content == b""


def test_an_api_made_with_the_create_form_is_asyncapi_3_0(web):
    response = web.post(
        "/publisher/apis/create",
        {"name": "Fresh", "context": "/fresh", "version": "1.0.0", "endpoint": "ws://backend:8080/feed"},
    )
    assert response.status_code == 302
    api = Api.objects.get(context="/fresh")
    assert api.definition["asyncapi"] == "3.0.0"
    assert [(t.name, t.verbs) for t in asyncapi.topics(api.definition)] == [("/*", ("PUBLISH", "SUBSCRIBE"))]

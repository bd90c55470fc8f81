"""Anonymous browsing and visibility by role in the Dev Portal (issue 22): what a visitor who
is not signed in, a developer without the API's role and one with it each see, through the
Dev Portal REST API and its pages; the Admin Portal setting that turns anonymous browsing
off; and sign-in and sign-up bringing the visitor back to the API page. Existing
subscriptions meeting a real gateway after the API is restricted: tests/test_visibility_e2e.py."""

from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from devportal import services as dp
from devportal.models import Subscription
from portal.models import AuditEvent, SiteSettings
from publisher import services as pub
from tests import factories

pytestmark = pytest.mark.django_db
DEV = "/api/am/devportal/v3"


@pytest.fixture
def owner():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def apis(owner):
    """A public API and one restricted to the "partners" role, both published."""
    Group.objects.create(name="partners")
    public = factories.published_api(owner, context="/open")
    secret = factories.published_api(owner, context="/partner")
    pub.api_update(
        api=secret,
        user=owner,
        changes={"name": "Partner", "tags": ["chat"], "visibility": "RESTRICTED", "visibleRoles": ["partners"]},
    )
    pub.api_update(api=public, user=owner, changes={"tags": ["chat"]})
    return {"public": public, "restricted": secret}


@pytest.fixture
def outsider():
    return factories.user("outsider")


@pytest.fixture
def partner():
    return factories.user("partner", roles=["partners"])


def _rest(user=None) -> APIClient:
    c = APIClient()
    if user is not None:
        c.force_authenticate(user)
    return c


def _web(user=None) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def _listed(client, query="") -> list[str]:
    resp = client.get(f"{DEV}/apis", {"query": query} if query else {})
    assert resp.status_code == 200, resp.content
    return sorted(a["context"] for a in resp.json()["list"])


def test_a_visitor_reads_public_apis_over_rest_without_signing_in(apis):
    anon, api = _rest(), apis["public"]
    assert _listed(anon) == ["/open"]
    detail = anon.get(f"{DEV}/apis/{api.id}")
    assert detail.status_code == 200 and detail.json()["context"] == "/open"
    topics = anon.get(f"{DEV}/apis/{api.id}/topics")
    assert topics.status_code == 200 and topics.json()["count"] > 0
    # Applications and subscriptions still need an account.
    assert anon.get(f"{DEV}/applications").status_code == 401
    assert anon.get(f"{DEV}/subscriptions").status_code == 401


def test_a_restricted_api_is_not_found_over_rest_without_its_role_and_seen_with_it(apis, outsider, partner):
    api = apis["restricted"]
    for who, client in (("anonymous", _rest()), ("outsider", _rest(outsider))):
        assert _listed(client) == ["/open"], who
        assert _listed(client, "chat") == ["/open"], who  # search neither
        assert _listed(client, "partner") == [], who
        for path in (f"apis/{api.id}", f"apis/{api.id}/topics"):
            resp = client.get(f"{DEV}/{path}")
            assert resp.status_code == 404 and resp.json()["code"] == 404, (who, path)
            assert resp.json()["description"] == f"API {api.id} not found"
    # The holder of the role sees it, finds it and subscribes.
    client = _rest(partner)
    assert _listed(client) == ["/open", "/partner"]
    assert _listed(client, "partner") == ["/partner"]
    assert client.get(f"{DEV}/apis/{api.id}/topics").status_code == 200
    app = dp.application_create(owner=partner, name="PartnerApp")
    resp = client.post(
        f"{DEV}/subscriptions",
        {"applicationId": str(app.id), "apiId": str(api.id), "throttlingPolicy": "AsyncGold"},
        format="json",
    )
    assert resp.status_code == 201, resp.content


def test_a_developer_without_the_role_cannot_subscribe_and_nothing_changes(apis, outsider):
    client, api = _rest(outsider), apis["restricted"]
    app = dp.application_create(owner=outsider, name="Curious")
    audits = AuditEvent.objects.count()
    resp = client.post(
        f"{DEV}/subscriptions",
        {"applicationId": str(app.id), "apiId": str(api.id), "throttlingPolicy": "AsyncGold"},
        format="json",
    )
    assert resp.status_code == 404 and resp.json()["code"] == 404
    assert not Subscription.objects.filter(api=api).exists() and AuditEvent.objects.count() == audits
    # Nor through the API page's Subscribe form.
    page = _web(outsider).post(f"/devportal/apis/{api.id}/subscribe", {"application": app.id, "plan": "AsyncGold"})
    assert page.status_code == 404
    assert not Subscription.objects.filter(api=api).exists() and AuditEvent.objects.count() == audits


def test_a_visitor_browses_the_catalog_and_public_api_pages(apis):
    web, api = _web(), apis["public"]
    catalog = web.get("/devportal/")
    assert catalog.status_code == 200
    body = catalog.content.decode()
    assert f'href="/devportal/apis/{api.id}"' in body and f"/devportal/apis/{apis['restricted'].id}" not in body
    page = web.get(f"/devportal/apis/{api.id}")
    assert page.status_code == 200
    body = page.content.decode()
    back = f"/devportal/apis/{api.id}"
    # Overview, Documentation and the ratings and comments are there; Subscribe, Try Out, the
    # console and rating or commenting ask to sign in.
    assert "<h2>Topics</h2>" in body and 'id="asyncapi-frame"' in body
    assert f'href="/login/?next={back}"' in body and f'href="/signup/?next={back}"' in body
    assert body.count("Sign in to") == 4 and 'action="/devportal/apis/' not in body
    assert web.get(f"/devportal/apis/{api.id}/documentation").status_code == 200
    # Applications still need an account, and come back after signing in.
    apps = web.get("/devportal/applications")
    assert apps.status_code == 302 and apps["Location"] == "/login/?next=/devportal/applications"


def test_restricted_api_pages_are_not_found_without_its_role_and_shown_with_it(apis, outsider, partner):
    api = apis["restricted"]
    for who, web in (("anonymous", _web()), ("outsider", _web(outsider))):
        assert f"/devportal/apis/{api.id}" not in web.get("/devportal/").content.decode(), who
        assert f"/devportal/apis/{api.id}" not in web.get("/devportal/?q=partner").content.decode(), who
        assert web.get(f"/devportal/apis/{api.id}").status_code == 404, who
        assert web.get(f"/devportal/apis/{api.id}/documentation").status_code == 404, who
    for user in (partner, factories.user("root", roles=["admin"])):
        web = _web(user)
        assert f'href="/devportal/apis/{api.id}"' in web.get("/devportal/?q=partner").content.decode()
        page = web.get(f"/devportal/apis/{api.id}")
        assert page.status_code == 200 and "Sign in to" not in page.content.decode()


def test_the_admin_turns_anonymous_browsing_off_and_on(apis):
    admin = factories.user("root", roles=["admin"])
    page = _web(admin)
    form = page.get("/admin-portal/settings/").content.decode()
    assert 'name="anonymous_browsing" checked' in form
    saved = page.post("/admin-portal/settings/save", {"signup_enabled": "on", "default_policies": ["AsyncGold"]})
    assert saved.status_code == 302 and SiteSettings.objects.get().anonymous_browsing is False
    record = AuditEvent.objects.get(action="settings.update")
    assert record.detail["anonymous_browsing"] == {"from": True, "to": False}

    api, anon, web = apis["public"], _rest(), _web()
    assert anon.get(f"{DEV}/apis").status_code == 401
    assert anon.get(f"{DEV}/apis/{api.id}").status_code == 401
    assert anon.get(f"{DEV}/apis/{api.id}/topics").status_code == 401
    for path in ("/devportal/", f"/devportal/apis/{api.id}", f"/devportal/apis/{api.id}/documentation"):
        resp = web.get(path)
        assert resp.status_code == 302 and resp["Location"] == f"/login/?next={quote(path)}", path
    assert web.get("/")["Location"] == "/login/"
    # Signed-in developers browse as before.
    assert _listed(_rest(factories.user("dev"))) == ["/open"]

    page.post(
        "/admin-portal/settings/save",
        {"signup_enabled": "on", "anonymous_browsing": "on", "default_policies": ["AsyncGold"]},
    )
    assert _listed(anon) == ["/open"] and web.get("/devportal/").status_code == 200
    assert web.get("/")["Location"] == "/devportal/"


def test_signing_up_from_an_api_page_comes_back_to_it(apis):
    api, web = apis["public"], _web()
    back = f"/devportal/apis/{api.id}"
    form = web.get("/signup/", {"next": back}).content.decode()
    assert f'name="next" value="{back}"' in form and f'href="/login/?next={back}"' in form
    password = "Visitor-Passw0rd!"
    resp = web.post("/signup/", {"username": "visitor", "password1": password, "password2": password, "next": back})
    assert resp.status_code == 302 and resp["Location"] == back
    page = web.get(back).content.decode()
    assert 'action="/devportal/apis/' in page and "Sign in to" not in page


def test_signing_up_follows_only_a_next_that_is_a_local_path(apis):
    back = f"/devportal/apis/{apis['public'].id}"
    password = "Visitor-Passw0rd!"
    for i, target in enumerate(["https://evil.example/", "//evil.example/devportal/", "javascript:alert(1)", back]):
        web = _web()
        form = web.get("/signup/", {"next": target}).content.decode()
        assert ('name="next"' in form) == (target == back), target
        resp = web.post(
            "/signup/", {"username": f"visitor{i}", "password1": password, "password2": password, "next": target}
        )
        assert resp.status_code == 302 and resp["Location"] == (back if target == back else "/devportal/"), target


def test_signing_in_from_an_api_page_offers_sign_up_with_the_way_back(apis):
    back = f"/devportal/apis/{apis['public'].id}"
    page = _web().get("/login/", {"next": back}).content.decode()
    assert f'href="/signup/?next={back}"' in page


def test_documents_follow_the_api_visitors_read_public_ones_and_a_restricted_api_s_are_not_found(apis, owner, partner):
    """An API's guides are read as the API is: by visitors when it is public, and by no one
    without its roles when it is restricted (404 over REST and on the page)."""
    from publisher import documents

    made = {
        kind: documents.document_create(
            api=api,
            user=owner,
            fields={"name": f"Guide {kind}", "type": "HOWTO", "sourceType": "MARKDOWN", "visibility": "API_LEVEL"},
            inline_content="# Start here",
        )
        for kind, api in apis.items()
    }
    public, restricted = (apis[k] for k in ("public", "restricted"))
    doc_url = f"{DEV}/apis/{public.id}/documents/{made['public'].id}"
    assert _rest().get(f"{DEV}/apis/{public.id}/documents").status_code == 200
    assert _rest().get(f"{doc_url}/content").content == b"# Start here"
    page = _web().get(f"/devportal/apis/{public.id}/documents/{made['public'].id}")
    assert page.status_code == 200 and "<h1>Start here</h1>" in page.content.decode()

    hidden = f"{DEV}/apis/{restricted.id}/documents/{made['restricted'].id}"
    for who in (None, factories.user("stranger")):
        assert _rest(who).get(f"{DEV}/apis/{restricted.id}/documents").status_code == 404
        assert _rest(who).get(f"{hidden}/content").status_code == 404
        assert _rest(who).get(f"{DEV}/apis/{restricted.id}/thumbnail").status_code == 404
        assert _web(who).get(f"/devportal/apis/{restricted.id}/documents/{made['restricted'].id}").status_code == 404
    assert _rest(partner).get(f"{hidden}/content").content == b"# Start here"


def test_a_category_does_not_count_the_apis_restricted_from_the_caller(apis, owner, outsider, partner):
    """A category holding only a restricted API would otherwise tell anyone that it exists."""
    from publisher.categories import category_create

    category_create(name="Secret", description="", user=factories.user("cat-admin", roles=["admin"]))
    pub.api_update(api=apis["restricted"], user=owner, changes={"categories": ["Secret"]})

    def counted(user):
        listed = _rest(user).get(f"{DEV}/api-categories").json()["list"]
        return {c["name"]: c["numberOfAPIs"] for c in listed}

    assert counted(outsider) == {"Secret": 0} and counted(partner) == {"Secret": 1}
    assert "Secret (1)" not in _web().get("/devportal/").content.decode()
    assert "Secret (1)" not in _web(outsider).get("/devportal/").content.decode()
    assert "Secret (1)" in _web(partner).get("/devportal/").content.decode()

"""An API's visibility in the Dev Portal (issue 22), WSO2's ``visibility`` and ``visibleRoles``:
set through ``PUT /apis/{apiId}`` and the Plans & security tab, roles checked to exist, bad
input refused with nothing changed. What each caller then sees is devportal/tests/test_visibility.py."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from portal.models import AuditEvent
from publisher import services
from publisher.models import Api
from tests import factories

BASE = "/api/am/publisher/v4"
pytestmark = pytest.mark.django_db


@pytest.fixture
def api(publisher):
    Group.objects.create(name="partners")
    return factories.published_api(publisher)


def _visibility(api):
    a = Api.objects.get(pk=api.pk)
    return a.visibility, a.visible_roles


def test_public_by_default_and_put_restricts_it_to_roles_audited(client, api):
    data = client.get(f"{BASE}/apis/{api.id}").json()
    assert (data["visibility"], data["visibleRoles"]) == ("PUBLIC", [])
    resp = client.put(
        f"{BASE}/apis/{api.id}", {"visibility": "RESTRICTED", "visibleRoles": ["partners"]}, format="json"
    )
    assert resp.status_code == 200, resp.content
    assert (resp.json()["visibility"], resp.json()["visibleRoles"]) == ("RESTRICTED", ["partners"])
    assert _visibility(api) == ("RESTRICTED", ["partners"])
    record = AuditEvent.objects.filter(action="api.update").first()
    assert {"visibility", "visibleRoles"} <= set(record.detail["changed"])
    # Back to public: the roles go with it.
    resp = client.put(f"{BASE}/apis/{api.id}", {"visibility": "PUBLIC"}, format="json")
    assert resp.status_code == 200 and _visibility(api) == ("PUBLIC", [])


def test_a_revision_restore_leaves_visibility_as_it_is(client, api, publisher):
    """Who sees the API is read live, like the gateway policies: a revision does not carry it."""
    rev = services.api_revision_create(api=api, created_by=publisher)
    client.put(f"{BASE}/apis/{api.id}", {"visibility": "RESTRICTED", "visibleRoles": ["partners"]}, format="json")
    resp = client.post(f"{BASE}/apis/{api.id}/restore-revision", QUERY_STRING=f"revisionId={rev.id}")
    assert resp.status_code == 201, resp.content
    assert _visibility(api) == ("RESTRICTED", ["partners"])


@pytest.mark.parametrize(
    "body, says",
    [
        ({"visibility": "RESTRICTED", "visibleRoles": ["nobody-has-this"]}, "no role named 'nobody-has-this'"),
        ({"visibility": "RESTRICTED", "visibleRoles": []}, "at least one role"),
        ({"visibility": "RESTRICTED"}, "at least one role"),
        ({"visibility": "PRIVATE", "visibleRoles": ["partners"]}, "PUBLIC or RESTRICTED"),
        ({"visibility": "PUBLIC", "visibleRoles": ["partners"]}, "only to a RESTRICTED API"),
        ({"visibility": "RESTRICTED", "visibleRoles": "partners"}, "a list of role names"),
        ({"visibility": "RESTRICTED", "visibleRoles": [7]}, "a list of role names"),
    ],
)
def test_bad_visibility_is_400_and_changes_nothing(client, api, body, says):
    audits = AuditEvent.objects.count()
    resp = client.put(f"{BASE}/apis/{api.id}", {**body, "description": "changed too?"}, format="json")
    assert resp.status_code == 400, resp.content
    assert resp.json()["code"] == 400 and says in resp.json()["description"]
    assert _visibility(api) == ("PUBLIC", []) and Api.objects.get(pk=api.pk).description == ""
    assert AuditEvent.objects.count() == audits


def _web(user):
    c = Client()
    c.force_login(user)
    return c


def test_plans_tab_offers_the_roles_and_saves_the_visibility(publisher, api):
    web = _web(publisher)
    page = web.get(f"/publisher/apis/{api.id}/plans").content.decode()
    assert 'name="visibility" value="PUBLIC" checked' in page
    assert 'name="visible_roles" value="partners"' in page
    form = {"etag": services.api_etag(api), "policies": ["AsyncUnlimited"], "secured": "on"}
    resp = web.post(
        f"/publisher/apis/{api.id}/plans/save",
        {**form, "visibility": "RESTRICTED", "visible_roles": ["partners"]},
        follow=True,
    )
    assert "Saved plans and security." in resp.content.decode()
    assert _visibility(api) == ("RESTRICTED", ["partners"])
    assert 'name="visible_roles" value="partners" checked' in resp.content.decode()


def test_plans_tab_explains_a_restriction_without_roles_and_changes_nothing(publisher, api):
    web = _web(publisher)
    resp = web.post(
        f"/publisher/apis/{api.id}/plans/save",
        {"etag": services.api_etag(api), "policies": ["AsyncUnlimited"], "visibility": "RESTRICTED"},
        follow=True,
    )
    assert "needs at least one role" in resp.content.decode()
    assert _visibility(api) == ("PUBLIC", [])

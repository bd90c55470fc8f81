"""The Admin Portal's API categories section: add, rename, delete; a duplicate name or an
empty one refused beside the form with what was typed kept; a category in use not deleted."""

from __future__ import annotations

import pytest
from django.test import Client

from adminportal.sections import SECTIONS
from adminportal.tests.conftest import text
from portal.models import AuditEvent
from publisher import services as pub
from publisher.models import ApiCategory
from tests import factories

pytestmark = pytest.mark.django_db
PAGE = "/admin-portal/api-categories"


def test_the_section_is_in_the_navigation(admin_client):
    assert "categories" in [s.url_name for s in SECTIONS]
    assert "API categories" in text(admin_client.get("/admin-portal/"))


def test_an_admin_adds_renames_and_deletes_a_category(admin_client):
    empty = text(admin_client.get(PAGE))
    assert "No API categories yet" in empty
    resp = admin_client.post(f"{PAGE}/create", {"name": "Weather", "description": "Forecasts"}, follow=True)
    assert "Created the API category Weather" in text(resp)
    cat = ApiCategory.objects.get()
    assert 'data-category="Weather"' in text(resp) and "Forecasts" in text(resp)
    resp = admin_client.post(f"{PAGE}/{cat.id}/update", {"edit-name": "Climate", "edit-description": ""}, follow=True)
    assert "Saved the API category Climate" in text(resp)
    resp = admin_client.post(f"{PAGE}/{cat.id}/delete", follow=True)
    assert "Deleted the API category Climate" in text(resp) and not ApiCategory.objects.exists()
    assert AuditEvent.objects.filter(action__startswith="api_category").count() == 3


def test_a_duplicate_or_empty_name_is_refused_beside_the_form(admin_client):
    admin_client.post(f"{PAGE}/create", {"name": "Weather"})
    resp = admin_client.post(f"{PAGE}/create", {"name": "WEATHER", "description": "typed"})
    assert resp.status_code == 409
    body = text(resp)
    assert "already exists" in body and 'value="WEATHER"' in body and "typed</textarea>" in body
    resp = admin_client.post(f"{PAGE}/create", {"name": ""})
    assert resp.status_code == 400
    other = admin_client.post(f"{PAGE}/create", {"name": "Chat"}) and ApiCategory.objects.get(name="Chat")
    resp = admin_client.post(f"{PAGE}/{other.id}/update", {"edit-name": "weather"})
    assert resp.status_code == 409 and "already exists" in text(resp)
    assert sorted(ApiCategory.objects.values_list("name", flat=True)) == ["Chat", "Weather"]


def test_a_category_in_use_says_so_and_is_not_deleted(admin_client, admin):
    admin_client.post(f"{PAGE}/create", {"name": "Weather"})
    creator = factories.user("creator", roles=["creator"])
    api = factories.api(creator)
    pub.api_update(api=api, user=creator, changes={"categories": ["Weather"]})
    cat = ApiCategory.objects.get()
    assert "In use" in text(admin_client.get(PAGE))
    resp = admin_client.post(f"{PAGE}/{cat.id}/delete", follow=True)
    assert "take it off them first" in text(resp) and ApiCategory.objects.exists()


def test_others_are_refused(db):
    dev = factories.user("dev")
    c = Client()
    c.force_login(dev)
    assert c.get(PAGE).status_code == 403
    assert c.post(f"{PAGE}/create", {"name": "X"}).status_code == 403 and not ApiCategory.objects.exists()

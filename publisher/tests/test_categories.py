"""API categories over Admin v4 REST in WSO2's shape (id, name, description, numberOfAPIs),
put on APIs by name through the Publisher's API object, listed and filtered in the Dev
Portal; every refusal names the field and changes nothing; every change is audited."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portal.models import AuditEvent
from publisher.models import ApiCategory
from tests import factories

pytestmark = pytest.mark.django_db

CATS = "/api/am/admin/v4/api-categories"
PUB = "/api/am/publisher/v4/apis"
DEV = "/api/am/devportal/v3"


def _client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.fixture
def admin():
    return _client(factories.user("root", roles=["admin"]))


@pytest.fixture
def creator():
    return factories.user("creator", roles=["creator", "publisher"])


def _create(admin, body, expect=201):
    resp = admin.post(CATS, body, format="json")
    assert resp.status_code == expect, resp.content
    return resp.json()


def test_categories_are_created_listed_renamed_and_deleted_in_wso2s_shape(admin):
    weather = _create(admin, {"name": "Weather", "description": "Forecasts and alerts"})
    assert set(weather) == {"id", "name", "description", "numberOfAPIs"}
    assert (weather["name"], weather["description"], weather["numberOfAPIs"]) == ("Weather", "Forecasts and alerts", 0)
    _create(admin, {"name": "Chat"})
    listed = admin.get(CATS).json()
    assert listed["count"] == 2 and [c["name"] for c in listed["list"]] == ["Chat", "Weather"]

    renamed = admin.put(f"{CATS}/{weather['id']}", {"name": "Climate", "description": "Now"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Climate"
    assert admin.delete(f"{CATS}/{weather['id']}").status_code == 200
    assert [c["name"] for c in admin.get(CATS).json()["list"]] == ["Chat"]
    actions = list(AuditEvent.objects.filter(action__startswith="api_category").values_list("action", flat=True))
    assert sorted(actions) == sorted(
        ["api_category.create", "api_category.create", "api_category.update", "api_category.delete"]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": "  "}, "name"), ({"name": "x" * 81}, "name"), ({"name": 7}, "name"),
     ({"name": "Ok", "description": ["no"]}, "description")],
)  # fmt: skip
def test_bad_category_input_is_a_400_naming_the_field_and_creates_nothing(admin, body, field):
    resp = admin.post(CATS, body, format="json")
    assert resp.status_code == 400
    assert resp.json()["code"] == 400 and resp.json()["error"][0]["field"] == field
    assert ApiCategory.objects.count() == 0


def test_a_duplicate_name_in_any_case_is_a_409_on_create_and_on_rename(admin):
    _create(admin, {"name": "Weather"})
    other = _create(admin, {"name": "Chat"})
    resp = admin.post(CATS, {"name": "weather"}, format="json")
    assert resp.status_code == 409 and "already exists" in resp.json()["description"]
    resp = admin.put(f"{CATS}/{other['id']}", {"name": "WEATHER"}, format="json")
    assert resp.status_code == 409
    assert sorted(ApiCategory.objects.values_list("name", flat=True)) == ["Chat", "Weather"]


def test_only_admins_manage_categories(creator):
    resp = _client(creator).post(CATS, {"name": "Weather"}, format="json")
    assert resp.status_code == 403 and ApiCategory.objects.count() == 0


def test_creators_put_apis_in_categories_by_name_and_unknown_ones_are_refused(admin, creator):
    _create(admin, {"name": "Weather"})
    _create(admin, {"name": "Realtime"})
    api = factories.api(creator)
    pub = _client(creator)
    resp = pub.put(f"{PUB}/{api.id}", {"categories": ["weather", "Realtime"]}, format="json")
    assert resp.status_code == 200, resp.content
    assert sorted(resp.json()["categories"]) == ["Realtime", "Weather"]  # the names as the admin wrote them
    assert pub.get(f"{PUB}/{api.id}").json()["categories"] == resp.json()["categories"]
    counts = {c["name"]: c["numberOfAPIs"] for c in admin.get(CATS).json()["list"]}
    assert counts == {"Realtime": 1, "Weather": 1}

    refused = pub.put(f"{PUB}/{api.id}", {"categories": ["Weather", "Sports"]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"][0]["field"] == "categories" and "Sports" in refused.json()["description"]
    assert sorted(pub.get(f"{PUB}/{api.id}").json()["categories"]) == ["Realtime", "Weather"]  # unchanged

    made = pub.post(
        PUB,
        {"name": "Ticker", "context": "/ticker", "version": "1", "categories": ["Nope"],
         "endpointConfig": {"endpoint_type": "ws", "production_endpoints": {"url": "ws://127.0.0.1:1/t"}}},
        format="json",
    )  # fmt: skip
    assert made.status_code == 400 and made.json()["error"][0]["field"] == "categories"
    assert pub.get(PUB, {"query": "ticker"}).json()["count"] == 0


def test_a_category_in_use_is_not_deleted_and_a_rename_follows_its_apis(admin, creator):
    cat = _create(admin, {"name": "Weather"})
    api = factories.api(creator)
    _client(creator).put(f"{PUB}/{api.id}", {"categories": ["Weather"]}, format="json")
    resp = admin.delete(f"{CATS}/{cat['id']}")
    assert resp.status_code == 409 and "1 API is in the category" in resp.json()["description"]
    admin.put(f"{CATS}/{cat['id']}", {"name": "Climate"}, format="json")
    assert _client(creator).get(f"{PUB}/{api.id}").json()["categories"] == ["Climate"]


def test_the_dev_portal_lists_categories_and_filters_the_catalog_by_one(admin, creator):
    _create(admin, {"name": "Weather"})
    _create(admin, {"name": "Chat"})
    weather = factories.published_api(creator, context="/weather")
    factories.published_api(creator, context="/chat")
    draft = factories.api(creator, context="/draft")
    pub = _client(creator)
    pub.put(f"{PUB}/{weather.id}", {"categories": ["Weather"]}, format="json")
    pub.put(f"{PUB}/{draft.id}", {"categories": ["Weather"]}, format="json")

    dev = _client(factories.user("dev"))
    listed = dev.get(f"{DEV}/api-categories").json()
    # A draft is not counted where developers look.
    assert {c["name"]: c["numberOfAPIs"] for c in listed["list"]} == {"Chat": 0, "Weather": 1}
    filtered = dev.get(f"{DEV}/apis", {"category": "weather"}).json()
    assert [a["context"] for a in filtered["list"]] == ["/weather"]
    assert filtered["list"][0]["categories"] == ["Weather"]
    assert dev.get(f"{DEV}/apis", {"query": "api-category:weather"}).json()["count"] == 1
    assert dev.get(f"{DEV}/apis", {"category": "Chat"}).json()["count"] == 0
    assert dev.get(f"{DEV}/apis").json()["count"] == 2


def _etag(web, api):
    return web.get(f"{PUB}/{api.id}").headers["ETag"]


def test_the_plans_page_puts_an_api_in_categories_and_shows_them_checked(admin, creator):
    _create(admin, {"name": "Weather"})
    _create(admin, {"name": "Chat"})
    api = factories.api(creator)
    web = Client()
    web.force_login(creator)
    page = web.get(f"/publisher/apis/{api.id}/plans").content.decode()
    assert 'name="categories" value="Weather"' in page
    form = {"policies": ["AsyncUnlimited"], "secured": "on", "categories_shown": "1", "categories": ["Weather"]}
    resp = web.post(f"/publisher/apis/{api.id}/plans/save", {**form, "etag": _etag(_client(creator), api)})
    assert resp.status_code == 302
    assert [c.name for c in api.categories.all()] == ["Weather"]
    page = web.get(f"/publisher/apis/{api.id}/plans").content.decode()
    assert 'value="Weather" checked' in page and 'value="Chat" checked' not in page
    # Unticking every box takes the API out of them.
    form.pop("categories")
    web.post(f"/publisher/apis/{api.id}/plans/save", {**form, "etag": _etag(_client(creator), api)})
    assert not api.categories.exists()

"""The Admin Portal's Rate limits section, and the Admin REST's DELETE beside it: a policy
in use cannot be deleted, and both say by what."""

import pytest

from adminportal.tests.conftest import text
from devportal import services as dp
from portal.models import AuditEvent
from publisher.models import LimitType, PolicyLevel, ThrottlingPolicy
from tests import factories

pytestmark = pytest.mark.django_db
ADM = "/api/am/admin/v4"


@pytest.fixture
def in_use(admin):
    """AsyncGold offered by an API and a subscription's plan; 20PerMin an application's limit;
    50KPerMin an API's advanced policy."""
    creator = factories.user("cre", roles=["creator", "publisher"])
    api = factories.published_api(creator)
    api.api_throttling_policy = "50KPerMin"
    api.save()
    dev = factories.user("dana")
    app = dp.application_create(owner=dev, name="DanaApp", throttling_policy="20PerMin")
    dp.subscription_create(application=app, api=api, throttling_policy="AsyncGold", user=dev)
    return api


def _form(**overrides):
    form = {
        "policy_name": "Platinum",
        "display_name": "Platinum plan",
        "description": "Allows 100 events per minute",
        "limit_type": "EVENTCOUNTLIMIT",
        "amount": "100",
        "data_unit": "KB",
        "unit_time": "1",
        "time_unit": "min",
        "throttle_action": "close",
        "stop_on_quota_reach": "on",
    }
    form.update(overrides)
    return form


def test_the_list_shows_each_levels_policies_and_what_uses_them(admin_client, in_use):
    page = text(admin_client.get("/admin-portal/policies"))
    assert "AsyncGold" in page and "50000 events per day" in page
    row = page[page.index('id="policy-AsyncGold"') :].split("</tr>")[0]
    assert "1 API offering it as a plan (Chat 1.0.0)" in row
    assert "1 subscription (DanaApp → Chat 1.0.0)" in row
    assert "In use" in row and "Delete policy AsyncGold" not in row
    bronze = page[page.index('id="policy-AsyncBronze"') :].split("</tr>")[0]
    assert "Delete policy AsyncBronze" in bronze  # nothing uses it
    factories.api(in_use.provider, version="2.0.0")  # offers AsyncGold too
    page = text(admin_client.get("/admin-portal/policies"))
    assert "2 APIs offering it as a plan (Chat 1.0.0, Chat 2.0.0)" in page

    apps = text(admin_client.get("/admin-portal/policies?level=application"))
    row = apps[apps.index('id="policy-20PerMin"') :].split("</tr>")[0]
    assert "1 application (DanaApp of dana)" in row
    advanced = text(admin_client.get("/admin-portal/policies?level=advanced"))
    row = advanced[advanced.index('id="policy-50KPerMin"') :].split("</tr>")[0]
    assert "1 API limited by it (Chat 1.0.0)" in row


def test_creating_a_streaming_event_count_plan(admin_client, admin):
    resp = admin_client.post("/admin-portal/policies/subscription/create", _form(), follow=True)
    assert "Created the subscription policy Platinum." in text(resp)
    p = ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="Platinum")
    assert (p.limit_type, p.limit, p.time_unit, p.unit_time) == (LimitType.EVENTCOUNT, 100, "min", 1)
    assert p.is_streaming and p.throttle_action == "close" and p.display_name == "Platinum plan"
    event = AuditEvent.objects.get(action="policy.create")
    assert event.actor == admin and event.target_id == str(p.id)
    # The REST lists it as it lists the others, in WSO2's shape.
    rest = admin_client.get(f"{ADM}/throttling/policies/subscription").json()
    mine = next(x for x in rest["list"] if x["policyName"] == "Platinum")
    assert mine["defaultLimit"] == {
        "type": "EVENTCOUNTLIMIT",
        "eventCount": {"timeUnit": "min", "unitTime": 1, "eventCount": 100},
    }


def test_creating_an_application_policy_with_bandwidth_and_connections(admin_client):
    form = _form(policy_name="Wide", limit_type="BANDWIDTHLIMIT", amount="2", data_unit="MB", max_connections="3")
    admin_client.post("/admin-portal/policies/application/create", form)
    p = ThrottlingPolicy.objects.get(level=PolicyLevel.APPLICATION, name="Wide")
    assert (p.limit_type, p.limit, p.max_connections) == (LimitType.BANDWIDTH, 2 * 1024 * 1024, 3)
    assert "2 MB per min" in text(admin_client.get("/admin-portal/policies?level=application"))


@pytest.mark.parametrize(
    "overrides,field_error",
    [
        ({"policy_name": "has spaces"}, "Use letters, digits, - and _ only: no spaces or other signs."),
        ({"unit_time": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"unit_time": "20000"}, "Ensure this value is less than or equal to 10000."),
        ({"amount": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"time_unit": "fortnight"}, "Select a valid choice."),
        ({"policy_name": "AsyncGold"}, "A subscription policy named 'AsyncGold' already exists"),
    ],
)
def test_bad_input_is_explained_on_the_form_and_creates_nothing(admin_client, overrides, field_error):
    before = ThrottlingPolicy.objects.count(), AuditEvent.objects.count()
    resp = admin_client.post("/admin-portal/policies/subscription/create", _form(**overrides))
    assert resp.status_code == 200
    assert field_error in text(resp)
    assert 'role="alert"' in resp.content.decode()
    assert (ThrottlingPolicy.objects.count(), AuditEvent.objects.count()) == before


def test_editing_a_policy_changes_its_limit_but_not_its_name(admin_client):
    gold = ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="AsyncGold")
    page = text(admin_client.get(f"/admin-portal/policies/{gold.id}"))
    assert 'value="50000"' in page and "Edit AsyncGold" in page
    resp = admin_client.post(
        f"/admin-portal/policies/{gold.id}/update",
        _form(policy_name="Renamed", amount="70000", time_unit="day", throttle_action="drop"),
        follow=True,
    )
    assert "Saved the subscription policy AsyncGold." in text(resp)
    gold.refresh_from_db()
    assert (gold.name, gold.limit, gold.time_unit, gold.throttle_action) == ("AsyncGold", 70000, "day", "drop")
    assert AuditEvent.objects.filter(action="policy.update", target_id=str(gold.id)).count() == 1


def test_an_edit_with_bad_input_shows_the_form_again_and_changes_nothing(admin_client):
    gold = ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="AsyncGold")
    resp = admin_client.post(f"/admin-portal/policies/{gold.id}/update", _form(unit_time="0"))
    assert resp.status_code == 200 and "Ensure this value is greater than or equal to 1." in text(resp)
    gold.refresh_from_db()
    assert gold.limit == 50000 and not AuditEvent.objects.exists()


def test_deleting_an_unused_policy(admin_client, admin):
    bronze = ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="AsyncBronze")
    resp = admin_client.post(f"/admin-portal/policies/{bronze.id}/delete", follow=True)
    assert "Deleted the subscription policy AsyncBronze." in text(resp)
    assert not ThrottlingPolicy.objects.filter(pk=bronze.pk).exists()
    assert AuditEvent.objects.get(action="policy.delete").detail == {"level": "subscription", "name": "AsyncBronze"}


@pytest.mark.parametrize(
    "level,name,said",
    [
        ("subscription", "AsyncGold", "used by 1 API offering it as a plan (Chat 1.0.0); 1 subscription (DanaApp"),
        ("application", "20PerMin", "used by 1 application (DanaApp of dana)"),
        ("advanced", "50KPerMin", "used by 1 API limited by it (Chat 1.0.0)"),
        ("application", "Unlimited", "used by the rate limit of new applications"),
        ("subscription", "AsyncUnlimited", "the plan new APIs offer when none is chosen"),
    ],
)
def test_a_policy_in_use_is_not_deleted_and_the_page_says_by_what(admin_client, in_use, level, name, said):
    policy = ThrottlingPolicy.objects.get(level=level, name=name)
    before = AuditEvent.objects.count()
    resp = admin_client.post(f"/admin-portal/policies/{policy.id}/delete", follow=True)
    page = text(resp)
    assert f"The {level} policy {name} is in use, so it cannot be deleted" in page and said in page
    assert ThrottlingPolicy.objects.filter(pk=policy.pk).exists()
    assert AuditEvent.objects.count() == before


def test_rest_delete_refuses_a_policy_in_use_with_409_naming_the_users(admin_client, in_use):
    gold = ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="AsyncGold")
    resp = admin_client.delete(f"{ADM}/throttling/policies/subscription/{gold.id}")
    assert resp.status_code == 409
    body = resp.json()
    assert body["code"] == 409 and "DanaApp → Chat 1.0.0" in body["description"]
    assert ThrottlingPolicy.objects.filter(pk=gold.pk).exists()


def test_rest_delete_removes_an_unused_policy_and_404s_after(admin_client):
    bronze = ThrottlingPolicy.objects.get(level=PolicyLevel.SUBSCRIPTION, name="AsyncBronze")
    url = f"{ADM}/throttling/policies/subscription/{bronze.id}"
    assert admin_client.delete(url.replace("subscription", "application")).status_code == 404  # wrong level
    assert admin_client.delete(url).status_code == 200
    assert not ThrottlingPolicy.objects.filter(pk=bronze.pk).exists()
    assert admin_client.delete(url).status_code == 404
    assert AuditEvent.objects.filter(action="policy.delete").count() == 1


def test_an_unknown_level_or_policy_is_not_found(admin_client):
    assert admin_client.get("/admin-portal/policies?level=advanced").status_code == 200
    assert admin_client.get("/admin-portal/policies?level=gold").status_code == 404
    assert admin_client.get("/admin-portal/policies/999999").status_code == 404
    assert admin_client.post("/admin-portal/policies/999999/delete").status_code == 404
    assert admin_client.post("/admin-portal/policies/gold/create", _form()).status_code == 404

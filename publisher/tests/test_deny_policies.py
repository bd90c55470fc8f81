"""Deny policies over Admin v4 REST, in WSO2's shape: create, read, enable and disable,
delete; each change audited and in the gateways' snapshot; bad input refused with the field
named and nothing changed. Through a real gateway: tests/test_deny_policies.py."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devportal import services as dp
from portal.models import AuditEvent
from publisher.models import DenyPolicy
from tests import factories
from tidegate.snapshot.builder import snapshot_build

pytestmark = pytest.mark.django_db

DENY = "/api/am/admin/v4/throttling/deny-policies"
ONE = "/api/am/admin/v4/throttling/deny-policy/"


@pytest.fixture
def admin():
    c = APIClient()
    c.force_authenticate(factories.user("root", roles=["admin"]))
    return c


@pytest.fixture
def world():
    """An API /chat/1.0.0 and alice's application ChatClient."""
    creator = factories.user("creator", roles=["creator", "publisher"])
    factories.api(creator, context="/chat")
    alice = factories.user("alice")
    dp.application_create(owner=alice, name="ChatClient")


def _deny(admin, body, expect=201):
    resp = admin.post(DENY, body, format="json")
    assert resp.status_code == expect, resp.content
    return resp.json()


def test_each_condition_type_is_created_in_wso2s_shape_and_reaches_the_snapshot(admin, world):
    bodies = [
        {"conditionType": "API", "conditionValue": "/chat/1.0.0"},
        {"conditionType": "APPLICATION", "conditionValue": "alice:ChatClient"},
        {"conditionType": "USER", "conditionValue": "alice"},
        {"conditionType": "IP", "conditionValue": {"fixedIp": "2001:DB8:0::1", "invert": True}},
        {"conditionType": "IP_RANGE", "conditionValue": {"startingIp": "10.0.0.1", "endingIp": "10.0.0.9"}},
    ]
    made = [_deny(admin, b) for b in bodies]
    assert [m["conditionValue"] for m in made] == [
        "/chat/1.0.0",
        "alice:ChatClient",
        "alice",
        {"fixedIp": "2001:db8::1", "invert": True},  # one address, one way of writing it
        {"startingIp": "10.0.0.1", "endingIp": "10.0.0.9", "invert": False},
    ]
    assert all(m["conditionStatus"] is True and m["conditionId"] for m in made)
    listed = admin.get(DENY).json()
    assert listed["count"] == 5 and listed["list"] == made
    assert admin.get(ONE + made[3]["conditionId"]).json() == made[3]

    snap = snapshot_build(environments=["Default"], version=1)
    assert [(d.kind, d.value, d.start_ip, d.end_ip, d.invert) for d in snap.deny] == [
        ("API", "/chat/1.0.0", "", "", False),
        ("APPLICATION", "alice:ChatClient", "", "", False),
        ("USER", "alice", "", "", False),
        ("IP", "", "2001:db8::1", "", True),
        ("IP_RANGE", "", "10.0.0.1", "10.0.0.9", False),
    ]
    assert AuditEvent.objects.filter(action="deny_policy.create").count() == 5


def test_disabling_enabling_and_deleting_are_audited_and_leave_the_snapshot(admin, world):
    made = _deny(admin, {"conditionType": "USER", "conditionValue": "alice"})
    url = ONE + made["conditionId"]

    off = admin.patch(url, {"conditionId": made["conditionId"], "conditionStatus": False}, format="json")
    assert off.status_code == 200 and off.json()["conditionStatus"] is False
    assert admin.get(url).json()["conditionStatus"] is False
    assert snapshot_build(environments=["Default"], version=1).deny == ()
    # Setting the status it has changes nothing and records nothing.
    assert admin.patch(url, {"conditionStatus": False}, format="json").status_code == 200
    assert admin.patch(url, {"conditionStatus": True}, format="json").json()["conditionStatus"] is True
    assert len(snapshot_build(environments=["Default"], version=1).deny) == 1

    assert admin.delete(url).status_code == 200
    assert admin.get(url).status_code == 404
    assert snapshot_build(environments=["Default"], version=1).deny == ()
    actions = list(AuditEvent.objects.filter(target_type="DenyPolicy").order_by("id").values_list("action", "detail"))
    assert [a for a, _ in actions] == [
        "deny_policy.create",
        "deny_policy.disable",
        "deny_policy.enable",
        "deny_policy.delete",
    ]
    assert actions[-1][1] == {"conditionType": "USER", "condition": "alice"}


def test_a_policy_can_be_created_disabled(admin, world):
    made = _deny(admin, {"conditionType": "USER", "conditionValue": "alice", "conditionStatus": False})
    assert made["conditionStatus"] is False
    assert snapshot_build(environments=["Default"], version=1).deny == ()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"conditionValue": "alice"}, "conditionType"),
        ({"conditionType": "HOST", "conditionValue": "alice"}, "conditionType"),
        ({"conditionType": "USER"}, "conditionValue"),
        ({"conditionType": "USER", "conditionValue": "nobody"}, "conditionValue"),
        ({"conditionType": "USER", "conditionValue": ""}, "conditionValue"),
        ({"conditionType": "USER", "conditionValue": ["alice"]}, "conditionValue"),
        ({"conditionType": "API", "conditionValue": "/chat/9.9.9"}, "conditionValue"),
        ({"conditionType": "API", "conditionValue": "/nowhere/1.0.0"}, "conditionValue"),
        ({"conditionType": "API", "conditionValue": "chat/1.0.0"}, "conditionValue"),
        ({"conditionType": "APPLICATION", "conditionValue": "alice:Nope"}, "conditionValue"),
        ({"conditionType": "APPLICATION", "conditionValue": "ChatClient"}, "conditionValue"),
        ({"conditionType": "APPLICATION", "conditionValue": "bob:ChatClient"}, "conditionValue"),
        ({"conditionType": "IP", "conditionValue": "10.0.0.1"}, "conditionValue"),
        ({"conditionType": "IP", "conditionValue": {"fixedIp": "10.0.0.256"}}, "conditionValue.fixedIp"),
        ({"conditionType": "IP", "conditionValue": {"fixedIp": "10.0.0.0/24"}}, "conditionValue.fixedIp"),
        ({"conditionType": "IP", "conditionValue": {}}, "conditionValue.fixedIp"),
        ({"conditionType": "IP", "conditionValue": {"fixedIp": "10.0.0.1", "invert": "yes"}}, "conditionValue.invert"),
        ({"conditionType": "IP", "conditionValue": {"fixedIp": "10.0.0.1", "endingIp": "x"}}, "conditionValue"),
        (
            {"conditionType": "IP_RANGE", "conditionValue": {"startingIp": "10.0.0.9", "endingIp": "10.0.0.1"}},
            "conditionValue.endingIp",
        ),
        (
            {"conditionType": "IP_RANGE", "conditionValue": {"startingIp": "10.0.0.1", "endingIp": "::1"}},
            "conditionValue.endingIp",
        ),
        (
            {"conditionType": "IP_RANGE", "conditionValue": {"startingIp": "bad", "endingIp": "10.0.0.1"}},
            "conditionValue.startingIp",
        ),
        ({"conditionType": "USER", "conditionValue": "alice", "conditionStatus": "true"}, "conditionStatus"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(admin, world, body, field):
    before = AuditEvent.objects.count()
    resp = admin.post(DENY, body, format="json")
    assert resp.status_code == 400, resp.content
    error = resp.json()
    assert error["code"] == 400 and error["error"][0]["field"] == field
    assert error["description"].startswith(field)
    assert DenyPolicy.objects.count() == 0 and AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "first, again",
    [
        ({"fixedIp": "10.0.0.1"}, {"fixedIp": "10.0.0.1", "invert": False}),
        ({"fixedIp": "2001:db8::1"}, {"fixedIp": "2001:DB8:0:0::1"}),
    ],
)
def test_the_same_condition_twice_is_a_conflict(admin, world, first, again):
    _deny(admin, {"conditionType": "IP", "conditionValue": first})
    before = AuditEvent.objects.count()
    resp = admin.post(DENY, {"conditionType": "IP", "conditionValue": again}, format="json")
    assert resp.status_code == 409 and "already exists" in resp.json()["description"]
    assert DenyPolicy.objects.count() == 1 and AuditEvent.objects.count() == before


def test_the_status_toggle_refuses_bad_input_and_unknown_ids(admin, world):
    made = _deny(admin, {"conditionType": "USER", "conditionValue": "alice"})
    url = ONE + made["conditionId"]
    before = AuditEvent.objects.count()
    for body, field in [
        ({}, "conditionStatus"),
        ({"conditionStatus": "false"}, "conditionStatus"),
        ({"conditionStatus": None}, "conditionStatus"),
        ({"conditionId": "", "conditionStatus": False}, "conditionId"),
        ({"conditionId": 7, "conditionStatus": False}, "conditionId"),
    ]:
        resp = admin.patch(url, body, format="json")
        assert resp.status_code == 400 and resp.json()["error"][0]["field"] == field, (body, resp.content)
    assert admin.patch(url, ["conditionStatus"], format="json").status_code == 400
    assert DenyPolicy.objects.get().enabled is True and AuditEvent.objects.count() == before
    missing = ONE + "00000000-0000-0000-0000-000000000000"
    assert admin.get(missing).status_code == 404
    assert admin.patch(missing, {"conditionStatus": False}, format="json").status_code == 404
    assert admin.delete(missing).status_code == 404
    assert admin.get(ONE + "not-a-uuid").status_code == 404


def test_only_admins_see_or_change_deny_policies(world):
    for roles in ((), ("creator",), ("publisher",)):
        c = APIClient()
        c.force_authenticate(factories.user("-".join(("u", *roles)), roles=list(roles)))
        assert c.get(DENY).status_code == 403
        assert c.post(DENY, {"conditionType": "USER", "conditionValue": "alice"}, format="json").status_code == 403
    assert DenyPolicy.objects.count() == 0

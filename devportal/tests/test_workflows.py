"""Approval workflows (issue 19): subscriptions, applications and sign-ups waiting for an
administrator, decided over Admin v4 ``/workflows`` or the Admin Portal's Tasks, and what
their owners see and may do meanwhile. The gateway's side is in tests/test_workflow_gateway.py,
two decisions at once in tests/test_workflow_race.py."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from devportal.models import Application, Subscription, Workflow
from portal.models import AuditEvent, SiteSettings
from publisher.models import PolicyLevel, ThrottlingPolicy
from tests import factories

DEV = "/api/am/devportal/v3"
ADM = "/api/am/admin/v4"
PUB = "/api/am/publisher/v4"
PASSWORD = "pw-Secret-123"
pytestmark = pytest.mark.django_db


def _rest(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def _page(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _settings(**values):
    SiteSettings.objects.update_or_create(pk=1, defaults=values)


@pytest.fixture
def admin():
    return factories.user("root", roles=["admin"])


@pytest.fixture
def owner():
    return factories.user("owner", roles=["creator", "publisher"])


@pytest.fixture
def dev():
    return factories.user("dev")


@pytest.fixture
def gold_needs_approval():
    ThrottlingPolicy.objects.filter(level=PolicyLevel.SUBSCRIPTION, name="AsyncGold").update(requires_approval=True)


@pytest.fixture
def api(owner):
    return factories.published_api(owner)


def _subscribe(dev, api, plan="AsyncGold", app_name="Chatter"):
    c = _rest(dev)
    app = c.post(f"{DEV}/applications", {"name": app_name}, format="json").json()
    resp = c.post(
        f"{DEV}/subscriptions",
        {"applicationId": app["applicationId"], "apiId": str(api.id), "throttlingPolicy": plan},
        format="json",
    )
    assert resp.status_code == 201, resp.content
    return app, resp.json()


def _pending(admin, workflow_type=None):
    query = f"?workflowType={workflow_type}" if workflow_type else ""
    resp = _rest(admin).get(f"{ADM}/workflows{query}")
    assert resp.status_code == 200, resp.content
    return resp.json()["list"]


def _decide(admin, reference, status, description=""):
    return _rest(admin).post(
        f"{ADM}/workflows/update-workflow-status?workflowReferenceId={reference}",
        {"status": status, "description": description},
        format="json",
    )


# ------------------------------------------------------------------ subscriptions


def test_a_subscription_on_a_plan_that_requires_approval_waits_and_is_listed_for_admins(
    admin, dev, api, gold_needs_approval
):
    _, sub = _subscribe(dev, api, plan="AsyncGold")
    assert sub["status"] == "ON_HOLD"
    _, free = _subscribe(dev, api, plan="AsyncUnlimited", app_name="Free")
    assert free["status"] == "UNBLOCKED"  # another plan: no approval

    listed = _pending(admin, "AM_SUBSCRIPTION_CREATION")
    assert [w["properties"]["subscriptionId"] for w in listed] == [sub["subscriptionId"]]
    info = listed[0]
    assert info["workflowType"] == "SUBSCRIPTION_CREATION" and info["workflowStatus"] == "CREATED"
    assert info["requestedBy"] == "dev" and info["decidedBy"] is None
    assert {"referenceId", "createdTime", "updatedTime", "description", "properties"} <= set(info)
    assert _pending(admin, "AM_APPLICATION_CREATION") == []
    one = _rest(admin).get(f"{ADM}/workflows/{info['referenceId']}").json()
    assert one == info


def test_approving_makes_the_subscription_usable_and_records_who_decided(admin, dev, api, gold_needs_approval):
    _, sub = _subscribe(dev, api)
    ref = _pending(admin)[0]["referenceId"]
    resp = _decide(admin, ref, "APPROVED", "Paid up")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["workflowStatus"] == "APPROVED" and body["decidedBy"] == "root" and body["comment"] == "Paid up"
    assert _rest(dev).get(f"{DEV}/subscriptions/{sub['subscriptionId']}").json()["status"] == "UNBLOCKED"
    assert _pending(admin) == []
    record = AuditEvent.objects.get(action="workflow.approve")
    assert record.actor.username == "root"
    assert record.detail["referenceId"] == ref and record.detail["comment"] == "Paid up"


def test_approving_twice_answers_the_same_and_records_one_decision(admin, dev, api, gold_needs_approval):
    _subscribe(dev, api)
    ref = _pending(admin)[0]["referenceId"]
    first = _decide(admin, ref, "APPROVED", "ok")
    again = _decide(admin, ref, "APPROVED", "ok again")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert AuditEvent.objects.filter(action__startswith="workflow.", action__endswith="approve").count() == 1


def test_the_other_decision_on_a_decided_request_is_409_and_changes_nothing(admin, dev, api, gold_needs_approval):
    _, sub = _subscribe(dev, api)
    ref = _pending(admin)[0]["referenceId"]
    assert _decide(admin, ref, "REJECTED", "No").status_code == 200
    before = AuditEvent.objects.count()
    resp = _decide(admin, ref, "APPROVED")
    assert resp.status_code == 409
    assert resp.json()["code"] == 409 and "already rejected by root" in resp.json()["description"]
    assert Subscription.objects.get(pk=sub["subscriptionId"]).status == "REJECTED"
    assert AuditEvent.objects.count() == before


def test_an_unknown_or_malformed_reference_and_a_bad_decision_are_refused(admin, dev, api, gold_needs_approval):
    _subscribe(dev, api)
    ref = _pending(admin)[0]["referenceId"]
    unknown = _decide(admin, "8d3c5f0e-0000-4000-8000-000000000000", "APPROVED")
    assert unknown.status_code == 404 and unknown.json()["message"] == "Not Found"
    assert _rest(admin).get(f"{ADM}/workflows/8d3c5f0e-0000-4000-8000-000000000000").status_code == 404
    assert _decide(admin, "not-a-uuid", "APPROVED").status_code == 400
    missing = _rest(admin).post(f"{ADM}/workflows/update-workflow-status", {"status": "APPROVED"}, format="json")
    assert missing.status_code == 400 and "workflowReferenceId" in missing.json()["description"]
    bad = _decide(admin, ref, "CREATED")
    assert bad.status_code == 400 and bad.json()["error"][0]["field"] == "status"
    long = _decide(admin, ref, "APPROVED", "x" * 1001)
    assert long.status_code == 400
    unknown_type = _rest(admin).get(f"{ADM}/workflows?workflowType=AM_NOTHING")
    assert unknown_type.status_code == 400 and "workflowType" in unknown_type.json()["description"]
    assert _pending(admin)[0]["workflowStatus"] == "CREATED"
    assert not AuditEvent.objects.filter(action__in=["workflow.approve", "workflow.reject"]).exists()


def test_a_developer_cannot_see_or_decide_workflows(dev, api, gold_needs_approval):
    _subscribe(dev, api)
    ref = Workflow.objects.get().reference_id
    assert _rest(dev).get(f"{ADM}/workflows").status_code == 403
    assert _decide(dev, ref, "APPROVED").status_code == 403
    assert Workflow.objects.get().status == "CREATED"


def test_a_rejected_subscription_cannot_be_removed_replanned_or_unblocked(admin, owner, dev, api, gold_needs_approval):
    app, sub = _subscribe(dev, api)
    sid = sub["subscriptionId"]
    _decide(admin, _pending(admin)[0]["referenceId"], "REJECTED", "Not for resale")
    c = _rest(dev)
    assert c.delete(f"{DEV}/subscriptions/{sid}").status_code == 409
    assert c.put(f"{DEV}/subscriptions/{sid}", {"throttlingPolicy": "AsyncUnlimited"}, format="json").status_code == 409
    again = c.post(
        f"{DEV}/subscriptions",
        {"applicationId": app["applicationId"], "apiId": str(api.id), "throttlingPolicy": "AsyncUnlimited"},
        format="json",
    )
    assert again.status_code == 409
    unblock = _rest(owner).post(f"{PUB}/subscriptions/unblock-subscription?subscriptionId={sid}")
    assert unblock.status_code == 409
    # Nor through the pages.
    page = _page(dev).post(f"/devportal/subscriptions/{sid}/unsubscribe", follow=True)
    assert "rejected by an administrator" in page.content.decode()
    assert Subscription.objects.get(pk=sid).status == "REJECTED"


def test_a_subscription_waiting_for_approval_may_be_withdrawn_and_its_request_goes(
    admin, dev, api, gold_needs_approval
):
    _, sub = _subscribe(dev, api)
    assert _rest(dev).delete(f"{DEV}/subscriptions/{sub['subscriptionId']}").status_code == 200
    assert _pending(admin) == []


def test_moving_onto_a_plan_that_requires_approval_is_refused(dev, api, gold_needs_approval):
    _, sub = _subscribe(dev, api, plan="AsyncUnlimited")
    resp = _rest(dev).put(
        f"{DEV}/subscriptions/{sub['subscriptionId']}", {"throttlingPolicy": "AsyncGold"}, format="json"
    )
    assert resp.status_code == 409 and "needs an administrator's approval" in resp.json()["description"]
    assert Subscription.objects.get(pk=sub["subscriptionId"]).throttling_policy == "AsyncUnlimited"


def test_subscription_approval_for_every_plan_is_a_setting(admin, dev, api):
    _settings(subscription_approval=True)
    _, sub = _subscribe(dev, api, plan="AsyncUnlimited")
    assert sub["status"] == "ON_HOLD"


def test_the_dev_portal_shows_the_state_and_the_administrators_comment(admin, dev, api, gold_needs_approval):
    app, sub = _subscribe(dev, api)
    page = _page(dev)
    waiting = page.get(f"/devportal/applications/{app['applicationId']}").content.decode()
    assert "ON_HOLD" in waiting and "Waiting for an administrator's approval" in waiting
    _decide(admin, _pending(admin)[0]["referenceId"], "REJECTED", "Gold is for partners")
    for url in (f"/devportal/applications/{app['applicationId']}", f"/devportal/apis/{api.id}"):
        html = page.get(url).content.decode()
        assert "REJECTED" in html and "Gold is for partners" in html, url


def test_the_plan_that_requires_approval_says_so_where_plans_are_chosen(owner, dev, api, gold_needs_approval):
    subscribe = _page(dev).get(f"/devportal/apis/{api.id}").content.decode()
    assert "AsyncGold (needs an administrator&#x27;s approval)" in subscribe
    plans = _page(owner).get(f"/publisher/apis/{api.id}/plans").content.decode()
    assert "needs an administrator's approval" in plans
    offered = _rest(dev).get(f"{DEV}/throttling-policies/subscription").json()["list"]
    assert {p["name"]: p["requiresApproval"] for p in offered}["AsyncGold"] is True


def test_requires_approval_is_set_over_the_admin_rest_for_business_plans_only(admin):
    c = _rest(admin)
    limit = {"type": "EVENTCOUNTLIMIT", "eventCount": {"timeUnit": "min", "unitTime": 1, "eventCount": 10}}
    made = c.post(
        f"{ADM}/throttling/policies/subscription",
        {"policyName": "Partner", "defaultLimit": limit, "requiresApproval": True},
        format="json",
    )
    assert made.status_code == 201 and made.json()["requiresApproval"] is True
    assert ThrottlingPolicy.objects.get(name="Partner").requires_approval
    refused = c.post(
        f"{ADM}/throttling/policies/application",
        {"policyName": "AppX", "defaultLimit": limit, "requiresApproval": True},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["error"][0]["field"] == "requiresApproval"
    assert not ThrottlingPolicy.objects.filter(name="AppX").exists()


# ------------------------------------------------------------------ applications


def test_a_new_application_waits_and_gets_no_keys_until_approved(admin, dev):
    _settings(application_approval=True)
    c = _rest(dev)
    app = c.post(f"{DEV}/applications", {"name": "Waiting"}, format="json").json()
    assert app["status"] == "CREATED"
    keys = c.post(f"{DEV}/applications/{app['applicationId']}/generate-keys", {"keyType": "PRODUCTION"}, format="json")
    assert keys.status_code == 409
    assert "waiting for an administrator's approval" in keys.json()["description"]
    page = _page(dev).post(
        f"/devportal/applications/{app['applicationId']}/keys/generate", {"key_type": "PRODUCTION"}, follow=True
    )
    assert "waiting for an administrator&#x27;s approval" in page.content.decode()
    assert not Application.objects.get(pk=app["applicationId"]).oauth_clients.exists()

    [wf] = _pending(admin, "AM_APPLICATION_CREATION")
    assert wf["properties"]["applicationName"] == "Waiting"
    assert _decide(admin, wf["referenceId"], "APPROVED").status_code == 200
    assert c.get(f"{DEV}/applications/{app['applicationId']}").json()["status"] == "APPROVED"
    keys = c.post(f"{DEV}/applications/{app['applicationId']}/generate-keys", {"keyType": "PRODUCTION"}, format="json")
    assert keys.status_code == 200 and keys.json()["consumerSecret"]


def test_a_rejected_application_never_gets_keys_or_test_keys(admin, dev, owner):
    api = factories.published_api(owner)
    _settings(application_approval=True)
    c = _rest(dev)
    app = c.post(f"{DEV}/applications", {"name": "Nope"}, format="json").json()
    _decide(admin, _pending(admin)[0]["referenceId"], "REJECTED", "Duplicate of your other app")
    keys = c.post(f"{DEV}/applications/{app['applicationId']}/generate-keys", {"keyType": "SANDBOX"}, format="json")
    assert keys.status_code == 409 and "rejected" in keys.json()["description"]
    test_key = _page(dev).post(
        f"/devportal/apis/{api.id}/test-key", {"application": app["applicationId"], "key_type": "PRODUCTION"}
    )
    assert test_key.status_code == 200 and "rejected by an administrator" in test_key.content.decode()
    html = _page(dev).get(f"/devportal/applications/{app['applicationId']}").content.decode()
    assert "REJECTED" in html and "Duplicate of your other app" in html
    assert not Application.objects.get(pk=app["applicationId"]).oauth_clients.exists()


def test_applications_are_approved_at_once_when_the_workflow_is_off(dev):
    app = _rest(dev).post(f"{DEV}/applications", {"name": "Free"}, format="json").json()
    assert app["status"] == "APPROVED" and not Workflow.objects.exists()


# ------------------------------------------------------------------ sign-up


def _sign_up(username, password="pw-Newcomer-123"):
    return Client().post("/signup/", {"username": username, "password1": password, "password2": password})


def _sign_in(username, password="pw-Newcomer-123"):
    return Client().post("/login/", {"username": username, "password": password})


def test_a_held_sign_up_cannot_sign_in_until_approved_and_the_page_says_so(admin):
    _settings(signup_approval=True)
    made = _sign_up("newcomer")
    assert made.status_code == 200 and "waiting for an administrator" in made.content.decode()
    held = _sign_in("newcomer")
    assert held.status_code == 200 and "waiting for an administrator&#x27;s approval" in held.content.decode()
    # A wrong password, or a name nobody has, learns nothing more than a failed sign-in.
    for attempt in (_sign_in("newcomer", "wrong-Password-1"), _sign_in("nobody-here")):
        assert "did not match" in attempt.content.decode() and "approval" not in attempt.content.decode()

    [wf] = _pending(admin, "AM_USER_SIGNUP")
    assert wf["properties"]["userName"] == "newcomer"
    assert _decide(admin, wf["referenceId"], "APPROVED").status_code == 200
    signed_in = _sign_in("newcomer")
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"


def test_a_held_or_rejected_sign_up_is_not_let_in_around_its_request(admin):
    """Activating the account from the Users page or Admin REST would let it in while its
    request still waits (or after it was rejected): refused, saying where to decide it."""
    _settings(signup_approval=True)
    _sign_up("sidestep")
    held = get_user_model().objects.get(username="sidestep")
    rest = _rest(admin).post(f"/api/am/admin/v4/users/{held.username}/activate")
    assert rest.status_code == 409 and "Tasks" in rest.json()["description"]
    page = Client()
    page.force_login(admin)
    answer = page.post(f"/admin-portal/users/{held.pk}/activate", follow=True)
    assert "waits for approval" in answer.content.decode()
    held.refresh_from_db()
    assert not held.is_active and _sign_in("sidestep").status_code == 200

    _decide(admin, _pending(admin, "AM_USER_SIGNUP")[0]["referenceId"], "REJECTED")
    assert _rest(admin).post(f"/api/am/admin/v4/users/{held.username}/activate").status_code == 409
    held.refresh_from_db()
    assert not held.is_active


def test_a_rejected_sign_up_is_told_so_and_stays_out(admin):
    _settings(signup_approval=True)
    _sign_up("spammer")
    _decide(admin, _pending(admin)[0]["referenceId"], "REJECTED")
    refused = _sign_in("spammer")
    assert refused.status_code == 200 and "did not approve" in refused.content.decode()
    basic = APIClient()
    basic.credentials(HTTP_AUTHORIZATION="Basic c3BhbW1lcjpwdy1OZXdjb21lci0xMjM=")  # spammer:pw-Newcomer-123
    assert basic.get(f"{DEV}/applications").status_code == 401


def test_sign_ups_sign_in_at_once_when_the_workflow_is_off():
    made = _sign_up("walkin")
    assert made.status_code == 302 and not Workflow.objects.exists()


def test_a_request_whose_subject_is_gone_cannot_be_approved_but_can_be_closed(admin, owner, dev, gold_needs_approval):
    api = factories.published_api(owner, context="/gone")
    _subscribe(dev, api)
    ref = _pending(admin)[0]["referenceId"]
    Subscription.objects.all().delete()  # as deleting the API does
    resp = _decide(admin, ref, "APPROVED")
    assert resp.status_code == 409 and "no longer exists: reject it to close it" in resp.json()["description"]
    assert Workflow.objects.get().status == "CREATED"
    assert _decide(admin, ref, "REJECTED").status_code == 200
    assert _pending(admin) == []

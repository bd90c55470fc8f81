"""The Admin Portal's Tasks (approve or reject waiting requests, the decisions made) and
Settings (sign-up, which approvals are on, new APIs' default plans)."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from devportal import services as dp
from devportal.models import Workflow
from portal.models import AuditEvent, SiteSettings
from tests import factories

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def admin():
    return factories.user("root", roles=["admin"])


@pytest.fixture
def waiting(admin):
    """A subscription and an application waiting for approval."""
    SiteSettings.objects.update_or_create(pk=1, defaults={"subscription_approval": True, "application_approval": True})
    owner = factories.user("owner", roles=["creator", "publisher"])
    dev = factories.user("dev")
    api = factories.published_api(owner)
    app = dp.application_create(owner=dev, name="Partner")
    sub = dp.subscription_create(application=app, api=api, throttling_policy="AsyncGold", user=dev)
    return {"app": app, "sub": sub, "dev": dev, "api": api}


def _references(html: str) -> list[str]:
    return re.findall(r'data-reference="([0-9a-f-]{36})"', html)


def test_tasks_lists_each_kind_of_waiting_request(admin, waiting):
    html = _signed_in(admin).get("/admin-portal/tasks/").content.decode()
    subs = html.split('id="pending-AM_SUBSCRIPTION_CREATION"')[1].split("</section>")[0]
    apps = html.split('id="pending-AM_APPLICATION_CREATION"')[1].split("</section>")[0]
    assert "Subscription of Partner (dev) to Chat 1.0.0 with AsyncGold" in subs
    assert "Application Partner of dev" in apps
    assert "Nothing waiting." in html.split('id="pending-AM_USER_SIGNUP"')[1]
    assert "Approve" in subs and "Reject for good" in subs
    assert "No decisions yet." in html


def test_approving_on_the_tasks_page_applies_it_and_shows_it_in_the_history(admin, waiting):
    page = _signed_in(admin)
    wf = Workflow.objects.get(subject_id=str(waiting["sub"].id))
    done = page.post(
        f"/admin-portal/tasks/{wf.reference_id}/decide",
        {"status": "APPROVED", "comment": "Contract signed"},
        follow=True,
    )
    html = done.content.decode()
    assert "Approved: Subscription of Partner" in html
    history = html.split('id="history"')[1]
    assert str(wf.reference_id) in history and "Contract signed" in history and "root" in history
    waiting["sub"].refresh_from_db()
    assert waiting["sub"].status == "UNBLOCKED"
    assert str(wf.reference_id) not in html.split('id="history"')[0]  # no longer waiting
    assert AuditEvent.objects.filter(action="workflow.approve", actor=admin).count() == 1


def test_rejecting_on_the_tasks_page_is_final_and_a_second_decision_is_explained(admin, waiting):
    page = _signed_in(admin)
    wf = Workflow.objects.get(subject_id=str(waiting["app"].id))
    page.post(f"/admin-portal/tasks/{wf.reference_id}/decide", {"status": "REJECTED", "comment": "Use your other app"})
    waiting["app"].refresh_from_db()
    assert waiting["app"].status == "REJECTED"
    again = page.post(f"/admin-portal/tasks/{wf.reference_id}/decide", {"status": "APPROVED"}, follow=True)
    assert "already rejected by root" in again.content.decode()
    waiting["app"].refresh_from_db()
    assert waiting["app"].status == "REJECTED"
    assert AuditEvent.objects.filter(action__in=["workflow.approve", "workflow.reject"]).count() == 1


def test_a_decision_without_approve_or_reject_or_for_an_unknown_request_changes_nothing(admin, waiting):
    page = _signed_in(admin)
    wf = Workflow.objects.get(subject_id=str(waiting["sub"].id))
    odd = page.post(f"/admin-portal/tasks/{wf.reference_id}/decide", {"status": "MAYBE"}, follow=True)
    assert "status must be APPROVED or REJECTED" in odd.content.decode()
    assert page.post("/admin-portal/tasks/8d3c5f0e-0000-4000-8000-000000000000/decide").status_code == 404
    wf.refresh_from_db()
    assert wf.status == "CREATED"


def test_settings_turn_workflows_and_sign_up_on_and_off_and_are_audited(admin):
    page = _signed_in(admin)
    form = page.get("/admin-portal/settings/").content.decode()
    assert 'name="signup_enabled" checked' in form and 'name="signup_approval" >' in form.replace("  ", " ")
    saved = page.post(
        "/admin-portal/settings/save",
        {"signup_approval": "on", "subscription_approval": "on", "default_policies": ["AsyncGold", "AsyncSilver"]},
        follow=True,
    )
    assert "Saved the settings." in saved.content.decode()
    row = SiteSettings.objects.get()
    assert (row.signup_enabled, row.signup_approval, row.subscription_approval, row.application_approval) == (
        False,
        True,
        True,
        False,
    )
    assert row.default_policies == ["AsyncGold", "AsyncSilver"]
    record = AuditEvent.objects.get(action="settings.update")
    assert record.actor == admin and record.detail["signup_enabled"] == {"from": True, "to": False}
    # Sign-up off: the page is gone and the sign-in page no longer offers it.
    assert Client().get("/signup/").status_code == 404
    assert 'href="/signup/"' not in Client().get("/login/").content.decode()


@pytest.mark.parametrize(
    "plans, says",
    [([], "Choose at least one default business plan"), (["NoSuchPlan"], "Unknown business plan NoSuchPlan")],
)
def test_settings_refuse_default_plans_that_are_none_or_unknown_and_change_nothing(admin, plans, says):
    page = _signed_in(admin)
    page.get("/admin-portal/settings/")
    resp = page.post(
        "/admin-portal/settings/save", {"signup_enabled": "on", "signup_approval": "on", "default_policies": plans}
    )
    assert resp.status_code == 400 and says in resp.content.decode()
    assert 'name="signup_approval" checked' in resp.content.decode()  # what was sent stays on the form
    row = SiteSettings.objects.get()
    assert row.signup_approval is False and row.default_policies == ["AsyncUnlimited"]
    assert not AuditEvent.objects.filter(action="settings.update").exists()


def test_new_apis_offer_the_default_plans_from_settings(admin):
    creator = factories.user("maker", roles=["creator"])
    page = _signed_in(admin)
    page.post("/admin-portal/settings/save", {"signup_enabled": "on", "default_policies": ["AsyncBronze", "AsyncGold"]})
    rest = APIClient()
    rest.force_authenticate(creator)
    made = rest.post(
        "/api/am/publisher/v4/apis",
        {
            "name": "Plans",
            "context": "/plans",
            "version": "1.0.0",
            "endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:1/x"}},
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["policies"] == ["AsyncBronze", "AsyncGold"]
    named = rest.post(
        "/api/am/publisher/v4/apis",
        {
            "name": "Named",
            "context": "/named",
            "version": "1.0.0",
            "policies": ["AsyncUnlimited"],
            "endpointConfig": {"production_endpoints": {"url": "ws://127.0.0.1:1/x"}},
        },
        format="json",
    )
    assert named.json()["policies"] == ["AsyncUnlimited"]  # a creator's own choice wins

"""The Admin Portal's Deny policies section, through its pages: the list, a form per
condition type, errors shown on the form that was posted, enable, disable and delete."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from devportal import services as dp
from portal.models import AuditEvent
from publisher.models import DenyPolicy
from tests import factories
from tidegate.snapshot.builder import snapshot_build

pytestmark = pytest.mark.django_db

PAGE = "/admin-portal/deny-policies"


@pytest.fixture
def admin():
    creator = factories.user("creator", roles=["creator", "publisher"])
    factories.api(creator, context="/chat")
    dp.application_create(owner=factories.user("alice"), name="ChatClient")
    client = Client()
    client.force_login(factories.user("root", roles=["admin"]))
    return client


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.parametrize(
    "slug, form, shown",
    [
        ("api", {"api-api": "/chat/1.0.0"}, "/chat/1.0.0"),
        ("application", {"application-owner": "alice", "application-name": "ChatClient"}, "alice:ChatClient"),
        ("user", {"user-username": "alice"}, "alice"),
        ("ip", {"ip-address": "2001:db8::0:7", "ip-invert": "on"}, "every address except 2001:db8::7"),
        ("ip_range", {"ip_range-start": "10.0.0.1", "ip_range-end": "10.0.0.9"}, "10.0.0.1 to 10.0.0.9"),
    ],
)
def test_each_form_adds_a_policy_that_gateways_enforce(admin, slug, form, shown):
    page = admin.get(PAGE)
    assert page.status_code == 200 and "No deny policies" in _text(page)
    added = admin.post(f"{PAGE}/add/{slug}", form, follow=True)
    assert added.status_code == 200
    text = _text(added)
    assert f"<code>{shown}</code>" in text and "Enforced" in text and "gateways refuse it within a second" in text
    assert len(snapshot_build(environments=["Default"], version=1).deny) == 1
    assert AuditEvent.objects.filter(action="deny_policy.create").count() == 1


@pytest.mark.parametrize(
    "slug, form, field_error",
    [
        ("ip", {"ip-address": "10.0.0.300"}, "&#x27;10.0.0.300&#x27; is not an IPv4 or IPv6 address"),
        (
            "ip_range",
            {"ip_range-start": "10.0.0.9", "ip_range-end": "10.0.0.1"},
            "comes before the range&#x27;s first address",
        ),
        ("ip_range", {"ip_range-start": "10.0.0.1", "ip_range-end": "::1"}, "same IP version"),
        ("user", {"user-username": "nobody"}, "no user is named"),
        ("application", {"application-owner": "alice", "application-name": "Nope"}, "has no application named"),
        ("api", {"api-api": "/nowhere/1.0.0"}, "Select a valid choice"),
        ("user", {"user-username": ""}, "This field is required"),
    ],
)
def test_a_refused_form_shows_why_beside_what_was_typed_and_changes_nothing(admin, slug, form, field_error):
    before = AuditEvent.objects.count()
    page = admin.post(f"{PAGE}/add/{slug}", form)
    assert page.status_code == 400
    text = _text(page)
    assert field_error in text and 'class="field-error"' in text
    assert re.search(f'<article id="deny-{slug}">[^<]*<h3>[^<]*</h3>[^<]*<p[^>]*>[^<]*</p>[^<]*<details open>', text)
    for value in form.values():
        if value and value != "on":
            assert f'value="{value}"' in text or value in text
    assert DenyPolicy.objects.count() == 0 and AuditEvent.objects.count() == before


def test_the_same_policy_twice_is_refused_on_the_form(admin):
    admin.post(f"{PAGE}/add/user", {"user-username": "alice"})
    page = admin.post(f"{PAGE}/add/user", {"user-username": "alice"})
    assert page.status_code == 409 and "already exists" in _text(page)
    assert DenyPolicy.objects.count() == 1


def test_disable_enable_and_delete_from_the_list(admin):
    admin.post(f"{PAGE}/add/user", {"user-username": "alice"})
    policy = DenyPolicy.objects.get()
    text = _text(admin.get(PAGE))
    assert 'aria-label="Disable the deny policy on alice"' in text
    assert 'aria-label="Delete the deny policy on alice">Delete policy</button>' in text

    page = admin.post(f"{PAGE}/{policy.id}/disable", follow=True)
    assert "Disabled the deny policy on User alice: its clients may connect again." in _text(page)
    assert "Disabled</span>" in _text(page) and snapshot_build(environments=["Default"], version=1).deny == ()

    page = admin.post(f"{PAGE}/{policy.id}/enable", follow=True)
    assert "Enforced</span>" in _text(page) and len(snapshot_build(environments=["Default"], version=1).deny) == 1

    page = admin.post(f"{PAGE}/{policy.id}/delete", follow=True)
    assert "Deleted the deny policy on User alice" in _text(page) and "No deny policies" in _text(page)
    assert list(
        AuditEvent.objects.filter(target_type="DenyPolicy").order_by("id").values_list("action", flat=True)
    ) == [
        "deny_policy.create",
        "deny_policy.disable",
        "deny_policy.enable",
        "deny_policy.delete",
    ]
    assert admin.post(f"{PAGE}/{policy.id}/delete").status_code == 404


def test_an_unknown_condition_type_is_refused_with_a_message(admin):
    page = admin.post(f"{PAGE}/add/host", {"host-name": "x"}, follow=True)
    assert "There is no condition type &#x27;host&#x27;." in _text(page)
    assert DenyPolicy.objects.count() == 0


def test_the_section_is_in_the_admin_portals_navigation_and_for_admins_only(admin):
    assert 'href="/admin-portal/deny-policies"' in _text(admin.get("/admin-portal/"))
    other = Client()
    other.force_login(factories.user("dev"))
    assert other.get(PAGE).status_code == 403
    assert other.post(f"{PAGE}/add/user", {"user-username": "alice"}).status_code == 403
    assert DenyPolicy.objects.count() == 0

"""The Admin Portal's Users and roles section: search, deactivate and activate, grant and
take back roles; the last active admin stays, whichever way one tries to remove them."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from adminportal.tests.conftest import text
from devportal import services as dp
from keymanager.models import IssuedToken
from keymanager.server import token_issue
from keymanager.services import keys_generate, user_deactivate
from portal.errors import Conflict
from portal.models import AuditEvent
from portal.roles import has_role
from tests import factories

pytestmark = pytest.mark.django_db
User = get_user_model()


def _row(page: str, username: str) -> str:
    return page[page.index(f'id="user-{username}"') :].split("</tr>")[0]


@pytest.fixture
def people(admin):
    factories.user("alice", roles=["creator"])
    factories.user("bob", roles=["publisher"])
    carol = factories.user("carol")
    carol.is_active = False
    carol.save()
    return admin


def test_the_list_shows_users_with_their_roles_and_status(admin_client, people):
    page = text(admin_client.get("/admin-portal/users"))
    assert "4 users." in page
    alice = _row(page, "alice")
    assert "creator ✕" in alice and "+ publisher" in alice and "+ admin" in alice and "active" in alice
    assert "Deactivate alice" in alice
    carol = _row(page, "carol")
    assert "deactivated" in carol and "Activate carol" in carol
    root = _row(page, "root")
    assert "(you)" in root and "Deactivate root" not in root  # no button to lock oneself out


@pytest.mark.parametrize(
    "query,found",
    [
        ("q=ali", {"alice"}),
        ("role=publisher", {"bob"}),
        ("role=admin", {"root"}),
        ("active=no", {"carol"}),
        ("active=yes&role=creator", {"alice"}),
        ("q=nobody", set()),
    ],
)
def test_searching_users(admin_client, people, query, found):
    page = text(admin_client.get(f"/admin-portal/users?{query}"))
    listed = {u for u in ("alice", "bob", "carol", "root") if f'id="user-{u}"' in page}
    assert listed == found
    if not found:
        assert "No user matches." in page


def test_granting_and_taking_back_a_role(admin_client, people, admin):
    alice = User.objects.get(username="alice")
    resp = admin_client.post(
        f"/admin-portal/users/{alice.pk}/roles/grant", {"role": "publisher", "back": "q=ali"}, follow=True
    )
    assert resp.redirect_chain[-1][0] == "/admin-portal/users?q=ali"
    assert "alice is now publisher." in text(resp)
    assert has_role(alice, "publisher")
    resp = admin_client.post(f"/admin-portal/users/{alice.pk}/roles/revoke", {"role": "creator"}, follow=True)
    assert "alice is no longer creator." in text(resp)
    assert set(alice.groups.values_list("name", flat=True)) == {"publisher"}
    events = list(AuditEvent.objects.order_by("id").values_list("action", "detail", "actor"))
    assert events == [
        ("user.role.grant", {"username": "alice", "role": "publisher"}, admin.pk),
        ("user.role.revoke", {"username": "alice", "role": "creator"}, admin.pk),
    ]


def test_an_unknown_role_is_refused_and_changes_nothing(admin_client, people):
    alice = User.objects.get(username="alice")
    resp = admin_client.post(f"/admin-portal/users/{alice.pk}/roles/grant", {"role": "superuser"}, follow=True)
    assert "Choose a role: creator, publisher, admin." in text(resp)
    assert list(alice.groups.values_list("name", flat=True)) == ["creator"] and not AuditEvent.objects.exists()


def test_the_last_admin_cannot_take_the_admin_role_from_themselves(admin_client, admin):
    resp = admin_client.post(f"/admin-portal/users/{admin.pk}/roles/revoke", {"role": "admin"}, follow=True)
    assert "root is the last active admin: taking the admin role from them would leave nobody" in text(resp)
    assert has_role(admin, "admin") and not AuditEvent.objects.exists()
    # With a second admin, it may.
    factories.user("second", roles=["admin"])
    resp = admin_client.post(f"/admin-portal/users/{admin.pk}/roles/revoke", {"role": "admin"}, follow=True)
    assert resp.status_code == 403  # no longer an admin: the page that follows is not theirs
    assert not has_role(User.objects.get(pk=admin.pk), "admin")


def test_a_deactivated_admin_does_not_count_as_another_admin(admin_client, admin):
    other = factories.user("dormant", roles=["admin"])
    other.is_active = False
    other.save()
    page = text(admin_client.post(f"/admin-portal/users/{admin.pk}/roles/revoke", {"role": "admin"}, follow=True))
    assert "root is the last active admin" in page and has_role(admin, "admin")


def test_the_last_admin_cannot_be_deactivated_from_the_command_line_either(admin):
    with pytest.raises(CommandError, match="root is the last active admin: deactivating them"):
        call_command("deactivate_user", "root", stdout=StringIO())
    with pytest.raises(Conflict):
        user_deactivate(user=admin, acting_user=None)
    with pytest.raises(CommandError, match="last active admin"):
        call_command("grant_role", "root", "admin", "--revoke", stdout=StringIO())
    admin.refresh_from_db()
    assert admin.is_active and has_role(admin, "admin") and not AuditEvent.objects.exists()


def test_a_superuser_keeps_the_admins_count_up(admin):
    """Superusers hold every role: with one active, the admin group's last member may go."""
    factories.user("boss", superuser=True)
    call_command("grant_role", "root", "admin", "--revoke", stdout=StringIO())
    assert not has_role(User.objects.get(pk=admin.pk), "admin")
    with pytest.raises(CommandError, match="boss is the last active admin"):
        call_command("deactivate_user", "boss", stdout=StringIO())


def _sign_in(username):
    return Client().post("/login/", {"username": username, "password": "pw-Secret-123"})


def test_deactivating_a_user_revokes_their_tokens_and_activating_lets_them_in(admin_client, people, admin):
    alice = User.objects.get(username="alice")
    app = dp.application_create(owner=alice, name="AliceApp")
    client, _ = keys_generate(application=app, key_type="PRODUCTION", grant_types=None, user=alice)
    token_issue(client=client)
    resp = admin_client.post(f"/admin-portal/users/{alice.pk}/deactivate", {"back": "q=alice"}, follow=True)
    assert "Deactivated alice: 1 token(s) revoked; gateways close their connections." in text(resp)
    alice.refresh_from_db()
    assert not alice.is_active and IssuedToken.objects.get(client=client).revoked
    assert "deactivated" in _row(text(resp), "alice")
    assert _sign_in("alice").status_code == 200  # the login page again, with its error

    resp = admin_client.post(f"/admin-portal/users/{alice.pk}/activate", follow=True)
    assert "Activated alice" in text(resp)
    assert _sign_in("alice").status_code == 302
    actions = list(AuditEvent.objects.filter(target_id=str(alice.pk)).values_list("action", flat=True))
    assert sorted(actions) == ["user.activate", "user.deactivate"]


def test_an_admin_cannot_deactivate_themselves_through_the_page(admin_client, admin):
    factories.user("second", roles=["admin"])
    page = text(admin_client.post(f"/admin-portal/users/{admin.pk}/deactivate", follow=True))
    assert "You cannot deactivate yourself; ask another administrator" in page
    admin.refresh_from_db()
    assert admin.is_active and not AuditEvent.objects.exists()


def test_an_unknown_user_is_not_found(admin_client, admin):
    assert admin_client.post(f"/admin-portal/users/{admin.pk}/roles/grant", {"role": "creator"}).status_code == 302
    assert admin_client.post("/admin-portal/users/999999/deactivate").status_code == 404
    assert admin_client.post("/admin-portal/users/999999/roles/grant", {"role": "creator"}).status_code == 404

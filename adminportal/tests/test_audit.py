"""The Admin Portal's Audit log: filtered by action, actor and object with the same query
as the Publisher's audit page, which gains the actor filter too."""

import pytest
from django.test import Client

from adminportal.tests.conftest import text
from portal.audit import audit_record
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(admin):
    alice = factories.user("alice", roles=["publisher"])
    audit_record(actor=admin, action="policy.create", target=alice, detail={"name": "Platinum"})
    audit_record(actor=alice, action="api.deploy", target=admin, detail={"env": "Default"})
    audit_record(actor=None, action="auth.lockout", target=alice, detail={})
    return {"alice": alice, "admin": admin}


def _actions(page: str) -> set[str]:
    table = page[page.index('id="audit-table"') :].split("</table>")[0]
    return {a for a in ("policy.create", "api.deploy", "auth.lockout") if f"<code>{a}</code>" in table}


@pytest.mark.parametrize(
    "query,shown",
    [
        ("", {"policy.create", "api.deploy", "auth.lockout"}),
        ("action=policy", {"policy.create"}),
        ("actor=alice", {"api.deploy"}),
        ("actor=system", {"auth.lockout"}),
        ("action=api&actor=root", set()),
    ],
)
def test_the_admin_audit_log_filters_by_action_and_actor(admin_client, log, query, shown):
    page = text(admin_client.get(f"/admin-portal/audit?{query}"))
    assert _actions(page) == shown
    if not shown:
        assert "Nothing recorded for this filter." in page


def test_filtering_by_object(admin_client, log):
    page = text(admin_client.get(f"/admin-portal/audit?target={log['alice'].pk}"))
    assert _actions(page) == {"policy.create", "auth.lockout"}


def test_the_publisher_audit_page_answers_the_same_filters(log):
    publisher = Client()
    publisher.force_login(log["alice"])
    for query in ("actor=alice", "action=policy", f"target={log['alice'].pk}"):
        mine = _actions(text(publisher.get(f"/publisher/audit?{query}")))
        admins = Client()
        admins.force_login(log["admin"])
        assert mine == _actions(text(admins.get(f"/admin-portal/audit?{query}"))), query

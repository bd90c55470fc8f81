"""The Admin Portal's Environments section: what is deployed where, create, delete; one in
use is not deleted (nor through the Admin REST) and the page names what runs on it."""

import pytest

from adminportal.tests.conftest import text
from portal.models import AuditEvent
from publisher.models import Environment
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployed(admin):
    return factories.published_api(factories.user("cre", roles=["creator", "publisher"]))


def _form(**overrides):
    return {
        "name": "Edge",
        "display_name": "Edge gateways",
        "host": "edge.example.com",
        "ws_port": "80",
        "wss_port": "443",
        **overrides,
    }


def test_the_list_names_the_apis_deployed_on_each_environment(admin_client, deployed):
    Environment.objects.create(name="Spare", display_name="Spare", vhost="spare.example")
    page = text(admin_client.get("/admin-portal/environments"))
    default = page[page.index('id="environment-Default"') :].split("</tr>")[0]
    assert "Chat 1.0.0 (REVISION 1)" in default and "In use" in default
    spare = page[page.index('id="environment-Spare"') :].split("</tr>")[0]
    assert "none" in spare and "Delete environment Spare" in spare


def test_creating_an_environment(admin_client, admin):
    resp = admin_client.post("/admin-portal/environments/create", _form(), follow=True)
    assert "Created the environment Edge." in text(resp)
    env = Environment.objects.get(name="Edge")
    assert (env.display_name, env.vhost, env.ws_port, env.wss_port) == ("Edge gateways", "edge.example.com", 80, 443)
    assert AuditEvent.objects.get(action="environment.create").actor == admin
    assert "ws://edge.example.com:80" in text(resp)


@pytest.mark.parametrize(
    "overrides,error",
    [
        ({"name": "no spaces allowed"}, "Use letters, digits, - and _ only: no spaces or other signs."),
        ({"host": "bad host!"}, "not a host name"),
        ({"ws_port": "70000"}, "Ensure this value is less than or equal to 65535."),
        ({"name": "Default"}, "An environment named 'Default' already exists"),
    ],
)
def test_bad_input_is_explained_and_creates_nothing(admin_client, overrides, error):
    before = Environment.objects.count()
    resp = admin_client.post("/admin-portal/environments/create", _form(**overrides))
    assert resp.status_code == 200 and error in text(resp)
    assert Environment.objects.count() == before and not AuditEvent.objects.exists()


def test_deleting_an_unused_environment(admin_client):
    spare = Environment.objects.create(name="Spare", display_name="Spare", vhost="spare.example")
    resp = admin_client.post(f"/admin-portal/environments/{spare.id}/delete", follow=True)
    assert "Deleted the environment Spare." in text(resp)
    assert not Environment.objects.filter(pk=spare.pk).exists()
    assert AuditEvent.objects.get(action="environment.delete").detail == {"name": "Spare"}


def test_an_environment_with_apis_deployed_is_not_deleted_and_the_page_names_them(admin_client, deployed):
    default = Environment.objects.get(name="Default")
    before = AuditEvent.objects.count()
    page = text(admin_client.post(f"/admin-portal/environments/{default.id}/delete", follow=True))
    assert "APIs are deployed on Default, so it cannot be deleted: Chat 1.0.0 (REVISION 1)." in page
    assert Environment.objects.filter(pk=default.pk).exists() and AuditEvent.objects.count() == before
    # The Admin REST refuses the same, with the same words.
    resp = admin_client.delete(f"/api/am/admin/v4/environments/{default.id}")
    assert resp.status_code == 409 and "Chat 1.0.0 (REVISION 1)" in resp.json()["description"]
    assert AuditEvent.objects.count() == before

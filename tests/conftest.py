import pytest
import requests

from tests import flow
from tests.flow import CHAT
from tests.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The portal, the gateway (Uvicorn) and the echo backend, as real processes."""
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def admin_http(stack):
    """A REST session authenticated with HTTP Basic as the demo admin, as scripts would."""
    session = requests.Session()
    session.auth = ("admin", "admin")
    session.base = stack.portal_url
    return session


@pytest.fixture(scope="session")
def chat(stack, admin_http):
    """The Chat API imported, deployed and published, and an application subscribed to it."""
    api = flow.import_api(
        admin_http, CHAT.format(backend=stack.backend_url), context="/chat", policies=["AsyncUnlimited"]
    )
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, "ChatClient", api["id"])
    headers = {"Authorization": f"Bearer {app['token']}"}
    seconds = flow.wait_for_route(f"{stack.gateway_ws}/chat/1.0.0/notifications", headers)
    return {"api": api, "app": app, "headers": headers, "deploy_seconds": seconds}

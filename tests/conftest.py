import pytest

from testsupport import documents, flow
from testsupport.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The portal, the gateway (Uvicorn) and the echo backend, as real processes."""
    with Stack(tmp_path_factory.mktemp("stack")) as s:
        yield s
    # Every worker of a parallel run has a stack of its own and runs test_secrets_in_logs.py
    # perhaps before its other files: its logs, complete now, are checked again here.
    leaks = [
        path.name
        for path in s.data_dir.glob("*.log")
        if any(secret in path.read_text(errors="replace") for secret in flow.SECRETS)
    ]
    assert not leaks, f"these logs hold a token or secret the tests were given: {leaks}"


@pytest.fixture(scope="session")
def admin_http(stack):
    """A REST session authenticated with HTTP Basic as the demo admin, as scripts would."""
    return stack.session()


@pytest.fixture(scope="session")
def chat(stack, admin_http):
    """The Chat API imported, deployed and published, and an application subscribed to it."""
    api = flow.import_api(
        admin_http, documents.chat_doc(stack.backend_url), context="/chat", policies=["AsyncUnlimited"]
    )
    flow.deploy_and_publish(admin_http, api["id"])
    app = flow.application_with_token(admin_http, "ChatClient", api["id"])
    headers = {"Authorization": f"Bearer {app['token']}"}
    url = f"{stack.gateway_ws}/chat/1.0.0/notifications"
    first_status = flow.handshake_status(url, headers)[0]  # no waiting: the deploy is there already
    flow.wait_for_route(url, headers)
    return {"api": api, "app": app, "headers": headers, "first_status": first_status}

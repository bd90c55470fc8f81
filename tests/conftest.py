import pytest
import requests

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

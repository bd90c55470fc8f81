"""Issue 19 through the real stack: an admin deactivates a developer on the Admin Portal's
Users page (the form posted as the browser posts it, with its CSRF token), and the gateway
closes the developer's open connection with 4002."""

import re

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from testsupport import flow
from testsupport.stack import wait_until

pytestmark = pytest.mark.e2e


def _signed_in(stack, username: str = "admin", password: str = "admin") -> requests.Session:
    """A browser-like session signed in through the login page (CSRF token and cookie)."""
    web = requests.Session()
    page = web.get(f"{stack.portal_url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    resp = web.post(
        f"{stack.portal_url}/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        headers={"Referer": f"{stack.portal_url}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert resp.status_code == 302, resp.text[:500]
    return web


def test_deactivating_on_the_users_page_closes_their_connection_with_4002(stack, chat):
    session = flow.signed_up(stack, "gwen")
    app = flow.application_with_token(session, "gwen-app", chat["api"]["id"])
    url = f"{stack.gateway_ws}/chat/1.0.0/plain"
    wait_until(lambda: flow.handshake_status(url, app["headers"])[0] == 101, 5, what="subscription at the gateway")

    web = _signed_in(stack)
    page_url = f"{stack.portal_url}/admin-portal/users?q=gwen"
    page = web.get(page_url, timeout=30).text
    form = re.search(
        r'<form method="post" action="(/admin-portal/users/\d+/deactivate)">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"><input type="hidden" name="back" value="([^"]*)">'
        r"\s*<button[^>]*>Deactivate gwen</button>",
        page,
    )
    assert form, "no Deactivate form for gwen on the Users page"
    action, token, back = form.groups()

    with connect(url, additional_headers=app["headers"]) as ws:
        ws.send("still here")
        assert ws.recv(timeout=5) == "still here"
        resp = web.post(
            f"{stack.portal_url}{action}",
            data={"csrfmiddlewaretoken": token, "back": back},
            headers={"Referer": page_url},
            timeout=30,
        )
        assert resp.url == page_url and "Deactivated gwen" in resp.text
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                ws.recv(timeout=10)
    assert exc.value.rcvd.code == 4002, exc.value.rcvd
    status, _ = flow.handshake_status(url, app["headers"])
    assert status in (401, 403)

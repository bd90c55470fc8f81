"""Deny policies (issue 19) through a real gateway: a portal and a gateway of this module's
own (a deny policy holds for every API and client of a deployment, so none of it may reach
the other modules' shared stack), on free ports.

For each condition type (API, APPLICATION, USER, IP, IP_RANGE, and an inverted IP): an open
connection that the new policy matches is closed with 4004; a new handshake is refused with
403 and WSO2's 900805 before the backend is dialled, while a client the policy does not name
still gets in; disabling the policy (PATCH ``conditionStatus: false``) lets the very next
handshake in. Clients come from 127.0.0.1 or, bound to it as their source, 127.0.0.2: both
loopback, two addresses for the IP conditions to tell apart."""

from __future__ import annotations

import json
import os

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.stack import Stack, marked, wait_until

DENY = "/api/am/admin/v4/throttling/deny-policies"
ONE = "/api/am/admin/v4/throttling/deny-policy/"
HERE, OTHER = "127.0.0.1", "127.0.0.2"


@pytest.fixture(scope="module")
def deny_stack(tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("deny")) as stack:
        yield stack


@pytest.fixture(scope="module")
def world(deny_stack):
    """Two deployed APIs, /denied and /spared; admin's application DenyClient and bob's
    BobClient, both subscribed to both, each with a token."""
    stack = deny_stack
    admin = stack.session()
    apis = {}
    for context in ("/denied", "/spared"):
        api = flow.import_api(
            admin, documents.chat_doc(stack.backend_url), context=context, policies=["AsyncUnlimited"]
        )
        flow.deploy_and_publish(admin, api["id"])
        apis[context] = api["id"]
    mine = flow.application_with_token(admin, "DenyClient", apis["/denied"])
    bob = flow.signed_up(stack, "bob")
    bobs = flow.application_with_token(bob, "BobClient", apis["/denied"])
    for app, session in ((mine, admin), (bobs, bob)):
        flow.call(
            session,
            "POST",
            f"{flow.DEV}/subscriptions",
            201,
            json={"applicationId": app["id"], "apiId": apis["/spared"], "throttlingPolicy": "AsyncUnlimited"},
        )
    denied = f"{stack.gateway_ws}/denied/1.0.0/notifications"
    spared = f"{stack.gateway_ws}/spared/1.0.0/notifications"
    for url in (denied, spared):
        for app in (mine, bobs):
            assert flow.wait_for_route(url, app["headers"]) == 101
    return {"admin": admin, "mine": mine["headers"], "bob": bobs["headers"], "denied": denied, "spared": spared}


def handshake(url: str, headers: dict, source: str = HERE) -> tuple[int, dict | None]:
    try:
        with connect(url, additional_headers=headers, open_timeout=30, source_address=(source, 0)):
            return 101, None
    except InvalidStatus as exc:
        body = exc.response.body
        return exc.response.status_code, json.loads(body) if body else None


# (conditionType, conditionValue, the client it shuts out, one it does not) where a client is
# (url key, token key, source address).
CASES = {
    "API": ("API", "/denied/1.0.0", ("denied", "mine", HERE), ("spared", "mine", HERE)),
    "APPLICATION": ("APPLICATION", "admin:DenyClient", ("denied", "mine", HERE), ("denied", "bob", HERE)),
    "USER": ("USER", "bob", ("spared", "bob", HERE), ("spared", "mine", HERE)),
    "IP": ("IP", {"fixedIp": OTHER}, ("denied", "mine", OTHER), ("denied", "mine", HERE)),
    "IP_RANGE": (
        "IP_RANGE",
        {"startingIp": "127.0.0.0", "endingIp": HERE},
        ("spared", "bob", HERE),
        ("spared", "bob", OTHER),
    ),
    "inverted IP": ("IP", {"fixedIp": OTHER, "invert": True}, ("denied", "bob", HERE), ("denied", "bob", OTHER)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_deny_policy_closes_refuses_and_lets_in_again_once_disabled(deny_stack, world, case):
    condition_type, value, (url_key, who, source), (spared_url, spared_who, spared_source) = CASES[case]
    url, headers = world[url_key], world[who]
    admin = world["admin"]

    with connect(url, additional_headers=headers, open_timeout=30, source_address=(source, 0)) as ws:
        ws.send("before")
        assert ws.recv(timeout=10) == "before"
        made = flow.call(admin, "POST", DENY, 201, json={"conditionType": condition_type, "conditionValue": value})
        try:
            # Shutting a client out is eventual: the next pull (docs/gateway.md, Consistency).
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4004, "Blocked by a deny policy")

            refused_marker, tagged = marked(headers)
            status, body = handshake(url, tagged, source)
            assert status == 403, body
            assert (body["code"], body["error_message"]) == ("900805", "Message blocked")
            assert body["error_description"].startswith("You have been blocked from accessing the resource")

            # A client the policy does not name gets in; the refused one never reached the backend.
            spared_marker, tagged = marked(world[spared_who])
            assert handshake(world[spared_url], tagged, spared_source)[0] == 101
            deny_stack.backend_events(spared_marker)
            assert [c for c in deny_stack.backend_connections() if c.get("marker") == refused_marker] == []

            off = flow.call(admin, "PATCH", ONE + made["conditionId"], 200, json={"conditionStatus": False})
            assert off["conditionStatus"] is False
            # Letting a client in is read at once: the very next handshake.
            assert handshake(url, headers, source)[0] == 101
        finally:
            flow.call(admin, "DELETE", ONE + made["conditionId"], 200)


def test_an_enabled_policy_applies_again_and_deleting_it_lets_clients_in(deny_stack, world):
    admin, url, headers = world["admin"], world["denied"], world["mine"]
    made = flow.call(
        admin,
        "POST",
        DENY,
        201,
        json={"conditionType": "API", "conditionValue": "/denied/1.0.0", "conditionStatus": False},
    )
    try:
        assert handshake(url, headers)[0] == 101  # created disabled: nothing denied
        flow.call(admin, "PATCH", ONE + made["conditionId"], 200, json={"conditionStatus": True})
        wait_until(lambda: handshake(url, headers)[0] == 403, 10, what="the policy enabled at the gateway")
    finally:
        flow.call(admin, "DELETE", ONE + made["conditionId"], 200)
    assert handshake(url, headers)[0] == 101


def test_x_forwarded_for_does_not_make_a_client_someone_else(deny_stack, world):
    admin, url, headers = world["admin"], world["denied"], world["mine"]
    made = flow.call(admin, "POST", DENY, 201, json={"conditionType": "IP", "conditionValue": {"fixedIp": OTHER}})
    try:
        wait_until(lambda: handshake(url, headers, OTHER)[0] == 403, 10, what="the IP policy at the gateway")
        # Neither hiding behind another address nor framing one works: the peer is what counts.
        assert handshake(url, {**headers, "X-Forwarded-For": HERE}, OTHER)[0] == 403
        assert handshake(url, {**headers, "X-Forwarded-For": OTHER}, HERE)[0] == 101
    finally:
        flow.call(admin, "DELETE", ONE + made["conditionId"], 200)


SHOTS = os.environ.get("TIDEGATE_SCREENSHOTS", "")


def _shot(page, stack, name: str) -> None:
    for folder in filter(None, [str(stack.data_dir), SHOTS]):
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"deny-{name}.png"), full_page=True)


@pytest.mark.browser
def test_an_admin_denies_and_lets_in_again_from_the_admin_portal(deny_stack, world):
    """In Debian's chromium: a refused form explains itself, a new policy shuts the client
    out at the gateway, Disable lets it in, Delete policy removes it."""
    from playwright.sync_api import expect, sync_playwright

    from testsupport.browser import ARGS, CHROMIUM

    url, headers = world["denied"], world["mine"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_context(base_url=deny_stack.portal_url, viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(15_000)
        page.goto("/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("admin")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Admin Portal").click()
        page.get_by_role("link", name="Deny policies").first.click()
        expect(page.get_by_role("heading", name="Deny policies")).to_be_visible()
        _shot(page, deny_stack, "1-empty")

        form = page.locator("#deny-ip_range")
        form.get_by_text("Add a policy").click()
        form.get_by_label("From").fill("127.0.0.9")
        form.get_by_label("To").fill("127.0.0.1")
        form.get_by_role("button", name="Deny this range").click()
        expect(page.locator("#deny-ip_range .field-error")).to_contain_text("comes before the range's first address")
        _shot(page, deny_stack, "2-refused-range")

        form = page.locator("#deny-ip")
        form.get_by_text("Add a policy").click()
        form.get_by_label("IP address").fill(OTHER)
        form.get_by_role("button", name="Deny this address").click()
        expect(page.get_by_role("status")).to_contain_text(f"Denied IP address {OTHER}")
        _shot(page, deny_stack, "3-enforced")
        wait_until(lambda: handshake(url, headers, OTHER)[0] == 403, 10, what="the page's policy at the gateway")
        assert handshake(url, headers, HERE)[0] == 101

        page.get_by_role("button", name=f"Disable the deny policy on {OTHER}").click()
        expect(page.get_by_role("status")).to_contain_text("its clients may connect again")
        assert handshake(url, headers, OTHER)[0] == 101
        _shot(page, deny_stack, "4-disabled")

        page.get_by_role("button", name=f"Delete the deny policy on {OTHER}").click()
        expect(page.get_by_text("No deny policies")).to_be_visible()
        browser.close()

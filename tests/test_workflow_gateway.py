"""Approval workflows through a real gateway, decided in a real browser (Debian's chromium
driven by Playwright): a subscription on a plan that requires approval is refused at the
gateway (403, 900908) until an administrator approves it on the Admin Portal's Tasks page,
then connects; a rejected one stays refused, and its owner cannot undo the rejection."""

import uuid

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from testsupport import documents, flow
from testsupport.browser import portal_page, shot
from testsupport.stack import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DEV = flow.DEV
PUB = flow.PUB


@pytest.fixture(scope="module")
def browser_page(stack):
    with portal_page(stack) as page:
        yield page


@pytest.fixture(scope="module")
def approval_api(stack, admin_http):
    """A business plan that requires approval, and an API offering only it, published."""
    plan = f"Partner{uuid.uuid4().hex[:6]}"
    made = flow.event_policy(admin_http, "subscription", plan, 1000, requiresApproval=True)
    assert made["requiresApproval"] is True
    api = flow.import_api(
        admin_http, documents.chat_doc(stack.backend_url, "PartnerChat"), context="/partner", policies=[plan]
    )
    flow.deploy_and_publish(admin_http, api["id"])
    return {"api": api, "plan": plan, "url": f"{stack.gateway_ws}/partner/1.0.0/notifications"}


@pytest.fixture(scope="module")
def developer(stack):
    return flow.signed_up(stack, f"partnerdev{uuid.uuid4().hex[:6]}")


def _admin_signed_in(page):
    page.goto("/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Admin Portal")).to_be_visible()


def _decide_in_browser(page, stack, reference, button, comment, name):
    """On the Tasks page: the request's row, a comment, and the button pressed."""
    page.goto("/admin-portal/tasks/")
    row = page.locator(f'#pending-AM_SUBSCRIPTION_CREATION tr[data-reference="{reference}"]')
    expect(row).to_contain_text("PartnerChat 1.0.0")
    shot(page, stack, f"{name}-1-pending")
    row.get_by_label("Comment").fill(comment)
    row.get_by_role("button", name=button).click()
    expect(page.get_by_role("status").first).to_contain_text("Approved" if button == "Approve" else "Rejected")
    expect(page.locator(f'#history tr[data-reference="{reference}"]')).to_contain_text(comment)
    shot(page, stack, f"{name}-2-decided")


def _reference(stack, subscription_id) -> str:
    pending = flow.call(stack.session(), "GET", "/api/am/admin/v4/workflows?workflowType=AM_SUBSCRIPTION_CREATION")
    [found] = [w for w in pending["list"] if w["properties"]["subscriptionId"] == subscription_id]
    return found["referenceId"]


def _refusal_says(url, headers, words):
    """The gateway's 403 900908 for ``url`` once it names ``words`` (it has the subscription's state)."""

    def seen():
        status, body = flow.handshake_status(url, headers)
        return (status, body) if status == 403 and words in (body or {}).get("error_description", "") else None

    status, body = wait_until(seen, 30, what=f"403 saying {words!r}")
    assert body["code"] == "900908"
    return status


def test_a_subscription_on_an_approval_plan_connects_only_once_approved_in_the_admin_portal(
    stack, approval_api, developer, browser_page
):
    app = flow.application_with_token(developer, "PartnerApp", approval_api["api"]["id"], plan=approval_api["plan"])
    sub = flow.call(developer, "GET", f"{DEV}/subscriptions/{app['subscription']}")
    assert sub["status"] == "ON_HOLD"
    _refusal_says(approval_api["url"], app["headers"], "waiting for an administrator's approval")

    _admin_signed_in(browser_page)
    reference = _reference(stack, app["subscription"])
    _decide_in_browser(browser_page, stack, reference, "Approve", "Partner contract signed", "approve")

    wait_until(lambda: flow.handshake_status(approval_api["url"], app["headers"])[0] == 101, 30, what="101")
    with connect(approval_api["url"], additional_headers=app["headers"], open_timeout=30) as ws:
        ws.send("hello partner")
        assert ws.recv(timeout=30) == "hello partner"
    assert flow.call(developer, "GET", f"{DEV}/subscriptions/{app['subscription']}")["status"] == "UNBLOCKED"
    # Settings, where the workflows are switched: the plans that need approval say so.
    browser_page.goto("/admin-portal/settings/")
    expect(browser_page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(browser_page.locator('form[action="/admin-portal/settings/save"]')).to_contain_text(approval_api["plan"])
    shot(browser_page, stack, "settings")


def test_a_rejection_is_final_at_the_gateway_and_for_the_owner(
    stack, approval_api, developer, browser_page, admin_http
):
    app = flow.application_with_token(developer, "RefusedApp", approval_api["api"]["id"], plan=approval_api["plan"])
    _admin_signed_in(browser_page)
    reference = _reference(stack, app["subscription"])
    _decide_in_browser(browser_page, stack, reference, "Reject for good", "Resellers only", "reject")
    _refusal_says(approval_api["url"], app["headers"], "rejected by an administrator")

    sid = app["subscription"]
    flow.call(developer, "DELETE", f"{DEV}/subscriptions/{sid}", 409)
    flow.call(developer, "PUT", f"{DEV}/subscriptions/{sid}", 409, json={"throttlingPolicy": approval_api["plan"]})
    flow.call(
        developer,
        "POST",
        f"{DEV}/subscriptions",
        409,
        json={"applicationId": app["id"], "apiId": approval_api["api"]["id"], "throttlingPolicy": approval_api["plan"]},
    )
    flow.call(admin_http, "POST", f"{PUB}/subscriptions/unblock-subscription?subscriptionId={sid}", 409)
    decided = flow.call(
        admin_http,
        "POST",
        f"/api/am/admin/v4/workflows/update-workflow-status?workflowReferenceId={reference}",
        409,
        json={"status": "APPROVED"},
    )
    assert decided is not None and "already rejected" in decided["description"]
    assert flow.call(developer, "GET", f"{DEV}/subscriptions/{sid}")["status"] == "REJECTED"
    status, body = flow.handshake_status(approval_api["url"], app["headers"])
    assert (status, body["code"]) == (403, "900908")

    # The owner sees the state and the administrator's comment on the application page.
    page = browser_page
    page.context.clear_cookies()
    page.goto("/login/")
    page.get_by_label("Username").fill(developer.auth[0])
    page.get_by_label("Password").fill(developer.password)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/devportal/applications/{app['id']}")
    expect(page.locator("#subscriptions")).to_contain_text("REJECTED")
    expect(page.locator("#subscriptions")).to_contain_text("Resellers only")
    shot(page, stack, "reject-3-owner-sees-it")
    page.context.clear_cookies()

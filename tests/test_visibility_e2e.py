"""Visibility by role and anonymous browsing on a real portal and gateway (issue 22).

Restricting an API to roles blocks NEW subscriptions of those without one (the API is not
found for them) but, as in WSO2, the subscriptions they made before keep working: the
gateway goes on letting their tokens in (docs/publisher.md). And in Debian's chromium: a
visitor who is not signed in walks from the catalog to an API page, presses Subscribe,
signs up, and lands back on the API page, where Subscribe now works."""

import uuid

import pytest
from playwright.sync_api import expect, sync_playwright

from testsupport import documents, flow
from testsupport.browser import ARGS, CHROMIUM, shot

pytestmark = [pytest.mark.e2e]
DEV = flow.DEV
PUB = flow.PUB


def _published(stack, admin_http, title: str, context: str) -> dict:
    api = flow.import_api(admin_http, documents.chat_doc(stack.backend_url, title), context=context)
    flow.deploy_and_publish(admin_http, api["id"])
    return api


def _handshake(url, app) -> int:
    return flow.handshake_status(url, app["headers"])[0]


def test_restricting_an_api_blocks_new_subscriptions_but_existing_ones_keep_connecting(stack, admin_http):
    context = f"/vis{uuid.uuid4().hex[:6]}"
    api = _published(stack, admin_http, "Partners", context)
    url = f"{stack.gateway_ws}{context}/1.0.0/notifications"
    outsider = flow.signed_up(stack, f"outsider{uuid.uuid4().hex[:6]}")
    partner = flow.signed_up(stack, f"partner{uuid.uuid4().hex[:6]}", "publisher")
    before = flow.application_with_token(outsider, "Early", api["id"])
    assert flow.wait_for_route(url, before["headers"]) == 101

    flow.call(
        admin_http, "PUT", f"{PUB}/apis/{api['id']}", json={"visibility": "RESTRICTED", "visibleRoles": ["publisher"]}
    )
    # The outsider no longer finds the API, nor subscribes another application to it...
    assert api["id"] not in [a["id"] for a in flow.call(outsider, "GET", f"{DEV}/apis")["list"]]
    flow.call(outsider, "GET", f"{DEV}/apis/{api['id']}", 404)
    late = flow.call(outsider, "POST", f"{DEV}/applications", 201, json={"name": "Late"})
    refused = flow.call(
        outsider,
        "POST",
        f"{DEV}/subscriptions",
        404,
        json={"applicationId": late["applicationId"], "apiId": api["id"], "throttlingPolicy": "AsyncUnlimited"},
    )
    assert refused["code"] == 404
    # ...but the subscription made before still connects, and is still listed as theirs.
    assert _handshake(url, before) == 101
    mine = flow.call(outsider, "GET", f"{DEV}/subscriptions", params={"applicationId": before["id"]})["list"]
    assert [(s["apiId"], s["status"]) for s in mine] == [(api["id"], "UNBLOCKED")]
    # A holder of the role sees the API and subscribes; their token connects too.
    assert flow.call(partner, "GET", f"{DEV}/apis/{api['id']}")["id"] == api["id"]
    theirs = flow.application_with_token(partner, "PartnerApp", api["id"])
    assert _handshake(url, theirs) == 101
    # Anonymous visitors do not see it either.
    anon = stack.session()
    anon.auth = None
    flow.call(anon, "GET", f"{DEV}/apis/{api['id']}", 404)


@pytest.mark.browser
def test_a_visitor_walks_from_the_catalog_to_an_api_signs_up_from_subscribe_and_comes_back(stack, admin_http):
    title = f"Visitor{uuid.uuid4().hex[:6]}"
    api = _published(stack, admin_http, title, f"/{title.lower()}")
    flow.call(
        admin_http,
        "POST",
        f"{PUB}/apis/{api['id']}/documents",
        201,
        json={"name": "Getting started", "type": "HOWTO", "sourceType": "MARKDOWN", "inlineContent": "# First steps"},
    )
    username = f"visitor{uuid.uuid4().hex[:6]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(base_url=stack.portal_url, viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(15_000)
            page.goto("/")  # nobody signed in: the catalog, not the sign-in page
            expect(page).to_have_url(f"{stack.portal_url}/devportal/")
            page.get_by_label("Search APIs").fill(title.lower())
            page.get_by_role("button", name="Search").click()
            page.get_by_role("link", name=title, exact=True).click()
            api_page = f"{stack.portal_url}/devportal/apis/{api['id']}"
            expect(page).to_have_url(api_page)
            expect(page.locator("#overview")).to_contain_text("/notifications")
            shot(page, stack, "visibility-1-visitor-api-page")
            # The API's guide reads without an account too, and leads back to the API.
            page.get_by_role("link", name="Documentation", exact=True).click()
            page.locator("#api-documents").get_by_role("link", name="Getting started").click()
            expect(page.get_by_role("heading", name="First steps")).to_be_visible()
            page.go_back()
            expect(page).to_have_url(f"{api_page}#documentation")

            page.get_by_role("link", name="Subscribe", exact=True).click()
            page.locator("#subscribe").get_by_role("button", name="Sign in to subscribe").click()
            expect(page).to_have_url(f"{stack.portal_url}/login/?next=/devportal/apis/{api['id']}")
            page.get_by_role("link", name="Create a developer account").click()
            page.get_by_label("Username").fill(username)
            page.locator("input[name=password1]").fill("A-long-enough-pass-42")
            page.locator("input[name=password2]").fill("A-long-enough-pass-42")
            page.get_by_role("button", name="Create account").click()

            expect(page).to_have_url(api_page)
            expect(page.get_by_text(f"Welcome, {username}.")).to_be_visible()
            page.get_by_role("link", name="Subscribe", exact=True).click()
            subscribe = page.locator("#subscribe")
            subscribe.get_by_label("Business plan").select_option("AsyncUnlimited")
            subscribe.get_by_role("button", name="Subscribe").click()
            expect(page.get_by_text(f"DefaultApplication is subscribed to {title}")).to_be_visible()
            shot(page, stack, "visibility-2-subscribed-after-sign-up")
        finally:
            browser.close()

"""The Admin Portal's sections in Debian's chromium (Playwright): an admin creates a plan
from the Rate limits form, sees why an environment in use cannot be deleted, confirms a
deletion in two clicks, and filters the audit log by what they did."""

import pytest
from playwright.sync_api import expect, sync_playwright

from testsupport import flow
from testsupport.browser import ARGS, CHROMIUM, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def page(stack):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(base_url=stack.portal_url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def test_an_admin_manages_plans_and_environments_in_the_browser(page, stack, chat):
    page.goto("/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Admin Portal").first.click()
    page.get_by_role("navigation", name="Admin Portal sections").get_by_role("link", name="Rate limits").click()
    expect(page.get_by_role("heading", name="Rate-limiting policies")).to_be_visible()
    # The plan the Chat API offers says so and has no Delete.
    expect(page.locator("#policy-AsyncUnlimited")).to_contain_text("Chat 1.0.0")
    expect(page.locator("#policy-AsyncUnlimited")).to_contain_text("In use")

    page.locator("input[name=policy_name]").fill("Browser Plan")  # a space: refused, explained
    page.locator("input[name=amount]").fill("300")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("alert").first).to_contain_text("Use letters, digits, - and _ only")
    shot(page, stack, "admin-01-policy-form-error")
    page.locator("input[name=policy_name]").fill("BrowserPlan")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("status")).to_contain_text("Created the subscription policy BrowserPlan.")
    expect(page.locator("#policy-BrowserPlan")).to_contain_text("300 events per min")
    shot(page, stack, "admin-02-policies")

    # Deleting asks first: the button that deletes names what it deletes.
    row = page.locator("#policy-BrowserPlan")
    row.get_by_text("Delete…").click()
    shot(page, stack, "admin-03-policy-delete-confirm")
    row.get_by_role("button", name="Delete policy BrowserPlan").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted the subscription policy BrowserPlan.")

    page.get_by_role("navigation", name="Admin Portal sections").get_by_role("link", name="Environments").click()
    expect(page.locator("#environment-Default")).to_contain_text("Chat 1.0.0 (REVISION")
    expect(page.locator("#environment-Default")).to_contain_text("In use")
    shot(page, stack, "admin-04-environments")

    # Test JWKS on the portal's own JWKS URL: the answer, keys or the refusal, is on the page.
    page.get_by_role("navigation", name="Admin Portal sections").get_by_role("link", name="Key managers").click()
    page.locator("input[name=name]").fill("self")
    page.locator("input[name=issuer]").fill("https://self.example")
    page.locator("input[name=jwks_url]").fill(f"{stack.portal_url}/oauth2/jwks")
    page.get_by_role("button", name="Add key manager").click()
    expect(page.get_by_role("status")).to_contain_text("Added the key manager self")
    # The shared stack may hold other tests' key managers: act on this one's row only.
    row = page.locator("#key-managers-table tr").filter(has_text="https://self.example")
    row.get_by_role("button", name="Test JWKS").click()
    expect(page.locator("#jwks-result")).to_contain_text("JWKS of self")
    shot(page, stack, "admin-05-key-managers")
    page.locator("#key-managers-table tr").filter(has_text="https://self.example").get_by_text("Delete…").click()
    page.get_by_role("button", name="Delete key manager self").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted the key manager self")

    flow.signed_up(stack, "hana", "creator")
    page.get_by_role("navigation", name="Admin Portal sections").get_by_role("link", name="Users and roles").click()
    page.locator("#user-hana").get_by_role("button", name="+ publisher").click()
    expect(page.get_by_role("status")).to_contain_text("hana is now publisher.")
    expect(page.locator("#user-hana")).to_contain_text("publisher ✕")
    page.locator("#user-hana").get_by_text("Deactivate…").click()
    shot(page, stack, "admin-06-users")

    page.get_by_role("navigation", name="Admin Portal sections").get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("policy.delete")
    page.get_by_label("Who").fill("admin")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-table")).to_contain_text("BrowserPlan")
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)
    shot(page, stack, "admin-07-audit")

"""Two-factor sign-in in Debian's chromium (Playwright) against the real portal: a publisher
enrols from the QR code page (the code computed here from the secret the page shows, as an
authenticator app would), keeps the recovery codes shown once, then signs in with the
password and a code, then with a recovery code; HTTP Basic is refused for the account."""

import base64

import pytest
import requests
from django_otp.oath import totp
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


def code(secret: str, drift: int = 0) -> str:
    """What the authenticator app shows; ``drift=1``: the next step's, accepted as well, so a
    sign-in right after the enrolment never reuses the code that confirmed it."""
    return f"{totp(base64.b32decode(secret.replace(' ', '')), drift=drift):06d}"


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_publisher_enrols_and_signs_in_with_a_code_then_a_recovery_code(page, stack):
    session = flow.signed_up(stack, "tess", "publisher")
    sign_in(page, "tess", session.password)
    expect(page.get_by_role("heading", name="APIs")).to_be_visible()

    page.locator("header nav").get_by_role("link", name="Two-factor").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(page.locator("#two-factor-qr svg")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text()
    shot(page, stack, "2fa-01-enrol")
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("alert")).to_contain_text("does not match")
    page.get_by_label("Code from your authenticator app").fill(code(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor sign-in is on")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    shot(page, stack, "2fa-02-recovery-codes")

    # HTTP Basic cannot carry a code: refused for this account, with what to use instead.
    resp = requests.get(f"{stack.portal_url}/api/am/publisher/v4/apis", auth=("tess", session.password), timeout=30)
    assert resp.status_code == 401 and "OAuth2 tokens or API keys" in resp.json()["description"]

    sign_out(page)
    sign_in(page, "tess", session.password)
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    page.get_by_label("Code").fill("123456")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Code").fill(code(secret, drift=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="APIs")).to_be_visible()
    shot(page, stack, "2fa-03-signed-in")

    sign_out(page)
    sign_in(page, "tess", session.password)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="APIs")).to_be_visible()
    page.locator("header nav").get_by_role("link", name="Two-factor").click()
    expect(page.locator("#recovery-left")).to_have_text("9 unused recovery codes left.")

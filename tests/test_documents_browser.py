"""API documents and thumbnails in Debian's chromium (Playwright), on a real portal: a
provider writes hostile markdown in the Publisher's Documents tab, previews it, saves it,
uploads a thumbnail; a developer opens the document in the Dev Portal and nothing in it
runs (no dialog, no script, no handler, no javascript: link), and the thumbnail shows."""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from testsupport import documents, flow
from testsupport.browser import ARGS, CHROMIUM, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HOSTILE = """\
# Connecting

<script>window.__pwned = 'script'; alert('script')</script>

<img src="/nothing-here.png" onerror="window.__pwned = 'onerror'; alert('onerror')" alt="broken">

[Click me](javascript:window.__pwned='link';alert('link'))
<a id="raw-link" href="javascript:window.__pwned='raw';alert('raw')">Raw link</a>
<p onmouseover="window.__pwned='hover'" id="hover-me">Hover me</p>

See [the guide](https://example.com/guide).
"""


def _png(path) -> str:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), (20, 120, 200)).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return str(path)


@pytest.fixture(scope="module")
def browser_page(stack):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(base_url=stack.portal_url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def _inert(page, container: str) -> None:
    body = page.locator(container)
    expect(body.locator("script")).to_have_count(0)
    expect(body.locator("[onerror], [onmouseover], [onclick]")).to_have_count(0)
    expect(body.locator("a[href^='javascript' i]")).to_have_count(0)
    assert page.evaluate("() => window.__pwned === undefined")


def test_hostile_markdown_does_nothing_in_either_portal_and_the_thumbnail_shows(
    browser_page, stack, admin_http, tmp_path
):
    page = browser_page
    api = flow.import_api(
        admin_http,
        documents.chat_doc(stack.backend_url, title="Documented"),
        context="/documented",
        policies=["AsyncUnlimited"],
    )
    flow.deploy_and_publish(admin_http, api["id"])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto("/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/publisher/apis/{api['id']}")
    page.get_by_role("navigation", name="API sections").get_by_role("link", name="Documents").click()
    expect(page.get_by_role("heading", name="Add a document")).to_be_visible()

    page.locator("input[name=name]").fill("Connecting")
    page.locator("input[name=summary]").fill("How to connect")
    page.locator("select[name=sourceType]").select_option("MARKDOWN")
    page.locator("#document-markdown").fill(HOSTILE)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#document-preview h1")).to_have_text("Connecting")
    expect(page.locator("#document-preview a[href='https://example.com/guide']")).to_be_visible()
    _inert(page, "#document-preview")
    shot(page, stack, "documents-01-preview")
    page.get_by_role("button", name="Save document").click()
    expect(page.get_by_role("status")).to_contain_text("Saved document Connecting.")
    expect(page.locator("#document-table")).to_contain_text("How to connect")

    page.locator("input[name=file][accept]").set_input_files(_png(tmp_path / "thumb.png"))
    page.get_by_role("button", name="Upload thumbnail").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the thumbnail.")
    expect(page.locator("#api-thumbnail")).to_be_visible()
    assert page.locator("#api-thumbnail").evaluate("img => img.naturalWidth") == 24
    shot(page, stack, "documents-02-tab")

    developer = flow.signed_up(stack, "reader")
    page.context.clear_cookies()
    page.goto("/login/")
    page.get_by_label("Username").fill("reader")
    page.get_by_label("Password").fill(developer.password)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/devportal/")
    card = page.locator("article", has_text="Documented")
    expect(card.locator("img.api-thumbnail")).to_be_visible()
    card.get_by_role("link", name="Documented").click()
    assert page.locator("#api-thumbnail").evaluate("img => img.naturalWidth") == 24
    page.get_by_role("navigation", name="API sections").get_by_role("link", name="Documentation").click()
    page.locator("#api-documents").get_by_role("link", name="Connecting").click()
    expect(page.locator("#document-body h1")).to_have_text("Connecting")
    page.get_by_text("Hover me").hover()  # the sanitiser drops ids too: found by their text
    page.get_by_text("Raw link").click()
    page.get_by_text("Click me").click()
    _inert(page, "#document-body")
    shot(page, stack, "documents-03-devportal")
    assert dialogs == [], f"the markdown ran: {dialogs}"

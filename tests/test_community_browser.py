"""Categories, ratings and comments in a real browser against a real portal: an API put in a
category through REST is found by the catalog's category filter, rated with the stars and
discussed (comment, reply, edit) on its page. Screenshots of the catalog and the API page are
kept (``TIDEGATE_SCREENSHOTS``, e.g. /tmp/shots-i22/, and the stack's data directory)."""

import pytest
from playwright.sync_api import expect

from testsupport import documents, flow
from testsupport.browser import portal_page, shot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def page(stack):
    with portal_page(stack) as page:
        yield page


def test_find_an_api_by_category_rate_it_and_discuss_it(page, stack, admin_http):
    flow.call(admin_http, "POST", "/api/am/admin/v4/api-categories", 201,
              json={"name": "Market data", "description": "Prices and trades as they happen"})  # fmt: skip
    api = flow.import_api(
        admin_http,
        documents.chat_doc(stack.backend_url, title="Ticker"),
        context="/community-ticker",
        description="Live prices for every listed instrument, one message a tick.",
        tags=["prices", "realtime"],
        categories=["Market data"],
        policies=["AsyncUnlimited"],
    )
    flow.deploy_and_publish(admin_http, api["id"])

    page.goto("/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()

    page.goto("/devportal/")
    page.get_by_label("Category").select_option("Market data")
    page.get_by_role("button", name="Search").click()
    card = page.locator(f'article[data-api="{api["id"]}"]')
    expect(card).to_contain_text("Market data")
    expect(card).to_contain_text("Not rated yet")
    expect(page.locator("#catalog-filters")).to_contain_text("1 API in Market data")
    shot(page, stack, "catalog-by-category")

    card.get_by_role("link", name="Ticker").click()
    page.get_by_role("link", name="Ratings and comments").click()
    page.get_by_role("button", name="Rate 4 stars").click()
    expect(page.locator("#rating-summary")).to_contain_text("4.0 out of 5 from 1 rating")
    page.get_by_label("Add a comment").fill("Does the feed <b>resume</b> after a reconnect?")
    page.get_by_role("button", name="Post comment").click()
    comment = page.locator("li.comment").first
    expect(comment).to_contain_text("Does the feed <b>resume</b> after a reconnect?")  # text, not markup
    comment.locator("summary", has_text="Reply").click()
    comment.get_by_label("Reply to admin").fill("Yes: it picks up from the next tick.")
    comment.get_by_role("button", name="Reply").click()
    expect(page.locator("li.comment.reply")).to_contain_text("picks up from the next tick")
    shot(page, stack, "api-page-ratings-and-comments")

    page.goto("/devportal/")
    expect(page.locator(f'article[data-api="{api["id"]}"]')).to_contain_text("★ 4.0")
    shot(page, stack, "catalog")

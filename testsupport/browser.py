"""Real Chromium for the browser tests (Debian's ``chromium``, driven by Playwright; a browser
download does not work here): its launch arguments, a page on a stack's portal, screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def portal_page(stack) -> Iterator[Page]:
    """A page of a fresh browser on ``stack``'s portal (relative URLs go there), closed after."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(base_url=stack.portal_url, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def shot(page: Page, stack, name: str) -> None:
    """Keep a screenshot of a step next to the stack's logs (and in TIDEGATE_SCREENSHOTS if set)."""
    for folder in filter(None, [str(stack.data_dir), os.environ.get("TIDEGATE_SCREENSHOTS")]):
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)

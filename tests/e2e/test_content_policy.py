"""The Content-Security-Policy, in a real browser: it blocks nothing Stemdeck needs.

GIVEN `stemdeck api` (auth none) with the built web app, and Debian's chromium WHEN
the app's home page and /docs load THEN the browser reports no CSP violation, the
app renders, and Swagger UI, from the project's own files, lists the API's routes;
WHEN another site frames the app THEN the browser refuses to show it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from stemdeck.core.settings import Settings
from tests.e2e.pages import DESKTOP
from tests.integration.stack import Stack, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    with running_stack(settings, workers=0) as running:
        yield running


def _violations(page: Page) -> list[str]:
    found: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", note)
    return found


def test_the_app_and_the_docs_run_under_the_policy(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    violations = _violations(page)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url))

    page.goto(stack.base_url + "/")
    expect(page.get_by_role("banner")).to_be_visible()
    page.goto(stack.base_url + "/docs")
    expect(page.get_by_text("/api/jobs/{job_id}").first).to_be_visible(timeout=20_000)
    assert violations == []
    elsewhere = [url for url in outside if not url.startswith(stack.base_url + "/")]
    assert elsewhere == [], "the docs or the app reached beyond this server"

    # frame-ancestors 'none': the browser refuses to show the app inside another page.
    framing = context.new_page()
    with framing.expect_console_message(lambda m: "frame-ancestors" in m.text):
        framing.set_content(f'<iframe src="{stack.base_url}/"></iframe>')
    context.close()

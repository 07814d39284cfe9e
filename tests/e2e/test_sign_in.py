"""Signing in to the web app, in a real browser against a real accounts-mode stack.

GIVEN `stemdeck migrate` and `stemdeck api` with STEMDECK_AUTH=accounts and the first
admin from STEMDECK_ADMIN_EMAIL / STEMDECK_ADMIN_PASSWORD, and Debian's chromium
driven by Playwright, WHEN a musician opens the jobs page, THEN the app sends them to
sign in; a wrong password shows the server's message by the form; signing in brings
them back to the jobs page with their email in the navigation bar; a `next` that
points at another site lands on the app's home instead; a session ended on the server
mid-use sends them to sign in and back to the page they were on; and "Sign out" ends
at the sign-in page. Desktop and phone screenshots go to the artifacts dir.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.settings import Settings
from tests.e2e.pages import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DESKTOP,
    PHONE,
    accounts_stack,
    assert_finished_page,
    shot,
)
from tests.integration.stack import Stack

EMAIL = ADMIN_EMAIL
PASSWORD = ADMIN_PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    with accounts_stack(settings) as running:
        yield running


def sign_in(page: Page, password: str = PASSWORD) -> None:
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_come_back_and_sign_out(browser: Browser, stack: Stack) -> None:
    base = stack.base_url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    nav = page.get_by_role("banner")

    # Not signed in: the jobs page sends the browser to sign in, remembering itself.
    page.goto(base + "/jobs")
    expect(page).to_have_url(f"{base}/sign-in?next=%2Fjobs")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="Jobs", exact=True)).to_have_count(0)
    assert_finished_page(page)
    shot(page, "sign-in-desktop")

    # A wrong password: the server's own words, next to the form; still on sign-in.
    sign_in(page, "not the password at all")
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"\w"))
    message = page.get_by_role("alert").inner_text()
    assert "401" not in message, message
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    shot(page, "sign-in-refused-desktop")

    # Signed in: back on the jobs page, with who is signed in in the navigation bar.
    sign_in(page)
    expect(page).to_have_url(f"{base}/jobs")
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(nav.get_by_text(EMAIL)).to_be_visible()
    expect(page.get_by_role("heading", name="No jobs yet")).to_be_visible()
    assert_finished_page(page)
    shot(page, "jobs-signed-in-desktop")

    # Signed in already, the sign-in page moves on; a `next` off the app goes home instead.
    page.goto(base + "/sign-in?next=https%3A%2F%2Fevil.example%2F")
    expect(page).to_have_url(base + "/")
    page.goto(base + "/sign-in?next=%2F%2Fevil.example%2F")
    expect(page).to_have_url(base + "/")
    expect(page.get_by_role("heading", name="Split a song into stems")).to_be_visible()

    # The session ends on the server mid-use (signed out elsewhere): the next page's API
    # call answers 401, the app asks to sign in, and comes back to that page after.
    cookie = next(c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE)
    ended = httpx.post(f"{base}/api/auth/logout", cookies={SESSION_COOKIE: cookie})
    assert ended.status_code == 204, ended.text
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page).to_have_url(f"{base}/sign-in?next=%2Fjobs")
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    sign_in(page)
    expect(page).to_have_url(f"{base}/jobs")
    expect(nav.get_by_text(EMAIL)).to_be_visible()

    # Sign out: back at sign-in, and the server no longer knows this browser.
    nav.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/sign-in")
    expect(nav.get_by_text(EMAIL)).to_have_count(0)
    assert page.request.get(f"{base}/api/auth/me").status == 401
    context.close()

    # On a phone: the form, and the bar with who is signed in, fit the screen.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    small = phone.new_page()
    small.goto(base + "/")
    expect(small).to_have_url(f"{base}/sign-in")
    shot(small, "sign-in-phone")
    sign_in(small)
    expect(small.get_by_role("heading", name="Split a song into stems")).to_be_visible()
    for path, name in [("/", "new-job-signed-in"), ("/jobs", "jobs-signed-in")]:
        small.goto(base + path)
        expect(small.get_by_role("banner").get_by_text(EMAIL)).to_be_visible()
        small.wait_for_load_state("networkidle")
        overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is wider than a phone screen by {overflow}px"
        shot(small, f"{name}-phone")
    phone.close()

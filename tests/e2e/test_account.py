"""The Account page, in a real browser against a real accounts-mode stack.

GIVEN test_sign_in's accounts-mode stack (the first admin from the settings) and a
second user added by `stemdeck users add`, WHEN that user opens Account from the bar,
THEN each quota shows its usage; a token created on the page (its value read from the
page, shown once) lists jobs with httpx, and once revoked on the page the same call is
401; another device's session is named in plain words and signed out from the page; a
wrong current password is refused by its field, a new one ends the other sessions and
is the only one that signs in after; the first admin is told to change the setting
instead; and on a phone the page, the new token included, fits the screen, and "Sign
out everywhere" ends at sign-in. Desktop and phone screenshots go to the artifacts dir.
"""

from __future__ import annotations

import re
import subprocess
import sys
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

USER = "bo@example.com"
FIRST_PASSWORD = "bo's first long password"
NEW_PASSWORD = "bo's second, longer password"

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    with accounts_stack(settings) as running:
        yield running


def add_user(stack: Stack) -> None:
    added = subprocess.run(
        [sys.executable, "-m", "stemdeck.core.cli", "users", "add", USER, "--password-stdin"],
        env=stack.env,
        input=FIRST_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stdout + added.stderr


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def other_device(base: str, password: str) -> str:
    """A session signed in from elsewhere (a script), as its cookie."""
    answer = httpx.post(
        f"{base}/api/auth/login",
        json={"email": USER, "password": password},
        headers={"User-Agent": "curl/8.11.0"},
    )
    assert answer.status_code == 200, answer.text
    return answer.cookies[SESSION_COOKIE]


def signed_in(base: str, cookie: str) -> bool:
    return httpx.get(f"{base}/api/auth/me", cookies={SESSION_COOKIE: cookie}).status_code == 200


def test_account_page(browser: Browser, stack: Stack) -> None:
    base = stack.base_url
    add_user(stack)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    nav = page.get_by_role("banner")

    # Signed in, the bar leads to the Account page.
    page.goto(base + "/")
    sign_in(page, USER, FIRST_PASSWORD)
    nav.get_by_role("link", name="Account").click()
    expect(page).to_have_url(base + "/account")
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()

    # Usage against each quota, in words.
    usage = page.get_by_role("region", name="Usage")
    for title in ("Jobs at once", "Audio minutes per day", "Storage"):
        expect(usage.get_by_text(title)).to_be_visible()

    # A token made on the page works for a script, shown once.
    tokens = page.get_by_role("region", name="API tokens")
    tokens.get_by_label("Name").fill("e2e script")
    tokens.get_by_label("Stops working").select_option(label="In 7 days")
    tokens.get_by_role("button", name="Create token").click()
    expect(tokens.get_by_text("you will not see it again")).to_be_visible()
    token = tokens.get_by_label("Your new token").input_value()
    assert token.startswith("sdk_"), token
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{base}/api/jobs", headers=bearer).status_code == 200
    assert_finished_page(page)
    shot(page, "account-token-desktop")
    tokens.get_by_role("button", name="Done, I have copied it").click()
    expect(tokens.get_by_label("Your new token")).to_have_count(0)
    assert token not in page.content()

    # Listed with when it was last used; revoked on the page, the script is refused.
    page.reload()
    row = tokens.get_by_role("listitem").filter(has_text="e2e script")
    expect(row).to_contain_text("Last used just now")
    expect(row).to_contain_text("See your jobs, Submit and delete jobs")
    row.get_by_role("button", name="Revoke e2e script").click()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(tokens.get_by_text("e2e script")).to_have_count(0)
    assert httpx.get(f"{base}/api/jobs", headers=bearer).status_code == 401

    # Another device: named in plain words, signed out from here.
    elsewhere = other_device(base, FIRST_PASSWORD)
    page.reload()
    sessions = page.get_by_role("region", name="Where you are signed in")
    expect(sessions.get_by_text("This device")).to_be_visible()
    expect(sessions.get_by_text("Chrome on Linux")).to_be_visible()
    sessions.get_by_role("button", name="Sign out A program (curl)").click()
    expect(sessions.get_by_text("A program (curl)")).to_have_count(0)
    assert not signed_in(base, elsewhere)
    shot(page, "account-desktop")

    # The password: a wrong current one is refused by its field, in the server's words.
    elsewhere = other_device(base, FIRST_PASSWORD)
    password = page.get_by_role("region", name="Password")
    password.get_by_label("Current password").fill("not my password at all")
    password.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    password.get_by_label("New password again").fill(NEW_PASSWORD)
    password.get_by_role("button", name="Change password").click()
    expect(password.get_by_role("alert")).to_contain_text("current password is wrong")
    expect(password.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(base + "/account")
    # The right one: the other session ends, this one stays.
    password.get_by_label("Current password").fill(FIRST_PASSWORD)
    password.get_by_role("button", name="Change password").click()
    expect(password.get_by_text("Password changed")).to_be_visible()
    assert not signed_in(base, elsewhere)
    page.reload()
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()

    # Only the new password signs in now.
    nav.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(base + "/sign-in")
    sign_in(page, USER, FIRST_PASSWORD)
    expect(page.get_by_role("alert")).to_be_visible()
    sign_in(page, USER, NEW_PASSWORD)
    expect(nav.get_by_text(USER)).to_be_visible()
    context.close()

    # The first admin's password is the server's setting: the page says so.
    admin = browser.new_context(viewport=DESKTOP)
    admin_page = admin.new_page()
    admin_page.goto(base + "/account")
    expect(admin_page).to_have_url(re.compile(r"/sign-in\?next=%2Faccount$"))
    sign_in(admin_page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(admin_page).to_have_url(base + "/account")
    form = admin_page.get_by_role("region", name="Password")
    form.get_by_label("Current password").fill(ADMIN_PASSWORD)
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("New password again").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_role("alert")).to_contain_text("STEMDECK_ADMIN_PASSWORD")
    admin.close()

    # On a phone: the page, a new token's value included, fits the screen.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    small = phone.new_page()
    small.goto(base + "/account")
    sign_in(small, USER, NEW_PASSWORD)
    expect(small).to_have_url(base + "/account")
    small.get_by_label("Name").fill("phone")
    small.get_by_role("button", name="Create token").click()
    expect(small.get_by_label("Your new token")).to_be_visible()
    small.wait_for_load_state("networkidle")
    overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the Account page is wider than a phone screen by {overflow}px"
    shot(small, "account-phone")

    # Sign out everywhere: this device too, so the app goes to sign-in.
    small.get_by_role("button", name="Sign out everywhere").click()
    small.get_by_role("button", name="Yes, sign out everywhere").click()
    expect(small).to_have_url(base + "/sign-in")
    phone.close()

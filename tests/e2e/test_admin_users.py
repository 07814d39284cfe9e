"""The admin Users page and the invite page, in a real browser against a real
accounts-mode stack.

GIVEN test_sign_in's accounts-mode stack (the first admin from the settings), WHEN the
admin opens Users from the bar and invites someone, THEN the link shows once with Copy;
opened in a fresh browser, a password typed twice makes the account and lands signed in
on the jobs page, and the used link is refused after in plain words; the admin sets the
user's quotas (a typed 0 refused in favour of "unlimited"), makes them an admin, and
disables them, after which the user's next click goes to sign-in; an invite revoked on
the page disappears. On a phone the page, with a new link and the users as cards, fits
the screen. Desktop and phone screenshots go to the artifacts dir.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

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

INVITED = "cy@example.com"
PASSWORD = "cy's own long password"

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    with accounts_stack(settings) as running:
        yield running


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def invite(page: Page, email: str) -> str:
    """Invites `email` on the Users page; the link, read from the page."""
    invites = page.get_by_role("region", name="Invite someone")
    invites.get_by_label("Email").fill(email)
    invites.get_by_role("button", name="Invite").click()
    expect(invites.get_by_text("you will not see the link again")).to_be_visible()
    return invites.get_by_label("Invite link").input_value()


def test_admin_users_and_invites(browser: Browser, stack: Stack) -> None:
    base = stack.base_url
    admin = browser.new_context(viewport=DESKTOP)
    page = admin.new_page()
    page.goto(base + "/")
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.get_by_role("banner").get_by_role("link", name="Users").click()
    expect(page).to_have_url(base + "/admin/users")
    users = page.get_by_role("region", name="Accounts")
    me = users.get_by_role("rowgroup").filter(has_text=ADMIN_EMAIL)
    expect(me).to_contain_text("You")
    # Nobody can take the role of the first admin, themself least of all.
    expect(me.get_by_role("button", name=re.compile("Disable|Remove admin"))).to_have_count(0)

    # The link shows once, and is gone after Done.
    link = invite(page, INVITED)
    assert link.startswith(base + "/invite#"), link
    assert_finished_page(page)
    shot(page, "admin-users-invite-desktop")
    page.get_by_role("button", name="Done, I have copied it").click()
    expect(page.get_by_label("Invite link")).to_have_count(0)
    assert link not in page.content()
    waiting = page.get_by_role("list", name="Invites waiting to be used")
    expect(waiting).to_contain_text(INVITED)

    # A fresh browser: the link, a password twice, signed in on the jobs page.
    guest = browser.new_context(viewport=DESKTOP)
    newcomer = guest.new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="Accept invite")).to_be_visible()
    newcomer.get_by_label("Password", exact=True).fill(PASSWORD)
    newcomer.get_by_label("Password again").fill(PASSWORD + "!")
    newcomer.get_by_role("button", name="Make my account").click()
    expect(newcomer.get_by_role("alert")).to_have_text("The two passwords are not the same.")
    newcomer.get_by_label("Password again").fill(PASSWORD)
    newcomer.get_by_role("button", name="Make my account").click()
    expect(newcomer).to_have_url(base + "/jobs")
    expect(newcomer.get_by_role("banner").get_by_text(INVITED)).to_be_visible()
    expect(newcomer.get_by_role("banner").get_by_role("link", name="Users")).to_have_count(0)

    # The used link, opened again elsewhere, says so in plain words.
    again = browser.new_context(viewport=DESKTOP)
    late = again.new_page()
    late.goto(link)
    late.get_by_label("Password", exact=True).fill(PASSWORD)
    late.get_by_label("Password again").fill(PASSWORD)
    late.get_by_role("button", name="Make my account").click()
    expect(late.get_by_role("alert")).to_contain_text("Ask whoever invited you for a new link.")
    again.close()

    # The admin sees the new user; their quotas: a typed 0 refused, "unlimited" taken.
    page.reload()
    expect(waiting).to_have_count(0)
    row = users.get_by_role("rowgroup").filter(has_text=INVITED)
    expect(row).to_contain_text("default limit")
    row.get_by_role("button", name=f"Edit quotas of {INVITED}").click()
    quotas = row.get_by_role("form", name=f"Quotas of {INVITED}")
    quotas.get_by_label("Jobs at once").fill("0")
    quotas.get_by_label("Storage").fill("unlimited")
    quotas.get_by_role("button", name="Save quotas").click()
    expect(quotas.get_by_role("alert")).to_contain_text("type “unlimited”")
    quotas.get_by_label("Jobs at once").fill("2")
    quotas.get_by_role("button", name="Save quotas").click()
    expect(quotas).to_have_count(0)
    expect(row).to_contain_text("0 of 2")
    expect(row).to_contain_text("no limit")

    # Make admin asks first; Disable asks first, then the user's next click is sign-in.
    row.get_by_role("button", name=f"Make admin {INVITED}").click()
    row.get_by_role("button", name="Yes, make admin").click()
    expect(row.get_by_role("cell").nth(0)).to_have_text("Admin")
    row.get_by_role("button", name=f"Disable {INVITED}").click()
    row.get_by_role("button", name="Yes, disable").click()
    expect(row).to_contain_text("Disabled")
    shot(page, "admin-users-desktop")
    newcomer.get_by_role("banner").get_by_role("link", name="Account").click()
    expect(newcomer).to_have_url(re.compile(r"/sign-in\?next=%2Faccount$"))
    guest.close()

    # An invite revoked on the page stops being listed.
    invite(page, "dee@example.com")
    page.get_by_role("button", name="Done, I have copied it").click()
    waiting.get_by_role("button", name="Revoke invite for dee@example.com").click()
    waiting.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_text("dee@example.com")).to_have_count(0)
    page.reload()
    expect(page.get_by_text("dee@example.com")).to_have_count(0)
    admin.close()

    # On a phone: the users as cards and a new link fit the screen.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    small = phone.new_page()
    small.goto(base + "/admin/users")
    sign_in(small, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(small).to_have_url(base + "/admin/users")
    invite(small, "eve@example.com")
    small.wait_for_load_state("networkidle")
    overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the Users page is wider than a phone screen by {overflow}px"
    shot(small, "admin-users-phone")
    phone.close()

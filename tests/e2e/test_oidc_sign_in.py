"""Signing in with an OpenID Connect provider, in a real browser.

GIVEN an accounts-mode stack (`stemdeck migrate`, `stemdeck api`) whose
STEMDECK_OIDC_ISSUER is panva's oidc-provider (OpenID Certified; tests/e2e/oidc_provider)
running on this machine with one user and Stemdeck registered as a client that must use
PKCE, and Debian's chromium driven by Playwright: the provider answers as "localhost"
and Stemdeck as 127.0.0.1, two sites, so the way back is a cross-site navigation as
with a real provider. WHEN a musician opens the jobs page, clicks "Sign in with Test
Provider" on the sign-in page and fills the provider's login and consent pages, THEN
they land back on the jobs page signed in, their email in the bar, with an account
made for them without a password (their domain is allowlisted). Cancelling at the
provider says so on the sign-in page in plain words. Under STEMDECK_OIDC_ONLY the page
offers the provider alone. Desktop and phone screenshots go to the artifacts dir.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, ViewportSize, expect
from sqlalchemy import select

from stemdeck.api.auth.principal import SESSION_COOKIE
from stemdeck.core.accounts.users import find_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import Identity
from stemdeck.core.settings import Settings
from tests.e2e.pages import DESKTOP, PHONE, accounts_stack, assert_finished_page, shot
from tests.integration.stack import Stack, free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "stemdeck"
CLIENT_SECRET = "the browser test's client secret"
LABEL = "Sign in with Test Provider"
USER_ID = "ada-at-provider"
EMAIL = "ada@band.example"


@contextmanager
def oidc_provider(port: int, redirect_uri: str, log: Path) -> Iterator[str]:
    """tests/e2e/oidc_provider/server.mjs on 127.0.0.1:``port``: its issuer URL."""
    assert (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir(), (
        "the test provider is not installed: make test runs npm ci in tests/e2e/oidc_provider"
    )
    issuer = f"http://localhost:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "ISSUER": issuer,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": redirect_uri,
        "USER_ID": USER_ID,
        "USER_EMAIL": EMAIL,
        "USER_NAME": "Ada",
    }
    with log.open("wb") as out:
        node = subprocess.Popen(
            ["node", "server.mjs"], cwd=PROVIDER_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def answers() -> bool:
            assert node.poll() is None, log.read_text()
            try:
                discovery = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
                return httpx.get(discovery, timeout=1).json()["issuer"] == issuer
            except httpx.TransportError:
                return False

        wait_until(answers, 30, lambda: f"the provider did not start: {log.read_text()}")
        yield issuer
    finally:
        node.terminate()
        node.wait(timeout=15)


@contextmanager
def stack_with_provider(settings: Settings, **extra_env: str) -> Iterator[tuple[Stack, str]]:
    # Stemdeck reads the provider's discovery document only when someone signs in, and
    # the provider must know Stemdeck's callback: Stemdeck starts first.
    port = free_port()
    issuer = f"http://localhost:{port}"
    oidc = {
        "STEMDECK_OIDC_ISSUER": issuer,
        "STEMDECK_OIDC_CLIENT_ID": CLIENT_ID,
        "STEMDECK_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "STEMDECK_OIDC_BUTTON_LABEL": LABEL,
        "STEMDECK_OIDC_ALLOWED_DOMAINS": "band.example",
    }
    with accounts_stack(settings, **oidc, **extra_env) as stack:
        callback = stack.base_url + "/api/auth/oidc/callback"
        with oidc_provider(port, callback, stack.log_dir / "oidc-provider.log") as running:
            yield stack, running


def local_only(context: BrowserContext) -> None:
    """Nothing leaves this machine (the provider's pages load a web font from afar)."""

    def route(request: Route) -> None:
        host = urlsplit(request.request.url).hostname
        if host in {"127.0.0.1", "localhost"}:
            request.continue_()
        else:
            request.abort()

    context.route("**/*", route)


def new_page(browser: Browser, viewport: ViewportSize, phone: bool = False) -> Page:
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    local_only(context)
    return context.new_page()


def at_provider(page: Page, issuer: str, name: str | None = None) -> None:
    """The provider's login page (any password), then its consent page if it asks."""
    expect(page).to_have_url(re.compile(re.escape(issuer + "/interaction/")))
    page.locator("input[name=login]").fill(USER_ID)
    page.locator("input[name=password]").fill("any password will do")
    if name:
        shot(page, f"{name}-provider-login")
    page.get_by_role("button", name="Sign-in").click()
    page.wait_for_load_state()
    if page.url.startswith(issuer):
        expect(page.get_by_role("button", name="Continue")).to_be_visible()
        page.get_by_role("button", name="Continue").click()


def fits_the_screen(page: Page, what: str) -> None:
    page.wait_for_load_state("networkidle")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} is wider than a phone screen by {overflow}px"


def test_sign_in_with_a_provider(browser: Browser, settings: Settings) -> None:
    with stack_with_provider(settings) as (stack, issuer):
        base = stack.base_url
        page = new_page(browser, DESKTOP)
        nav = page.get_by_role("banner")

        # Not signed in: the jobs page sends the browser to sign in, which offers both.
        page.goto(base + "/jobs")
        expect(page).to_have_url(f"{base}/sign-in?next=%2Fjobs")
        button = page.get_by_role("link", name=LABEL)
        expect(button).to_be_visible()
        expect(page.get_by_label("Password")).to_be_visible()
        assert_finished_page(page)
        shot(page, "oidc-sign-in-desktop")

        # Cancelled at the provider: back on sign-in, told so in words.
        button.click()
        expect(page).to_have_url(re.compile(re.escape(issuer + "/interaction/")))
        page.get_by_role("link", name="[ Cancel ]").click()
        expect(page).to_have_url(re.compile(re.escape(f"{base}/sign-in?")))
        alert = page.get_by_test_id("oidc-problem")
        expect(alert).to_contain_text("Signing in at Test Provider was cancelled")
        shot(page, "oidc-cancelled-desktop")

        # Signed in at the provider: back on the jobs page, the email in the bar.
        page.get_by_role("link", name=LABEL).click()
        at_provider(page, issuer, "oidc-desktop")
        expect(page).to_have_url(f"{base}/jobs")
        expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
        expect(nav.get_by_text(EMAIL)).to_be_visible()
        assert_finished_page(page)
        shot(page, "oidc-signed-in-desktop")

        cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        me = httpx.get(f"{base}/api/auth/me", cookies={SESSION_COOKIE: cookie["value"]})
        assert me.status_code == 200 and me.json()["user"]["email"] == EMAIL
        with session_scope(settings.effective_database_url) as session:
            user = find_user(session, EMAIL)
            assert user.password_hash is None and not user.is_admin
            identity = session.scalar(select(Identity).where(Identity.user_id == user.id))
            assert identity is not None and (identity.issuer, identity.subject) == (issuer, USER_ID)
        page.context.close()

        # On a phone: the page with both ways in fits, and signing in lands home.
        small = new_page(browser, PHONE, phone=True)
        small.goto(base + "/")
        expect(small).to_have_url(f"{base}/sign-in")
        expect(small.get_by_role("link", name=LABEL)).to_be_visible()
        fits_the_screen(small, "the sign-in page")
        shot(small, "oidc-sign-in-phone")
        small.get_by_role("link", name=LABEL).click()
        at_provider(small, issuer, "oidc-phone")
        expect(small).to_have_url(base + "/")
        expect(small.get_by_role("banner").get_by_text(EMAIL)).to_be_visible()
        fits_the_screen(small, "the home page signed in")
        shot(small, "oidc-signed-in-phone")
        small.context.close()


def test_oidc_only_offers_the_provider_alone(browser: Browser, settings: Settings) -> None:
    with stack_with_provider(settings, STEMDECK_OIDC_ONLY="true") as (stack, issuer):
        base = stack.base_url
        page = new_page(browser, PHONE, phone=True)
        page.goto(base + "/account")
        expect(page).to_have_url(f"{base}/sign-in?next=%2Faccount")
        expect(page.get_by_role("link", name=LABEL)).to_be_visible()
        expect(page.get_by_label("Password")).to_have_count(0)
        expect(page.get_by_label("Email")).to_have_count(0)
        assert_finished_page(page)
        fits_the_screen(page, "the OIDC-only sign-in page")
        shot(page, "oidc-only-sign-in-phone")
        page.get_by_role("link", name=LABEL).click()
        at_provider(page, issuer)
        expect(page).to_have_url(f"{base}/account")
        expect(page.get_by_role("banner").get_by_text(EMAIL)).to_be_visible()
        page.context.close()

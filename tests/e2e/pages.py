"""What every browser test shares: Debian's chromium, the artifacts folder, page checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize

from stemdeck.api.web import CHECKOUT_WEB_DIR
from stemdeck.core.settings import Settings
from tests.conftest import REPO
from tests.integration.stack import Stack, running_stack, settings_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(os.environ.get("STEMDECK_E2E_ARTIFACTS", REPO / "tests" / "e2e" / "artifacts"))
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
WIDE: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
SONG = "Music_Delta__80s_Rock"
ADMIN_EMAIL = "ana@example.com"
ADMIN_PASSWORD = "a long test password 7"


@contextmanager
def accounts_stack(settings: Settings, **extra_env: str) -> Iterator[Stack]:
    """`stemdeck migrate` and `stemdeck api` with STEMDECK_AUTH=accounts, as Compose runs
    them, the first admin being ADMIN_EMAIL / ADMIN_PASSWORD from the settings;
    ``extra_env``: more STEMDECK_* settings for the API."""
    assert (CHECKOUT_WEB_DIR / "index.html").is_file(), "the web app is not built: make web"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    accounts = {
        "STEMDECK_AUTH": "accounts",
        "STEMDECK_ADMIN_EMAIL": ADMIN_EMAIL,
        "STEMDECK_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    # The first admin exists only because `stemdeck migrate` read it from the settings.
    migrated = subprocess.run(
        [sys.executable, "-m", "stemdeck.core.cli", "migrate"],
        env=settings_env(settings, **accounts),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"first admin {ADMIN_EMAIL}" in migrated.stdout, migrated.stdout
    with running_stack(
        settings,
        workers=0,
        STEMDECK_AUTH="accounts",
        STEMDECK_ADMIN_EMAIL=ADMIN_EMAIL,
        STEMDECK_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **extra_env,
    ) as running:
        yield running


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    # From the top: a full-page capture of a scrolled page draws sticky bars mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)


def wait_in_page(page: Page, expression: str, timeout: float = 30_000) -> None:
    """Until ``expression`` is true in the page. Not page.wait_for_function: that compiles
    its expression with eval in the page, which the app's CSP (no 'unsafe-eval') refuses;
    page.evaluate goes through the debugging protocol, which CSP does not govern."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:g} s: {expression}")
        page.wait_for_timeout(50)


def player(page: Page, expression: str) -> Any:
    return page.evaluate(f"(() => {{ const p = window.stemdeckPlayer; return {expression}; }})()")


def assert_finished_page(page: Page) -> None:
    """Nothing a user would read as unfinished: placeholders, unnamed controls."""
    assert page.locator("[placeholder]").count() == 0
    text = page.locator("body").inner_text().lower()
    for word in ("lorem", "todo", "placeholder", "undefined", "nan"):
        assert word not in text.split(), word
    unnamed = page.evaluate(
        """[...document.querySelectorAll('button, a, input, [role=slider]')]
           .filter(e => !(e.getAttribute('aria-label') || e.textContent.trim()
                          || (e.labels && e.labels.length) || e.hidden))
           .map(e => e.outerHTML)"""
    )
    assert unnamed == [], unnamed


def choose_strategy(page: Page, name: str) -> None:
    """Pick a strategy by its name from the new-job page's full list ("All strategies")."""
    all_strategies = page.locator("details.all-strategies")
    if all_strategies.get_attribute("open") is None:
        all_strategies.locator("summary").click()
    page.locator(f"input[name=strategy][value={name}]").check()


def completed_job(stack: Stack, song: Path, strategy: str = "four-stems-dsp") -> dict[str, Any]:
    """``song`` uploaded and separated by a worker started for it: the job, completed."""
    stack.start_worker()
    with stack.client() as client, song.open("rb") as audio:
        created = client.post(
            "/api/jobs",
            files={"file": (song.name, audio, "audio/wav")},
            data={"strategy": strategy, "formats": "flac"},
        )
    assert created.status_code == 202, created.text
    job: dict[str, Any] = stack.wait_for(created.json()["id"])
    assert job["status"] == "completed", job
    return job

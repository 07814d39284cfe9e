"""The browser, started once per module of browser tests.

Not once per session: Playwright's sync API keeps an event loop running in the main
thread while it is open, and later tests that call asyncio.run() would find it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from stemdeck.api.web import CHECKOUT_WEB_DIR
from stemdeck.core.settings import Settings
from tests.e2e.pages import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, SONG
from tests.integration.stack import Stack, running_stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: bash scripts/browser.sh installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def excerpt(shared_audio: Path, tmp_path: Path) -> Path:
    """The song (a 6.8 s excerpt of it is what the shared folder holds), under a user's name."""
    path = tmp_path / "80s Rock.wav"
    path.write_bytes((shared_audio / SONG / "mixture.wav").read_bytes())
    return path


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    """The built web app on a real API with no worker: a test starts one when it wants
    its jobs to run. Modules that need another stack (accounts, S3) define their own."""
    # STEMDECK_TEST_WEB_DIR: a build of one's own, where others share the checkout's dist/.
    web = os.environ.get("STEMDECK_TEST_WEB_DIR")
    assert ((Path(web) if web else CHECKOUT_WEB_DIR) / "index.html").is_file(), (
        "the web app is not built: make web"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_stack(
        settings, workers=0, **({"STEMDECK_WEB_DIR": web} if web else {})
    ) as running:
        yield running

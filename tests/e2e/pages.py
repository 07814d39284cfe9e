"""What every browser test shares: Debian's chromium, the artifacts folder, page checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize

from tests.conftest import REPO

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
PHONE: ViewportSize = {"width": 390, "height": 844}


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    # From the top: a full-page capture of a scrolled page draws sticky bars mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)


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

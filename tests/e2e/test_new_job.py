"""The way in, as a musician meets it, on a desktop and on a phone.

GIVEN the built web app on the real API and a worker WHEN a musician opens the new-job
page THEN the song comes first: the choose button, the drop zone and the link field
are on the first screen, the ways to split are a few choices in plain words with their
time here, and one that cannot run is not offered. WHEN a song is chosen from the top
THEN its card follows the job in plain words and turns into "Open player". A failed
job's long error wraps on a phone instead of widening the page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import update

from stemdeck.core.db import session_scope
from stemdeck.core.models import Job
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus
from tests.e2e.pages import (
    ARTIFACTS,
    PHONE,
    WIDE,
    assert_finished_page,
)
from tests.integration.factories import queued_job
from tests.integration.stack import Stack

# What the page must never show a musician while a job runs.
MACHINE_WORDS = re.compile(r"\w+:\w+|uploading|encoding|decoding|four-stems-dsp")

pytestmark = pytest.mark.slow


def shot(page: Page, folder: Path, name: str) -> None:
    """Into the test's folder (to look at) and the artifacts folder (to keep)."""
    page.evaluate("window.scrollTo(0, 0)")
    for where in (folder, ARTIFACTS):
        page.screenshot(path=where / f"{name}.png", full_page=True)


def assert_above_the_fold(page: Page, viewport: ViewportSize) -> None:
    for control in (
        page.get_by_test_id("dropzone"),
        page.get_by_role("button", name="Choose a song"),
        page.get_by_label("link to the song"),
        page.get_by_role("button", name="Fetch and split"),
    ):
        box = control.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] < viewport["height"], (control, box)


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def worker_ready(stack: Stack) -> bool:
    with stack.client() as client:
        listed = {s["name"]: s for s in client.get("/api/strategies").json()}
    return bool(listed["four-stems-dsp"]["available"])


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["desktop", "phone"])
def test_upload_from_the_top_and_the_card_becomes_the_player(
    browser: Browser, stack: Stack, excerpt: Path, tmp_path: Path, viewport: ViewportSize
) -> None:
    stack.start_worker()
    stack.wait_until(lambda: worker_ready(stack), "the worker reports itself")
    with stack.client() as client:
        listed = {s["name"]: s for s in client.get("/api/strategies").json()}
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(stack.base_url + "/")
    expect(page.get_by_role("heading", name="Split a song into stems")).to_be_visible()
    assert_above_the_fold(page, viewport)

    # A few choices in plain words; one whose weights are not here cannot be picked.
    choices = page.locator(".choice")
    expect(choices).to_have_count(4)
    six = page.get_by_role("radio", name="Six stems")
    blocked = any(m["status"] == "missing" for m in listed["htdemucs_6s"]["models"])
    expect(six).to_be_disabled() if blocked else expect(six).to_be_enabled()
    if blocked:
        expect(page.locator(".choice.blocked").first).to_contain_text("Not installed")
    assert page_width(page) <= viewport["width"]
    shot(page, tmp_path, f"new-job-{viewport['width']}")

    # The instant strategy, from the full list: the song is split in seconds on a CPU.
    page.locator("summary", has_text="All strategies").click()
    page.locator("input[name=strategy][value=four-stems-dsp]").check()
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.locator(".using")).to_contain_text("Vocals, drums, bass, other")
    page.evaluate(
        """() => { window.cardLines = [];
           new MutationObserver(() => document.querySelectorAll('[data-testid=card-line]')
             .forEach(e => window.cardLines.push(e.textContent)))
           .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
    )
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose a song").click()
    chooser.value.set_files(excerpt)

    card = page.get_by_test_id("job-card")
    expect(card).to_have_count(1, timeout=60_000)
    open_player = card.get_by_role("link", name="Open player")
    expect(open_player).to_be_visible(timeout=180_000)
    expect(card).to_contain_text("Ready to play")
    expect(card).to_contain_text("vocals · drums · bass · other")
    lines = page.evaluate("window.cardLines")
    assert lines and all(not MACHINE_WORDS.search(line) for line in lines), lines
    box = open_player.bounding_box()
    assert box is not None and box["y"] + box["height"] < viewport["height"], box
    assert page_width(page) <= viewport["width"]
    assert_finished_page(page)
    shot(page, tmp_path, f"new-job-done-{viewport['width']}")

    job_id = card.get_attribute("data-job-id")
    open_player.click()
    expect(page).to_have_url(f"{stack.base_url}/jobs/{job_id}")
    context.close()


def test_a_long_error_wraps_on_a_phone(
    browser: Browser, stack: Stack, settings: Settings, excerpt: Path, tmp_path: Path
) -> None:
    """GIVEN a failed job whose error holds a long unbroken word (a file name, a code)
    THEN on a 390 px phone the jobs page is no wider than the screen, and Delete asks
    before it deletes."""
    job_id = queued_job(settings, excerpt)
    long_word = "Track_" + "x" * 200 + ".wav"
    error = f"The song could not be read: {long_word} is damaged. Export it again and upload it."
    with session_scope(settings.effective_database_url) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                status=JobStatus.failed,
                error=error,
                finished_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(stack.base_url + "/jobs")
    row = page.get_by_test_id("job-row")
    expect(row.get_by_role("alert")).to_contain_text("Export it again")
    assert page_width(page) <= PHONE["width"]
    shot(page, tmp_path, "jobs-long-error-390")

    row.get_by_role("button", name=f"Delete {excerpt.name}").click()
    expect(row).to_contain_text("This cannot be undone")
    assert page_width(page) <= PHONE["width"]
    shot(page, tmp_path, "jobs-delete-asks-390")
    row.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("heading", name="No jobs yet")).to_be_visible()
    with stack.client() as client:
        assert client.get(f"/api/jobs/{job_id}").status_code == 404
    context.close()

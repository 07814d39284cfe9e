"""A queue's place in line and the System page, in a real browser against the real
API and worker processes.

GIVEN `stemdeck api` with no worker yet and three songs sent, WHEN the jobs page
opens, THEN each says its place ("Next in line", "2nd in line", "3rd in line"); the
System page (linked in the bar for the admin, the local user here) says no worker is
running and three jobs wait. WHEN a worker starts, THEN it appears there as a card
(CPU, its jobs done counting up) and the queue empties. Desktop and phone screenshots
go to the artifacts dir.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pages import (
    DESKTOP,
    PHONE,
    SONG,
    assert_finished_page,
    shot,
)
from tests.integration.stack import Stack

pytestmark = pytest.mark.slow


def send_songs(stack: Stack, song: Path, count: int) -> list[str]:
    ids = []
    with stack.client() as client:
        for number in range(1, count + 1):
            files = {"file": (f"Song {number}.wav", song.read_bytes(), "audio/wav")}
            response = client.post("/api/jobs", files=files, data={"strategy": "four-stems-dsp"})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
    return ids


def fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_line_and_the_workers_show(browser: Browser, stack: Stack, shared_audio: Path) -> None:
    ids = send_songs(stack, shared_audio / SONG / "mixture.wav", 3)
    page = browser.new_page(viewport=DESKTOP)

    page.goto(stack.base_url + "/jobs")
    for job_id, place in zip(ids, ["Next in line", "2nd in line", "3rd in line"], strict=True):
        expect(page.locator(f"[data-job-id='{job_id}']")).to_contain_text(place)
    shot(page, "queue-jobs-desktop")

    page.get_by_role("link", name="System").click()
    expect(page.get_by_role("heading", name="System", level=1)).to_be_visible()
    expect(page.get_by_text("No worker is running")).to_be_visible()
    separations = page.get_by_test_id("queue").filter(has_text="Separations")
    expect(separations).to_contain_text("3 jobs waiting")
    expect(separations).to_contain_text("No worker takes these jobs.")

    stack.start_worker()
    worker = page.get_by_test_id("worker")
    expect(worker).to_have_count(1, timeout=120_000)  # the page asks again every 5 s
    expect(worker).to_contain_text("CPU")
    for job_id in ids:
        assert stack.wait_for(job_id)["status"] == "completed"
    expect(worker).to_contain_text("3 jobs done", timeout=30_000)
    expect(worker).to_contain_text("Idle, waiting for jobs")
    expect(worker).to_contain_text("builtin:")
    expect(separations).to_contain_text("Empty")
    assert_finished_page(page)
    shot(page, "system-desktop")

    page.set_viewport_size(PHONE)
    assert fits_the_screen(page), "the System page scrolls sideways on a phone"
    shot(page, "system-phone")
    page.close()

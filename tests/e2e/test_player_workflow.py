"""The player as a musician uses it, at a desktop's and a phone's size.

GIVEN the built web app on a real API, a job for an excerpt of a real song and Debian's
chromium, WHEN the player page is opened while the job still waits, THEN it shows the
job's progress live and becomes the player when a real worker completes it, with no
reload; and on that player Space always plays and pauses (also right after clicking M or
the loop button), End goes to the end, the part played is shaded, the help dialog keeps
focus, turning the loop on moves nothing, and on a phone the transport sits at the
bottom and every control is at least 44 px.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.queue import redis_connection
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus, Stage
from tests.e2e.pages import (
    ARTIFACTS,
    PHONE,
    WIDE,
    assert_finished_page,
    player,
    shot,
    wait_in_page,
)
from tests.integration.stack import Stack

pytestmark = pytest.mark.slow

STEMS = ["vocals", "drums", "bass", "other"]
SIZES = [pytest.param(WIDE, id="desktop"), pytest.param(PHONE, id="phone")]
TOUCH_PX = 44


def size_name(size: ViewportSize) -> str:
    return "phone" if size["width"] < 640 else "desktop"


def size_of(page: Page) -> str:
    viewport = page.viewport_size
    assert viewport is not None
    return size_name(viewport)


def submit(stack: Stack, excerpt: Path) -> str:
    """A job through the API, as the web app sends it; with no worker yet, it waits."""
    with stack.client() as client, excerpt.open("rb") as audio:
        created = client.post(
            "/api/jobs",
            files={"file": (excerpt.name, audio, "audio/wav")},
            data={"strategy": "four-stems-dsp", "formats": "flac,wav"},
        )
    assert created.status_code == 202, created.text
    job_id: str = created.json()["id"]
    return job_id


def open_page(browser: Browser, size: ViewportSize) -> Page:
    phone = size["width"] < 640
    context = browser.new_context(viewport=size, is_mobile=phone, has_touch=phone)
    return context.new_page()


@pytest.mark.parametrize("size", SIZES)
def test_player_waits_for_its_job_then_plays(
    browser: Browser, stack: Stack, settings: Settings, excerpt: Path, size: ViewportSize
) -> None:
    job_id = submit(stack, excerpt)
    page = open_page(browser, size)
    page.goto(f"{stack.base_url}/jobs/{job_id}")
    waiting = page.get_by_test_id("job-waiting")
    expect(waiting).to_have_attribute("data-status", "queued")
    expect(waiting).to_contain_text("Queued")
    expect(waiting).to_contain_text("in line")
    expect(waiting.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    # Set once: a reload would lose it.
    page.evaluate("window.openedOnce = true")

    # A worker's attempt, written as a worker writes it (through the lifecycle, whose
    # listeners tell the API's event stream): the page follows without a reload.
    redis = redis_connection(settings.require_redis_url())
    lifecycle = JobLifecycle(settings.effective_database_url, lifecycle_listeners(redis, settings))
    attempt = lifecycle.claim(job_id, JobStatus.running)
    assert attempt is not None
    assert lifecycle.progress(attempt, Stage.separating, "spleeter:2stems", 0.4)
    expect(waiting).to_have_attribute("data-status", "running")
    expect(waiting).to_contain_text("Separating vocals")
    expect(page.get_by_test_id("wait-percent")).to_have_text("40 %")
    expect(waiting.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "40")
    assert page.title().startswith("40 % · 80s Rock.wav")
    assert "spleeter" not in waiting.inner_text()
    assert_finished_page(page)
    page.wait_for_timeout(400)  # the bar's width eases in
    shot(page, f"player-waiting-{size_name(size)}")

    # That worker stops and hands the job back; a real one runs it to the end.
    assert lifecycle.hand_back(attempt)
    expect(waiting).to_have_attribute("data-status", "queued")
    stack.start_worker()
    expect(page.get_by_test_id("stem-row")).to_have_count(len(STEMS), timeout=180_000)
    assert page.evaluate("window.openedOnce") is True, "the page reloaded"
    expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
    assert page.title() == "80s Rock.wav · Stemdeck"

    check_space_after_clicking_controls(page)
    check_loop_moves_nothing(page)
    check_help_keeps_focus(page)
    if size["width"] < 640:
        check_phone_controls(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the player is wider than the screen by {overflow}px"
    page.context.close()


def clock(page: Page) -> float:
    position: float = player(page, "p.position()")
    return position


def check_space_after_clicking_controls(page: Page) -> None:
    """Space after clicking M plays and pauses, and never presses M again; the same after
    the loop button. End goes to the end; the part played is shaded."""
    mute = page.get_by_role("button", name="Mute drums")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Mute drums"

    page.keyboard.press("Space")
    expect(page.get_by_test_id("play")).to_have_text("Pause")
    start = player(page, "p.context.currentTime")
    wait_in_page(page, f"window.stemdeckPlayer.context.currentTime > {start + 0.6}", 10_000)
    assert clock(page) > 0.3, "the clock did not advance"
    expect(mute).to_have_attribute("aria-pressed", "true")

    page.keyboard.press("Space")
    expect(page.get_by_test_id("play")).to_have_text("Play")
    stopped = clock(page)
    page.wait_for_timeout(400)
    assert clock(page) == pytest.approx(stopped), "the clock ran on after the pause"
    expect(mute).to_have_attribute("aria-pressed", "true")
    assert player(page, "p.gainOf('drums')") == 0

    # The part played is shaded, in proportion, in every lane.
    duration = player(page, "p.duration")
    played = page.get_by_test_id("played").first.bounding_box()
    lane = page.get_by_test_id("waveform").first.bounding_box()
    assert played is not None and lane is not None
    assert played["width"] == pytest.approx(lane["width"] * stopped / duration, abs=2)
    assert_finished_page(page)
    shot(page, f"player-{size_of(page)}", full_page=size_of(page) == "desktop")

    # After the loop button, Space plays and the loop stays on.
    loop = page.locator(".loop-toggle")
    loop.click()
    expect(loop).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Space")
    expect(page.get_by_test_id("play")).to_have_text("Pause")
    expect(loop).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Space")
    expect(page.get_by_test_id("play")).to_have_text("Play")
    loop.click()
    expect(loop).to_have_attribute("aria-pressed", "false")

    page.keyboard.press("End")
    assert clock(page) == pytest.approx(duration, abs=1e-3)
    page.keyboard.press("Home")
    assert clock(page) == 0
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")


# Where every control, lane and panel of the page is, in page coordinates.
LAYOUT = """() => [...document.querySelectorAll(
    'main button, main a, main input, main canvas, main .stem, main .timeline, main .panel,'
    + ' main .transport-bar, main h1, main .clock')]
  .map(e => { const r = e.getBoundingClientRect();
              return [e.tagName, Math.round(r.left + scrollX), Math.round(r.top + scrollY),
                      Math.round(r.width), Math.round(r.height)]; })"""


def check_loop_moves_nothing(page: Page) -> None:
    """Turning the loop on (button or L) draws the region and moves no element."""
    # From the top, as shot() leaves the page: the fixed bar's page position is the scroll's.
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("body").press("Home")
    page.locator("body").press("Shift+ArrowRight")
    before = page.evaluate(LAYOUT)
    page.locator(".loop-toggle").click()
    expect(page.locator(".loop-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".timeline .loop-region")).to_have_count(1)
    assert page.evaluate(LAYOUT) == before
    shot(page, f"player-loop-{size_of(page)}", full_page=False)
    page.locator("body").press("l")
    expect(page.locator(".loop-toggle")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate(LAYOUT) == before
    # Marking the loop's edges moves nothing either.
    page.locator("body").press("[")
    page.locator("body").press("Shift+ArrowRight")
    page.locator("body").press("]")
    assert player(page, "p.loop") is not None
    assert page.evaluate(LAYOUT) == before
    page.locator("body").press("l")


def check_help_keeps_focus(page: Page) -> None:
    """The dialog takes focus, Tab and Shift+Tab stay in it, Escape closes it, and focus
    goes back to the button that opened it."""
    opener = page.get_by_role("button", name="Shortcuts")
    opener.click()
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    inside = "!!document.activeElement.closest('[role=dialog]')"
    assert page.evaluate(inside)
    for key in ["Tab", "Tab", "Shift+Tab", "Tab"]:
        page.keyboard.press(key)
        assert page.evaluate(inside), f"focus left the dialog after {key}"
    shot(page, f"player-help-{size_of(page)}", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.textContent").startswith("Shortcuts")


def box_of(page: Page, selector: str) -> list[dict[str, Any]]:
    boxes: list[dict[str, Any]] = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map(e => {
             const r = e.getBoundingClientRect();
             return {what: e.getAttribute('aria-label') || e.textContent.trim() || e.id,
                     width: r.width, height: r.height, top: r.top, bottom: r.bottom}; })""",
        selector,
    )
    assert boxes, f"nothing matches {selector}"
    return boxes


def check_phone_controls(page: Page) -> None:
    """Every control a thumb uses is 44 px or more; the transport is fixed at the bottom."""
    targets = [
        ".stem-buttons button",
        "main input[type=range]",
        ".download-link",
        "[data-testid=play]",
        ".loop-controls button",
        "[data-testid=timeline]",
        "main .button",
    ]
    small = [
        box
        for selector in targets
        for box in box_of(page, selector)
        if box["height"] < TOUCH_PX or box["width"] < TOUCH_PX
    ]
    assert small == [], small
    height = page.viewport_size["height"] if page.viewport_size else 0
    for _ in range(2):
        bar = box_of(page, "[data-testid=transport-bar]")[0]
        assert bar["bottom"] == pytest.approx(height, abs=1), bar
        assert bar["height"] < 140, f"the phone's transport takes {bar['height']}px"
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    # The end of the page is not hidden under the bar once scrolled to it.
    last = box_of(page, "main .exports")[-1]
    assert last["bottom"] <= bar["top"], (last, bar)
    page.screenshot(path=ARTIFACTS / "player-phone-end.png")
    # A fader moves with a thumb: a tap at three quarters of its track sets it there.
    fader = page.get_by_label("bass volume")
    track = fader.bounding_box()
    assert track is not None
    page.touchscreen.tap(track["x"] + track["width"] * 0.75, track["y"] + track["height"] / 2)
    value = float(fader.input_value())
    assert 0.6 < value < 0.9, value

"""Loops and navigation on the player's waveforms, at a desktop's and a phone's size.

GIVEN a job completed by a real worker on an excerpt of a real song and Debian's chromium,
WHEN a musician clicks a waveform, drags across one (with a mouse, or a finger on a
phone), zooms in and out (buttons, Ctrl+wheel, a pinch) and scrolls the zoomed lanes,
THEN a click seeks, the drag sets a loop (snapped to bars when the job has a beat grid)
that every lane outlines and the clock wraps inside, and every lane zooms and scrolls
together with the playhead and the played shade where the song is.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, CDPSession, FloatRect, Page, expect

from tests.e2e.pages import (
    ARTIFACTS,
    PHONE,
    WIDE,
    assert_finished_page,
    completed_job,
    player,
    wait_in_page,
)
from tests.integration.stack import Stack

pytestmark = pytest.mark.slow


def test_drag_a_loop_zoom_and_scroll(browser: Browser, stack: Stack, excerpt: Path) -> None:
    job = completed_job(stack, excerpt)
    for size in (WIDE, PHONE):
        phone = size["width"] < 640
        context = browser.new_context(viewport=size, is_mobile=phone, has_touch=phone)
        page = context.new_page()
        page.goto(f"{stack.base_url}/jobs/{job['id']}")
        expect(page.get_by_test_id("stem-row")).to_have_count(len(job["stems"]), timeout=60_000)
        expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
        name = "phone" if phone else "desktop"
        touch = context.new_cdp_session(page) if phone else None
        check_click_seeks(page, touch)
        check_drag_sets_loop(page, touch, job, name)
        check_zoom_and_scroll(page, touch, name)
        assert_finished_page(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the player is wider than the screen by {overflow}px"
        context.close()


# Scrolls the element to just below whatever sticks to the top (the header; on a desktop
# the transport too).
SCROLL_CLEAR = """element => {
  element.scrollIntoView({ block: 'start' });
  const stuck = [...document.querySelectorAll('header, .transport')]
    .filter(e => ['sticky', 'fixed'].includes(getComputedStyle(e).position))
    .map(e => e.getBoundingClientRect().bottom).filter(bottom => bottom < innerHeight / 2);
  window.scrollBy(0, element.getBoundingClientRect().top - Math.max(0, ...stuck) - 12);
}"""


def look(page: Page, name: str) -> None:
    """The screen with the zoom bar and the first lanes in view, as the musician sees them."""
    page.get_by_test_id("lanes-bar").evaluate(SCROLL_CLEAR)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def lane_box(page: Page, index: int = 0) -> FloatRect:
    """A lane's visible box, scrolled to the middle of the screen (clear of a phone's bar)."""
    lane = page.get_by_test_id("lane").nth(index)
    lane.evaluate("element => element.scrollIntoView({ block: 'center' })")
    box = lane.bounding_box()
    assert box is not None
    return box


def touch_points(touch: CDPSession, kind: str, points: list[tuple[float, float]]) -> None:
    touch.send(
        "Input.dispatchTouchEvent",
        {
            "type": kind,
            "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)],
        },
    )


def drag(
    page: Page,
    touch: CDPSession | None,
    y: float,
    xs: list[float],
    before_lift: Callable[[], None] = lambda: None,
) -> None:
    """A press at xs[0], moved through the rest, lifted at the last: a finger or the mouse."""
    if touch is None:
        page.mouse.move(xs[0], y)
        page.mouse.down()
        for x in xs[1:]:
            page.mouse.move(x, y, steps=4)
        before_lift()
        page.mouse.up()
        return
    touch_points(touch, "touchStart", [(xs[0], y)])
    for x in xs[1:]:
        touch_points(touch, "touchMove", [(x, y)])
    before_lift()
    touch_points(touch, "touchEnd", [])


def check_click_seeks(page: Page, touch: CDPSession | None) -> None:
    box = lane_box(page)
    duration = player(page, "p.duration")
    drag(page, touch, box["y"] + box["height"] / 2, [box["x"] + box["width"] * 0.7])
    assert player(page, "p.position()") == pytest.approx(duration * 0.7, abs=duration * 0.01)
    assert player(page, "p.loop") is None


def expected_loop(job: dict[str, Any], start: float, end: float) -> tuple[float, float]:
    """The drag's ends, or the bars they snap to when the job has downbeats: the start to
    the nearest bar line, the end to the nearest one after it (one bar at least)."""
    beats = sorted((job.get("analysis") or {}).get("downbeats") or [])
    if len(beats) < 2:
        return start, end
    lead = [max(0.0, 2 * beats[0] - beats[1])] if beats[0] > 0 else []
    grid = [*lead, *beats, 2 * beats[-1] - beats[-2]]
    snapped = min(grid, key=lambda beat: abs(beat - start))
    later = [beat for beat in grid if beat > snapped]
    return snapped, max(min(later, key=lambda beat: abs(beat - end)), later[0])


def check_drag_sets_loop(
    page: Page, touch: CDPSession | None, job: dict[str, Any], name: str
) -> None:
    box = lane_box(page, 1)
    duration = player(page, "p.duration")
    left, right = box["x"] + box["width"] * 0.15, box["x"] + box["width"] * 0.55

    def preview() -> None:
        """While dragging, every lane outlines the loop the drag will set."""
        expect(page.locator(".drag-region").first).to_be_visible()
        # Every lane: the stems' and, when the job has beats, the click track's.
        assert page.locator(".drag-region:visible").count() == page.get_by_test_id("lane").count()
        look(page, f"player-loop-dragging-{name}")

    drag(page, touch, box["y"] + box["height"] / 2, [left, (left + right) / 2, right], preview)
    expect(page.locator(".drag-region:visible")).to_have_count(0)
    loop = player(page, "p.loop")
    assert loop is not None, "the drag set no loop"
    start, end = expected_loop(job, duration * 0.15, duration * 0.55)
    assert loop["start"] == pytest.approx(start, abs=0.05), loop
    assert loop["end"] == pytest.approx(min(end, duration), abs=0.05), loop
    expect(page.locator(".loop-toggle")).to_have_attribute("aria-pressed", "true")
    # The range in words, beside the Loop button (on a phone above the lanes: the bar has
    # no room), and the loop outlined in every lane and on the timeline.
    words = f"{clock_words(loop['start'])}–{clock_words(loop['end'])}"
    if touch is None:
        expect(page.get_by_test_id("loop-range")).to_have_text(words)
        expect(page.get_by_test_id("loop-range")).to_be_visible()
    else:
        expect(page.get_by_test_id("lanes-loop")).to_have_text(f"Loop {words} · pinch to zoom")
        expect(page.get_by_test_id("lanes-loop")).to_be_visible()
    outlines = page.get_by_test_id("loop-region")
    expect(outlines).to_have_count(len(job["stems"]))
    outline = outlines.first.bounding_box()
    wave = page.get_by_test_id("waveform").first.bounding_box()
    assert outline is not None and wave is not None
    assert outline["x"] - wave["x"] == pytest.approx(
        wave["width"] * loop["start"] / duration, abs=3
    )
    expect(page.locator(".timeline .loop-region")).to_have_count(1)
    # The playhead went into the loop, and playing wraps inside it.
    assert player(page, "p.position()") == pytest.approx(loop["start"], abs=1e-3)
    page.get_by_test_id("play").click()
    span = loop["end"] - loop["start"]
    start_time = player(page, "p.context.currentTime")
    seen = [player(page, "p.position()")]
    while player(page, "p.context.currentTime") < start_time + span + 0.8:
        seen.append(player(page, "p.position()"))
        page.wait_for_timeout(40)
    assert all(loop["start"] - 0.01 <= at <= loop["end"] + 0.01 for at in seen), seen
    wraps = sum(1 for a, b in pairwise(seen) if b < a - span / 2)
    assert wraps >= 1, f"the clock never wrapped: {seen}"
    look(page, f"player-loop-drag-{name}")
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_text("Play")


def clock_words(seconds: float) -> str:
    """As the player writes a time: minutes, then seconds to a tenth."""
    minutes = int(seconds // 60)
    return f"{minutes}:{seconds - minutes * 60:04.1f}"


def waveform_and_lane(page: Page) -> tuple[float, float]:
    widths: list[float] = page.evaluate(
        """() => { const lane = document.querySelector('[data-testid=lane]');
                   return [lane.scrollWidth, lane.clientWidth]; }"""
    )
    return widths[0], widths[1]


def lanes_scrolled(page: Page) -> list[float]:
    scrolls: list[float] = page.evaluate(
        "[...document.querySelectorAll('[data-testid=lane]')].map(l => Math.round(l.scrollLeft))"
    )
    return scrolls


def check_zoom_and_scroll(page: Page, touch: CDPSession | None, name: str) -> None:
    level = page.get_by_test_id("zoom-level")
    expect(level).to_have_text("Whole song")
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(level).to_have_text("4×")
    wide, lane = waveform_and_lane(page)
    assert wide == pytest.approx(lane * 4, abs=2), (wide, lane)

    # The overview moves every lane to the same place.
    overview = page.get_by_test_id("overview").bounding_box()
    assert overview is not None
    page.mouse.click(
        overview["x"] + overview["width"] * 0.8, overview["y"] + overview["height"] / 2
    )
    scrolls = lanes_scrolled(page)
    assert scrolls[0] > lane and len(set(scrolls)) == 1, scrolls
    check_shade_and_playhead(page)
    # A waveform lane's own scroll takes the others along.
    page.evaluate("document.querySelectorAll('[data-testid=lane]')[1].scrollLeft = 100")
    wait_in_page(page, "document.querySelector('[data-testid=lane]').scrollLeft === 100", 2_000)
    assert len(set(lanes_scrolled(page))) == 1
    look(page, f"player-zoomed-{name}")

    zoom_by_gesture(page, touch)
    for _ in range(4):
        out = page.get_by_role("button", name="Zoom out")
        if out.is_disabled():
            break
        out.click()
    expect(level).to_have_text("Whole song")
    wide, lane = waveform_and_lane(page)
    assert wide == pytest.approx(lane, abs=1), (wide, lane)


def check_shade_and_playhead(page: Page) -> None:
    """Zoomed, the played shade and the playhead are still where the song is."""
    duration = player(page, "p.duration")
    position = player(page, "p.position()")
    wave = page.get_by_test_id("waveform").first.bounding_box()
    played = page.get_by_test_id("played").first.bounding_box()
    head = page.locator(".waveform .playhead").first.bounding_box()
    assert wave is not None and played is not None and head is not None
    assert played["width"] == pytest.approx(wave["width"] * position / duration, abs=3)
    assert head["x"] + head["width"] / 2 - wave["x"] == pytest.approx(played["width"], abs=3)


def zoom_by_gesture(page: Page, touch: CDPSession | None) -> None:
    """Ctrl+wheel on a desktop, two fingers spreading on a phone: closer than 4×."""
    box = lane_box(page)
    y = box["y"] + box["height"] / 2
    middle = box["x"] + box["width"] / 2
    if touch is None:
        page.mouse.move(middle, y)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -200)
        page.keyboard.up("Control")
    else:
        touch_points(touch, "touchStart", [(middle - 30, y), (middle + 30, y)])
        for spread in (40, 60, 80):
            touch_points(touch, "touchMove", [(middle - spread, y), (middle + spread, y)])
        touch_points(touch, "touchEnd", [])
    wait_in_page(
        page,
        "parseFloat(document.querySelector('.stems').style.getPropertyValue('--zoom')) > 4.5",
        3_000,
    )
    wide, lane = waveform_and_lane(page)
    assert wide > lane * 4.5, (wide, lane)
    assert len(set(lanes_scrolled(page))) == 1

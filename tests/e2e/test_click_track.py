"""The click track and the song's tempo in the player, as a musician practises with them.

GIVEN a job completed by a real worker on an excerpt of a real song (its analysis has a
beat grid) and Debian's chromium, at a desktop's and a phone's size, WHEN the player
opens THEN the song's BPM is shown and a "Click" row sits under the stems, off; WHEN the
click is turned on and played THEN a click is scheduled on every beat on the stems' clock
(closer together at 125 %, where the BPM shown is the tempo played and the recorded one
is named), its fader sets its gain and turning it off silences it; WHEN the mix is
exported with the click on THEN the file has a click starting on each beat's sample and
nothing else changed; with it off again the export is the same file as before.
"""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from playwright.sync_api import Browser, Page, expect

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

TOUCH_PX = 44
RATE = 44100
NOISE_LSB = 200


def bpm_text(bpm: float) -> str:
    """As stretch.ts's formatBpm writes it (JavaScript's Math.round: halves go up)."""
    played = math.floor(bpm * 10 + 0.5) / 10
    return f"{int(played) if played == int(played) else played} BPM"


def fader_gain(position: float) -> float:
    """lib/mix.ts: linear in dB from -60 at the bottom to 0 dB at 0.8."""
    return 10 ** (-60 * (1 - position / 0.8) / 20)


def test_click_track(browser: Browser, stack: Stack, excerpt: Path, tmp_path: Path) -> None:
    job = completed_job(stack, excerpt)
    analysis = job["analysis"]
    assert analysis and analysis["beats"] and analysis["bpm"], "the worker found no beat grid"
    for size in (WIDE, PHONE):
        phone = size["width"] < 640
        context = browser.new_context(viewport=size, is_mobile=phone, has_touch=phone)
        page = context.new_page()
        page.goto(f"{stack.base_url}/jobs/{job['id']}")
        expect(page.get_by_test_id("stem-row")).to_have_count(len(job["stems"]), timeout=60_000)
        expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
        expect(page.get_by_test_id("song-bpm")).to_have_text(bpm_text(analysis["bpm"]))
        row = page.get_by_test_id("click-row")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Click")
        toggle = page.get_by_test_id("click-toggle")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        assert player(page, "p.clickGain") == 0
        name = "phone" if phone else "desktop"
        if phone:
            check_thumb_sizes(page)
            check_on_off_and_fader(page)
            toggle.click()
            look(page, name)
            toggle.click()
        else:
            before = export_wav(page, tmp_path, "click-off")
            check_on_off_and_fader(page)
            toggle.click()
            check_clicks_follow_the_stems(page)
            check_clicks_at_125_percent(page, analysis["bpm"], tmp_path, analysis["beats"])
            look(page, name)
            with_click = export_wav(page, tmp_path, "click-on")
            check_click_in_export(before, with_click, analysis["beats"])
            toggle.click()
            expect(toggle).to_have_attribute("aria-pressed", "false")
            after = export_wav(page, tmp_path, "click-off-again")
            assert np.array_equal(before, after), "with the click off the export changed"
        assert_finished_page(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the player is wider than the screen by {overflow}px"
        context.close()


def check_on_off_and_fader(page: Page) -> None:
    toggle = page.get_by_test_id("click-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    wait_in_page(page, "window.stemdeckPlayer.clickGain === 1", 2_000)
    fader = page.get_by_label("Click volume", exact=True)
    fader.fill("0.7")
    wait_in_page(
        page, f"Math.abs(window.stemdeckPlayer.clickGain - {fader_gain(0.7)}) < 1e-4", 2_000
    )
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    wait_in_page(page, "window.stemdeckPlayer.clickGain === 0", 2_000)
    # Off keeps the fader where it was; a double-click puts it back at 0 dB.
    assert fader.input_value() == "0.7"
    fader.dblclick()
    assert fader.input_value() == "0.8"


def play_a_while(page: Page, seconds: float) -> list[dict[str, Any]]:
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_text("Pause")
    page.wait_for_timeout(seconds * 1000)
    clicks: list[dict[str, Any]] = player(page, "p.clickTimes()")
    starts = player(page, "p.sourceStarts()")
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_text("Play")
    assert len(clicks) >= 2, clicks
    assert len({(s["when"], s["offset"]) for s in starts}) == 1, starts
    clicks.append(starts[0])
    return clicks


def check_clicks_follow_the_stems(page: Page) -> None:
    """At 100 % each click sounds when the stems reach its beat, on the same clock."""
    page.locator("body").press("Home")
    *clicks, start = play_a_while(page, 1.5)
    for click in clicks:
        expected = start["when"] + (click["time"] - start["offset"])
        assert click["when"] == pytest.approx(expected, abs=1e-6), (click, start)
    accents = [c["time"] for c in clicks if c["accent"]]
    assert len(accents) <= math.ceil(len(clicks) / 4) + 1, clicks
    # In a loop (1-2 s) the same beats come round again, later on the clock each time.
    body = page.locator("body")
    for key in ("Home", "Shift+ArrowRight", "[", "Shift+ArrowRight", "]"):
        body.press(key)
    loop = player(page, "p.loop")
    assert loop == {"start": 1, "end": 2}, loop
    body.press("Home")
    *clicks, _ = play_a_while(page, 3)
    times = [c["time"] for c in clicks]
    # From the song's start up to the loop, then round the loop only.
    entered = next(i for i, t in enumerate(times) if t >= loop["start"])
    assert all(t < loop["start"] for t in times[:entered]), times
    assert all(loop["start"] <= t < loop["end"] for t in times[entered:]), times
    assert len(times) > len(set(times)), f"no beat came round again: {times}"
    assert all(b["when"] > a["when"] for a, b in pairwise(clicks)), clicks
    body.press("l")
    assert player(page, "p.loop") is None


def check_clicks_at_125_percent(page: Page, bpm: float, tmp_path: Path, beats: list[float]) -> None:
    """Beats are song time: at 125 % they come 1/1.25 as far apart on the clock."""
    page.get_by_label("Tempo", exact=True).fill("125")
    expect(page.get_by_test_id("song-bpm")).to_contain_text(bpm_text(bpm * 1.25))
    expect(page.get_by_test_id("song-bpm")).to_contain_text(f"{bpm_text(bpm)} as recorded")
    wait_in_page(page, "window.stemdeckPlayer.stretching", 10_000)
    page.screenshot(path=ARTIFACTS / "player-bpm-125-desktop.png")
    page.locator("body").press("Home")
    *clicks, _ = play_a_while(page, 1.5)
    for a, b in pairwise(clicks):
        if b["time"] > a["time"]:
            assert b["when"] - a["when"] == pytest.approx((b["time"] - a["time"]) / 1.25, abs=1e-6)
    check_export_at_125_percent(page, tmp_path, beats)
    page.get_by_role("button", name="Reset tempo and pitch").click()
    wait_in_page(page, "!window.stemdeckPlayer.stretching", 10_000)
    expect(page.get_by_test_id("song-bpm")).to_have_text(bpm_text(bpm))


def check_export_at_125_percent(page: Page, tmp_path: Path, beats: list[float]) -> None:
    """Exported at 125 %, each click starts at its beat's time / 1.25: the stretcher's delay,
    cut off the stems, is allowed for in the click, which goes round it."""
    toggle = page.get_by_test_id("click-toggle")
    with_click = export_wav(page, tmp_path, "click-on-125")
    toggle.click()
    without = export_wav(page, tmp_path, "click-off-125")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    added = np.abs(with_click - without).max(axis=1)
    heard = [t / 1.25 for t in beats if t / 1.25 > 0.01 and (t / 1.25 + 0.2) * RATE < len(added)]
    assert heard, beats
    for t in heard:
        assert 0 <= click_onset(added, t) - t * RATE <= 4, (t, click_onset(added, t) / RATE)


def click_onset(added: np.ndarray, t: float) -> int:
    """The click's third sample near `t` s: its samples rise 0, 57, 228, 508 … LSB, and
    within a few more reach thousands. Two renders through the stretcher differ by a few
    LSB, yet now and then by a few hundred in a lone spot (seen once 71 samples before a
    beat), so the click is found first by its loud part, then its start just before it."""
    at = round(t * RATE)
    window = added[at - 100 : at + 100]
    loud = int(np.flatnonzero(window > 10 * NOISE_LSB)[0])
    start = max(0, loud - 10)
    return at - 100 + start + int(np.flatnonzero(window[start : loud + 1] > NOISE_LSB)[0])


def export_wav(page: Page, tmp_path: Path, name: str) -> np.ndarray:
    with page.expect_download(timeout=120_000) as export:
        page.get_by_test_id("export").click()
    path = tmp_path / f"{name}.wav"
    export.value.save_as(path)
    audio, rate = sf.read(path, dtype="int16")
    assert rate == RATE and audio.shape[1] == 2
    return np.asarray(audio, dtype=np.int32)


def check_click_in_export(before: np.ndarray, with_click: np.ndarray, beats: list[float]) -> None:
    """The click adds a short burst starting on each beat's sample, and nothing between."""
    assert before.shape == with_click.shape
    added = np.abs(with_click - before).max(axis=1)
    heard = [t for t in beats if t > 0.01 and (t + 0.2) * RATE < len(added)]
    assert heard, beats
    for t in heard:
        at = round(t * RATE)
        burst = added[at : at + int(0.03 * RATE)]
        assert burst.max() > 3000, (t, int(burst.max()))
        assert 0 <= click_onset(added, t) - t * RATE <= 4, (t, click_onset(added, t) / RATE)
        # The mix itself is untouched: louder at the beat, the same between beats.
        between = added[at + int(0.05 * RATE) : at + int(0.2 * RATE)]
        assert between.max() == 0, (t, int(between.max()))
        assert energy(with_click, at) > energy(before, at), t


def energy(audio: np.ndarray, at: int) -> float:
    """Over the click's 30 ms from sample `at`."""
    return float(np.square(audio[at : at + int(0.03 * RATE)].astype(np.float64)).sum())


def check_thumb_sizes(page: Page) -> None:
    boxes = page.evaluate(
        """[...document.querySelectorAll('[data-testid=click-row] button,'
                                         + ' [data-testid=click-row] input')]
             .map(e => { const r = e.getBoundingClientRect();
                         return [e.getAttribute('aria-label') || e.id, r.width, r.height]; })"""
    )
    assert len(boxes) == 2, boxes
    small = [box for box in boxes if box[1] < TOUCH_PX or box[2] < TOUCH_PX]
    assert small == [], small


def look(page: Page, name: str) -> None:
    """The click row on, with the stems above it, as the musician sees it."""
    page.get_by_test_id("click-row").evaluate("e => e.scrollIntoView({ block: 'center' })")
    page.screenshot(path=ARTIFACTS / f"player-click-{name}.png")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / f"player-bpm-{name}.png")

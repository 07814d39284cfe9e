"""Tempo and pitch in the player, as a musician practises with them.

GIVEN the built web app on a real API, a job for an excerpt of a real song completed by a
real worker and Debian's chromium, at a desktop's and a phone's size, WHEN tempo is set to
75 % THEN the clock advances at 0.75x real time, every stem plays from one start on one
clock through one stretcher; WHEN pitch is set to +2 THEN the control says so, the key
shown moves up a whole tone and the tempo stays; WHEN the mix is exported at 75 % THEN
the WAV lasts 4/3 of the song (and 4/3 of the loop when a loop is on); WHEN tempo and
pitch go back to 100 % and 0 THEN no stretcher is left in the chain and the export is the
song's length again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.pages import (
    PHONE,
    WIDE,
    assert_finished_page,
    player,
    shot,
    wait_in_page,
)
from tests.e2e.test_player_workflow import STEMS, open_page, size_name, submit
from tests.integration.stack import Stack

pytestmark = pytest.mark.slow

SIZES = [pytest.param(WIDE, id="desktop"), pytest.param(PHONE, id="phone")]
TOUCH_PX = 44


@pytest.mark.parametrize("size", SIZES)
def test_tempo_and_pitch(
    browser: Browser, stack: Stack, excerpt: Path, tmp_path: Path, size: ViewportSize
) -> None:
    job_id = submit(stack, excerpt)
    stack.start_worker()
    page = open_page(browser, size)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{stack.base_url}/jobs/{job_id}")
    expect(page.get_by_test_id("stem-row")).to_have_count(len(STEMS), timeout=180_000)
    expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
    duration: float = player(page, "p.duration")
    assert player(page, "p.stretching") is False

    job = page.evaluate(f"fetch('/api/jobs/{job_id}').then(r => r.json())")
    key = job["analysis"]["key"]
    assert key is not None, "the worker's analysis found no key in the excerpt"
    expect(page.get_by_test_id("song-key")).to_contain_text(f"Key {spelled(key, 0)}")

    check_clock_at_75_percent(page)
    check_pitch_up_two(page, key)
    assert_finished_page(page)
    shot(page, f"player-tempo-pitch-{size_name(size)}", full_page=size_name(size) == "desktop")
    if size["width"] < 640:
        check_phone_sizes(page)
    check_exports(page, tmp_path, duration)
    # The stretcher's worklet and WebAssembly run under the app's policy.
    assert refused == []
    page.context.close()


def set_slider(page: Page, label: str, value: int) -> None:
    page.get_by_label(label, exact=True).fill(str(value))


def check_clock_at_75_percent(page: Page) -> None:
    set_slider(page, "Tempo", 75)
    expect(page.get_by_test_id("tempo-value")).to_have_text("75 %")
    wait_in_page(page, "window.stemdeckPlayer.stretching", 10_000)
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_text("Pause")
    # Past the start's lead and the stretcher's delay, then about 2 s of playing, read
    # against the audio clock the sound is played by, not the machine's wall clock.
    wait_in_page(page, "window.stemdeckPlayer.position() > 0.1", 10_000)
    measure = (
        "(() => [window.stemdeckPlayer.position(), window.stemdeckPlayer.context.currentTime])()"
    )
    song_0, audio_0 = page.evaluate(measure)
    page.wait_for_timeout(2000)
    song_1, audio_1 = page.evaluate(measure)
    assert audio_1 - audio_0 > 0.5, "the audio clock hardly moved"
    speed = (song_1 - song_0) / (audio_1 - audio_0)
    assert speed == pytest.approx(0.75, rel=0.01), speed
    # Every stem from one `when` and one offset: one clock, so still in step.
    starts = player(page, "p.sourceStarts()")
    assert len(starts) == len(STEMS)
    assert len({(s["when"], s["offset"]) for s in starts}) == 1, starts
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_text("Play")
    # Paused where it was heard: the clock stands still.
    stopped = player(page, "p.position()")
    page.wait_for_timeout(300)
    assert player(page, "p.position()") == pytest.approx(stopped)


SHARPS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
MAJOR = ["C", "D♭", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"]
MINOR = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "G♯", "A", "B♭", "B"]


def spelled(key: dict[str, str], semitones: int) -> str:
    names = MAJOR if key["mode"] == "major" else MINOR
    return f"{names[(SHARPS.index(key['tonic']) + semitones) % 12]} {key['mode']}"


def check_pitch_up_two(page: Page, key: dict[str, str]) -> None:
    set_slider(page, "Pitch", 2)
    expect(page.get_by_test_id("pitch-value")).to_have_text("+2 st")
    # The key follows the shift; the recorded key is still named.
    readout = page.get_by_test_id("song-key")
    expect(readout).to_contain_text(f"Key {spelled(key, 2)}")
    expect(readout).to_contain_text(f"{key['name']} as recorded")
    wait_in_page(page, "window.stemdeckPlayer.tempoPitch.semitones === 2", 10_000)
    assert player(page, "p.tempoPitch") == {"tempo": 0.75, "semitones": 2}
    expect(page.get_by_test_id("tempo-value")).to_have_text("75 %")


def check_phone_sizes(page: Page) -> None:
    boxes = page.evaluate(
        """[...document.querySelectorAll('.tempo-pitch input, .tempo-pitch button')]
             .map(e => { const r = e.getBoundingClientRect();
                         return [e.getAttribute('aria-label') || e.id, r.width, r.height]; })"""
    )
    small = [box for box in boxes if box[1] < TOUCH_PX or box[2] < TOUCH_PX]
    assert small == [], small
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the player is wider than the screen by {overflow}px"


def export_seconds(page: Page, tmp_path: Path, name: str) -> float:
    with page.expect_download(timeout=120_000) as export:
        page.get_by_test_id("export").click()
    path = tmp_path / f"{name}.wav"
    export.value.save_as(path)
    info = sf.info(path)
    assert info.format == "WAV" and info.samplerate == 44100 and info.channels == 2
    audio, _ = sf.read(path, dtype="float32")
    assert float(abs(audio).max()) > 0.01, f"the {name} export is silent"
    return float(info.frames / info.samplerate)


def check_exports(page: Page, tmp_path: Path, duration: float) -> None:
    """At 75 % the whole song lasts 4/3 as long; with a loop on, 4/3 of the loop's span;
    at 100 % and 0 the song's own length."""
    whole = export_seconds(page, tmp_path, "whole-75")
    assert whole == pytest.approx(duration * 4 / 3, rel=0.01), (whole, duration)

    page.locator("body").press("Home")
    page.locator("body").press("Shift+ArrowRight")
    page.locator("body").press("[")
    for _ in range(3):
        page.locator("body").press("Shift+ArrowRight")
    page.locator("body").press("]")
    loop = player(page, "p.loop")
    assert loop is not None
    looped = export_seconds(page, tmp_path, "loop-75")
    span = loop["end"] - loop["start"]
    assert looped == pytest.approx(span * 4 / 3, rel=0.01), (looped, loop)
    page.locator("body").press("l")
    assert player(page, "p.loop") is None

    page.get_by_role("button", name="Reset tempo and pitch").click()
    expect(page.get_by_test_id("tempo-value")).to_have_text("100 %")
    expect(page.get_by_test_id("pitch-value")).to_have_text("0 st")
    wait_in_page(page, "!window.stemdeckPlayer.stretching", 10_000)
    natural = export_seconds(page, tmp_path, "whole-100")
    assert natural == pytest.approx(duration, abs=1 / 44100)

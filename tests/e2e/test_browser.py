"""The web app in a real browser against the real API and worker processes.

GIVEN `stemdeck api` and `stemdeck worker` on Postgres and Redis serving the
built web app, and Debian's chromium driven by Playwright, WHEN a musician
uploads an excerpt of a real song, follows its progress and opens the player,
THEN every stem plays in sync on one AudioContext, mute/solo/seek act on the
real audio graph, downloads and the exported mix are the right files, and each
page is saved as a screenshot (desktop and phone width) under the artifacts dir.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from playwright.sync_api import Browser, Page, expect

from stemdeck.core.settings import Settings
from tests.e2e.pages import (
    DESKTOP,
    PHONE,
    assert_finished_page,
    choose_strategy,
    completed_job,
    player,
    shot,
    wait_in_page,
)
from tests.integration.factories import queued_job
from tests.integration.stack import Stack

STEMS = ["vocals", "drums", "bass", "other"]
PAGE_SIZE = 100  # the jobs page's page (services/frontend/src/lib/jobList.ts)

pytestmark = pytest.mark.slow


def upload_and_queue(page: Page, stack: Stack, excerpt: Path, tmp_path: Path) -> None:
    page.goto(stack.base_url + "/")
    expect(page.get_by_role("heading", name="Split a song into stems")).to_be_visible()
    choose_strategy(page, "four-stems-dsp")
    page.get_by_role("checkbox", name="WAV 16-bit").check()

    # Bad input on purpose: a text file is refused, and the API's message shows beside it.
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("these are my lyrics, not audio\n" * 50)
    page.get_by_test_id("file-input").set_input_files(not_audio)
    refused = page.locator(".upload.failed").filter(has_text="notes.txt")
    expect(refused.get_by_role("alert")).to_contain_text("audio", timeout=30_000)

    # A link to a private address is refused before anything is fetched; the API's
    # message shows at the field.
    page.get_by_label("link to the song").fill("http://10.0.0.5/song.mp3")
    page.get_by_role("button", name="Fetch and split").click()
    url_error = page.locator("#url-error")
    expect(url_error).to_contain_text("10.0.0.5", timeout=30_000)

    page.get_by_test_id("file-input").set_input_files(excerpt)
    # Its card follows the job: no worker runs, so it is next in line.
    card = page.get_by_test_id("job-card").filter(has_text=excerpt.name)
    expect(card).to_contain_text("Next in line", timeout=60_000)
    assert_finished_page(page)
    shot(page, "new-job-desktop")


def test_upload_follow_play_mix_download_export(
    browser: Browser, stack: Stack, excerpt: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    ranged: list[str] = []
    page.on(
        "request",
        lambda request: (
            ranged.append(request.url)
            if "/stems/" in request.url and "range" in request.headers
            else None
        ),
    )
    # What the stem URLs redirect to: short-lived signed links, answering ranges.
    linked: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda response: (
            linked.append((response.headers.get("content-type", ""), response.status))
            if "/api/files/" in response.url
            else None
        ),
    )
    upload_and_queue(page, stack, excerpt, tmp_path)

    # Jobs: the job waits for a worker; once one starts, progress arrives by SSE to 100 %.
    page.get_by_role("link", name="Jobs", exact=True).click()
    row = page.get_by_test_id("job-row").filter(has_text=excerpt.name)
    expect(row.locator(".status-pill")).to_have_text("Queued")
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    job_id = row.get_attribute("data-job-id")
    polls: list[str] = []
    page.on(
        "request",
        lambda request: (
            polls.append(request.url) if request.url.endswith(f"/api/jobs/{job_id}") else None
        ),
    )
    page.evaluate(
        """() => { window.seenPercents = [];
           new MutationObserver(() => document.querySelectorAll('[data-testid=job-percent]')
             .forEach(e => window.seenPercents.push(e.textContent)))
           .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
    )
    assert_finished_page(page)
    shot(page, "jobs-queued-desktop")
    stack.start_worker()
    expect(row.get_by_test_id("job-percent")).to_have_text("100 %", timeout=180_000)
    expect(row.locator(".status-pill")).to_have_text("Ready")
    # Every value the page showed: only forward, ending at 100 %. Not "some step between":
    # the event stream may fold quick updates into one when the machine is busy.
    seen = [int(text.split()[0]) for text in page.evaluate("window.seenPercents")]
    assert seen == sorted(seen) and seen[-1] == 100, seen
    assert polls == [], "the page polled although the event stream was up"
    assert_finished_page(page)
    shot(page, "jobs-desktop")

    # Player: one drawn waveform per stem, every stem loaded.
    row.get_by_role("link", name="Open player").click()
    expect(page.get_by_test_id("stem-row")).to_have_count(len(STEMS))
    expect(page.locator("[data-testid=waveform][data-drawn=yes]")).to_have_count(len(STEMS))
    expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
    assert {u.split("/stems/")[1].split(".")[0] for u in ranged} == set(STEMS)
    audio = [status for kind, status in linked if kind.startswith("audio/")]
    assert len(audio) >= len(STEMS) and set(audio) == {206}, linked
    for name in STEMS:
        expect(page.locator(f"[data-stem={name}] .stem-lufs")).to_contain_text("LUFS")
    assert_finished_page(page)
    shot(page, "player-desktop")

    # Play: the context clock and the playhead advance.
    page.get_by_test_id("play").click()
    expect(page.get_by_test_id("play")).to_have_text("Pause")
    first = player(page, "[p.context.currentTime, p.position()]")
    wait_in_page(
        page, f"window.stemdeckPlayer.context.currentTime > {first[0] + 0.5}", timeout=10_000
    )
    later = player(page, "[p.context.currentTime, p.position()]")
    assert later[1] > first[1]
    assert player(page, "p.context.state") == "running"

    # Mute drums from the keyboard (2 chooses it, M mutes): its GainNode goes to 0.
    page.locator("body").press("2")
    page.locator("body").press("m")
    wait_in_page(page, "window.stemdeckPlayer.gainOf('drums') === 0", timeout=5_000)
    expect(page.get_by_role("button", name="Mute drums")).to_have_attribute("aria-pressed", "true")
    # Solo vocals: only vocals is heard; the muted drums stay silent.
    page.get_by_role("button", name="Solo vocals").click()
    wait_in_page(
        page,
        "['bass', 'other', 'drums'].every(n => window.stemdeckPlayer.gainOf(n) === 0)",
        timeout=5_000,
    )
    assert player(page, "p.gainOf('vocals')") == pytest.approx(1.0, abs=1e-3)
    shot(page, "player-playing-desktop")

    # Seek: click the middle of the timeline; every source restarts from there, together.
    # Read from the engine's record of the restart and its clock, not from how far the
    # playhead has run on since: a busy machine takes its time between click and read.
    timeline = page.get_by_test_id("timeline")
    box = timeline.bounding_box()
    assert box is not None
    timeline.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    seek = player(
        page, "({starts: p.sourceStarts(), now: p.context.currentTime, position: p.position()})"
    )
    starts = seek["starts"]
    assert sorted(start["name"] for start in starts) == sorted(STEMS), starts
    assert len({(start["when"], start["offset"]) for start in starts}) == 1, starts
    sought, when = starts[0]["offset"], starts[0]["when"]
    duration = sf.info(excerpt).duration
    assert duration / 2 - 0.3 < sought < duration / 2 + 0.3, sought
    # The playhead is the seek point plus the time the context clock has run since (to a few
    # render quanta: the clock may tick between the two reads).
    assert seek["position"] == pytest.approx(sought + max(0.0, seek["now"] - when), abs=0.02)
    # Pause, then the keyboard seek acts on a playhead that stands still.
    page.locator("body").press("Space")
    expect(page.get_by_test_id("play")).to_have_text("Play")
    paused_at = player(page, "p.position()")
    page.wait_for_timeout(300)
    assert player(page, "p.position()") == pytest.approx(paused_at)
    page.locator("body").press("ArrowLeft")
    back = player(page, "p.position()")
    assert back < paused_at - 3
    assert back == pytest.approx(max(0.0, paused_at - 5), abs=1e-6)  # 5 s back, or the start

    # Loop a region from the keyboard: [ at the playhead, ] a second later.
    page.locator("body").press("Home")
    page.locator("body").press("Shift+ArrowRight")
    page.locator("body").press("[")
    page.locator("body").press("Shift+ArrowRight")
    page.locator("body").press("]")
    loop = player(page, "p.loop")
    assert loop == {"start": pytest.approx(1.0, abs=0.05), "end": pytest.approx(2.0, abs=0.05)}
    expect(page.get_by_role("button", name="Loop", exact=False).last).to_have_attribute(
        "aria-pressed", "true"
    )
    page.locator("body").press("l")
    assert player(page, "p.loop") is None

    # Help overlay from the keyboard.
    page.locator("body").press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    shot(page, "player-help-desktop", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    job = httpx.get(page.url.replace("/jobs/", "/api/jobs/")).json()
    check_downloads(page, job)
    check_exported_mix(page, job, tmp_path, duration)

    # Faders act on the GainNodes: 0.4 of the travel is -30 dB, for a stem and the master.
    page.get_by_label("vocals volume").fill("0.4")
    wait_in_page(page, "Math.abs(window.stemdeckPlayer.gainOf('vocals') - 0.031623) < 1e-4")
    page.get_by_label("Master volume").fill("0.4")
    wait_in_page(page, "Math.abs(window.stemdeckPlayer.masterGain - 0.031623) < 1e-4")
    expect(page.locator("[data-stem=vocals] .fader-db")).to_have_text("−30.0 dB")
    # S from the keyboard solos the chosen stem (1: vocals, already soloed, so this un-solos).
    page.locator("body").press("1")
    page.locator("body").press("s")
    expect(page.get_by_role("button", name="Solo vocals")).to_have_attribute(
        "aria-pressed", "false"
    )
    wait_in_page(page, "window.stemdeckPlayer.gainOf('bass') > 0.99")
    context.close()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    small = phone.new_page()
    for path, name in [("/", "new-job"), ("/jobs", "jobs"), (f"/jobs/{job['id']}", "player")]:
        small.goto(stack.base_url + path)
        small.wait_for_load_state("networkidle")
        if name == "player":
            expect(small.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
        overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is wider than a phone screen by {overflow}px"
        shot(small, f"{name}-phone")
    phone.close()


def check_downloads(page: Page, job: dict[str, Any]) -> None:
    vocals = next(stem for stem in job["stems"] if stem["name"] == "vocals")
    with page.expect_download() as stem_download:
        page.locator("[data-stem=vocals] .download-link").filter(has_text="FLAC").click()
    flac = Path(stem_download.value.path())
    assert flac.stat().st_size == vocals["sizes"]["flac"]
    assert flac.read_bytes()[:4] == b"fLaC"
    assert stem_download.value.suggested_filename.endswith(".flac")

    with page.expect_download() as zip_download:
        page.get_by_test_id("zip").click()
    with zipfile.ZipFile(zip_download.value.path()) as archive:
        names = archive.namelist()
    assert len([n for n in names if n.endswith((".flac", ".wav"))]) == len(STEMS) * 2, names


def check_exported_mix(page: Page, job: dict[str, Any], tmp_path: Path, duration: float) -> None:
    """Drums muted and vocals soloed: the exported mix is the vocals stem at unity."""
    with page.expect_download(timeout=60_000) as export:
        page.get_by_test_id("export").click()
    mix_path = tmp_path / "mix.wav"
    export.value.save_as(mix_path)
    assert export.value.suggested_filename.endswith("(my mix).wav")
    mix, rate = sf.read(mix_path, dtype="float32")
    assert sf.info(mix_path).format == "WAV"
    vocals_url = next(s for s in job["stems"] if s["name"] == "vocals")["urls"]["wav"]
    stem_file = httpx.get(vocals_url, follow_redirects=True)  # 307 to a signed link
    vocals, vocals_rate = sf.read(io.BytesIO(stem_file.content), dtype="float32")
    assert rate == vocals_rate == 44100
    assert mix.shape == vocals.shape, (mix.shape, vocals.shape)
    assert mix.shape[0] / rate == pytest.approx(duration, abs=1 / rate)
    # 16-bit rounding apart, the same signal: the other stems are not in it.
    assert np.max(np.abs(mix - vocals)) < 2e-3
    assert np.sqrt(np.mean(mix**2)) > 0.01


def test_cancel_an_upload_and_delete_a_job(
    browser: Browser, stack: Stack, excerpt: Path, tmp_path: Path
) -> None:
    """A cancelled upload leaves no job behind; Cancel keeps a job as cancelled, and
    Delete then removes it everywhere."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(stack.base_url + "/")
    choose_strategy(page, "four-stems-dsp")
    # A slow uplink, so the upload is still going when Cancel is pressed.
    network = context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 20_000},
    )
    page.get_by_test_id("file-input").set_input_files(excerpt)
    uploading = page.locator(".upload.uploading")
    expect(uploading).to_be_visible()
    # The bar moves while the bytes go out.
    expect(uploading.get_by_role("progressbar")).not_to_have_attribute(
        "aria-valuenow", "0", timeout=30_000
    )
    uploading.get_by_role("button", name="Cancel").click()
    expect(page.locator(".upload.cancelled").get_by_role("alert")).to_have_text("Cancelled.")
    with stack.client() as client:
        assert client.get("/api/jobs").json()["count"] == 0
        assert client.get("/health").status_code == 200

    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.get_by_test_id("file-input").set_input_files(excerpt)
    expect(page.get_by_test_id("job-card")).to_contain_text("Next in line", timeout=60_000)
    page.get_by_role("link", name="Jobs", exact=True).click()
    row = page.get_by_test_id("job-row")
    expect(row).to_have_count(1)
    job_id = row.get_attribute("data-job-id")
    # No worker runs, so the job is still queued: Cancel, and the row stays, cancelled.
    row.get_by_role("button", name=f"Cancel {excerpt.name}").click()
    expect(row.locator(".status-pill")).to_have_text("Cancelled")
    expect(row.get_by_role("progressbar")).to_have_count(0)
    with stack.client() as client:
        cancelled = client.get(f"/api/jobs/{job_id}").json()
        assert (cancelled["status"], cancelled["stems"]) == ("cancelled", [])
    shot(page, "jobs-cancelled-desktop")

    # Delete asks first.
    row.get_by_role("button", name=f"Delete {excerpt.name}").click()
    row.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("heading", name="No jobs yet")).to_be_visible()
    assert_finished_page(page)
    shot(page, "jobs-empty-desktop")
    with stack.client() as client:
        assert client.get(f"/api/jobs/{job_id}").status_code == 404
    page.goto(f"{stack.base_url}/jobs/{job_id}")
    expect(page.get_by_role("alert")).to_contain_text("No job with id")
    shot(page, "player-missing-job-desktop")
    context.close()


def test_playback_starts_before_every_stem_has_loaded(
    browser: Browser, stack: Stack, excerpt: Path
) -> None:
    """On a slow link the first stem to arrive can play; the others join on its clock."""
    job = completed_job(stack, excerpt)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    network = context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": 400_000, "uploadThroughput": -1},
    )
    page.goto(f"{stack.base_url}/jobs/{job['id']}")
    play = page.get_by_test_id("play")
    expect(play).to_be_enabled(timeout=60_000)
    still_loading = page.get_by_test_id("stem-loading").count()
    assert still_loading > 0, "every stem had loaded before play was possible"
    play.click()
    # Loop the whole song, so every source keeps running however long the rest takes.
    page.locator("body").press("l")
    assert player(page, "p.loop") is not None
    expect(page.locator(".stem-loading .progress").first).to_be_visible()
    shot(page, "player-loading-desktop", full_page=False)
    expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=120_000)
    starts = player(page, "p.sourceStarts()")
    assert sorted(start["name"] for start in starts) == sorted(STEMS), starts
    # One song timeline: each source maps context time to song time alike (modulo the loop).
    span = player(page, "p.loop.end - p.loop.start")
    anchors = {
        round((start["offset"] - start["when"]) % span, 6) % round(span, 6) for start in starts
    }
    assert len(anchors) == 1, f"stems are not on one timeline: {starts}"
    assert player(page, "p.playing") is True
    context.close()
    check_bare_audio_element(browser, stack, job)


# Loads a URL into a bare <audio> element, plays it and seeks; what the element saw.
AUDIO_PROBE = """async (url) => {
  const audio = new Audio(url);
  audio.muted = true;
  await audio.play();
  audio.currentTime = 2.5;
  await new Promise((resolve) => audio.addEventListener("seeked", resolve, { once: true }));
  return { duration: audio.duration, at: audio.currentTime, error: audio.error };
}"""


def check_bare_audio_element(browser: Browser, stack: Stack, job: dict[str, Any]) -> None:
    """A plain <audio src="…/stems/vocals.flac"> (no fetch code of the app's) follows the
    307 to the stem's signed link, plays, and seeks by asking the link for a byte range."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    linked: list[int] = []
    page.on(
        "response",
        lambda response: linked.append(response.status) if "/api/files/" in response.url else None,
    )
    page.goto(stack.base_url + "/")
    vocals = next(stem for stem in job["stems"] if stem["name"] == "vocals")
    seen = page.evaluate(AUDIO_PROBE, vocals["urls"]["flac"])
    assert seen["error"] is None, seen
    assert seen["duration"] == pytest.approx(vocals["duration_s"], abs=0.05), seen
    assert seen["at"] == pytest.approx(2.5, abs=0.05), seen
    assert 206 in linked, linked
    context.close()


def test_jobs_page_shows_older_jobs_on_request(
    browser: Browser, stack: Stack, settings: Settings, tmp_path: Path
) -> None:
    clip = tmp_path / "tiny.wav"
    sf.write(clip, np.zeros((4410, 2), dtype="float32"), 44100)
    for _ in range(PAGE_SIZE + 3):
        queued_job(settings, clip)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(stack.base_url + "/jobs")
    rows = page.get_by_test_id("job-row")
    expect(rows).to_have_count(PAGE_SIZE)
    # A hundred unfinished jobs: a few event streams, the rest carried by the list.
    page.wait_for_timeout(4000)
    streams = [url for url in requests if url.endswith("/events")]
    polls = [url for url in requests if re.search(r"/api/jobs/[0-9a-f]{32}$", url)]
    assert 1 <= len(streams) <= 4, streams
    assert polls == []
    more = page.get_by_role("button", name="Show older jobs (3 more)")
    more.click()
    expect(rows).to_have_count(PAGE_SIZE + 3)
    expect(more).to_be_hidden()
    ids = [row.get_attribute("data-job-id") for row in rows.all()]
    assert len(set(ids)) == PAGE_SIZE + 3
    context.close()

"""The web app on the all-in-one stack (`stemdeck up`: SQLite, embedded Redis, one worker).

GIVEN `stemdeck up` as `make run` starts it, and a local web server holding a song
(loopback admitted for URL jobs by the test-only setting), WHEN a musician pastes the
song's link in the browser, and then a link that is not there, THEN the first job is
downloaded, separated and opened in the player, with progress arriving over the event
stream, and the second fails in the worker with its reason shown on the jobs page.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.pages import (
    ARTIFACTS,
    DESKTOP,
    SONG,
    assert_finished_page,
    choose_strategy,
    player,
    shot,
    wait_in_page,
)
from tests.integration.stack import free_port

STEMS = ["vocals", "drums", "bass", "other"]

pytestmark = pytest.mark.slow


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def song_server(shared_audio: Path, tmp_path: Path) -> Iterator[str]:
    """A web server on 127.0.0.1 with the song at /80s-rock.wav; anything else is a 404."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "80s-rock.wav").write_bytes((shared_audio / SONG / "mixture.wav").read_bytes())
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def all_in_one(tmp_path: Path) -> Iterator[str]:
    """`stemdeck up` with nothing but a data dir and a port: what `make run` starts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    env.update(
        STEMDECK_DATA_DIR=str(tmp_path / "data"),
        STEMDECK_PORT=str(port),
        STEMDECK_INGEST_ALLOW_LOOPBACK="true",
    )
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "stemdeck.core.cli", "up"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert process.poll() is None, (tmp_path / "up.log").read_text()
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError(f"stemdeck up did not get ready: {tmp_path / 'up.log'}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_a_link_becomes_stems_in_the_player_and_a_dead_link_says_why(
    browser: Browser, all_in_one: str, song_server: str
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(all_in_one + "/")
    choose_strategy(page, "four-stems-dsp")

    # A link to the song: queued at once, then downloaded and separated by the worker.
    # Each queued job gets its card on the page, followed live.
    cards = page.get_by_test_id("job-card")
    page.get_by_label("link to the song").fill(f"{song_server}/80s-rock.wav")
    page.get_by_role("button", name="Fetch and split").click()
    expect(cards).to_have_count(1, timeout=30_000)
    # A link to nothing: the API cannot know until the worker tries it.
    page.get_by_label("link to the song").fill(f"{song_server}/no-such-song.mp3")
    page.get_by_role("button", name="Fetch and split").click()
    expect(cards).to_have_count(2, timeout=30_000)

    page.get_by_role("link", name="Jobs", exact=True).click()
    rows = page.get_by_test_id("job-row")
    expect(rows).to_have_count(2)
    dead, song = rows.nth(0), rows.nth(1)  # newest first
    host = song_server.removeprefix("http://")
    expect(song).to_contain_text(f"from {host}")
    expect(song.locator(".status-pill")).to_have_text("Ready", timeout=180_000)
    expect(dead.locator(".status-pill")).to_have_text("Failed", timeout=60_000)
    expect(dead.get_by_role("alert")).to_contain_text("answered with an error")
    expect(dead.get_by_role("alert")).to_contain_text("Check the URL")
    assert_finished_page(page)
    shot(page, "all-in-one-jobs-desktop")

    song.get_by_role("link", name="Open player").click()
    expect(page.locator("[data-testid=waveform][data-drawn=yes]")).to_have_count(len(STEMS))
    expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
    page.get_by_test_id("play").click()
    first = player(page, "p.context.currentTime")
    wait_in_page(page, f"window.stemdeckPlayer.context.currentTime > {first + 0.5}")
    assert_finished_page(page)
    shot(page, "all-in-one-player-desktop")
    context.close()

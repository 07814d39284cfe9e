"""Several links at once, from the new-job page to the batch page, in a real browser.

GIVEN the built web app on a real API and worker, with a web server on 127.0.0.1
(loopback admitted by the test-only setting) holding two songs, WHEN a musician pastes
three links (the third leads nowhere) THEN the field counts "3 songs", the button sends
them as one batch and the batch page follows it: "n of 3 done" on one bar, each song's
row, the dead link's error in words, and "Download all (zip)" with both songs' stems
once it has ended. More than 20 lines are refused before anything is sent, and on a
phone the batch page fits the screen.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from stemdeck.core.settings import Settings
from tests.e2e.pages import (
    DESKTOP,
    PHONE,
    SONG,
    assert_finished_page,
    choose_strategy,
    shot,
)
from tests.integration.stack import Stack, running_stack

pytestmark = pytest.mark.slow


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def song_server(shared_audio: Path, tmp_path: Path) -> Iterator[str]:
    """A web server on 127.0.0.1 with two songs; anything else is a 404."""
    folder = tmp_path / "site"
    folder.mkdir()
    song = (shared_audio / SONG / "mixture.wav").read_bytes()
    for name in ("first-song.wav", "second-song.wav"):
        (folder / name).write_bytes(song)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    web = os.environ.get("STEMDECK_TEST_WEB_DIR")
    with running_stack(
        settings,
        workers=1,
        STEMDECK_INGEST_ALLOW_LOOPBACK="true",
        **({"STEMDECK_WEB_DIR": web} if web else {}),
    ) as running:
        yield running


def test_three_links_become_a_batch_that_ends_in_one_zip(
    browser: Browser, stack: Stack, song_server: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    page.goto(stack.base_url + "/")
    choose_strategy(page, "four-stems-dsp")
    links = [f"{song_server}/first-song.wav", f"{song_server}/second-song.wav"]
    links.append(f"{song_server}/no-such-song.mp3")

    field = page.get_by_label("link to the song")
    field.fill("\n".join(links))
    expect(page.get_by_test_id("link-count")).to_contain_text("3 songs")
    page.get_by_role("button", name="Fetch and split 3 songs").click()

    page.wait_for_url(f"{stack.base_url}/batches/**", timeout=30_000)
    batch_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", name="Batch of 3 songs")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Progress of the batch")).to_be_visible()
    rows = page.get_by_test_id("job-row")
    expect(rows).to_have_count(3)
    done = page.get_by_test_id("batch-done")
    expect(done).to_contain_text("of 3 done")

    zip_link = page.get_by_role("link", name="Download all (zip)")
    expect(zip_link).to_be_visible(timeout=240_000)
    expect(done).to_have_text("3 of 3 done")
    expect(page.get_by_text("1 failed.")).to_be_visible()
    dead = rows.filter(has_text="no-such-song")
    expect(dead.get_by_role("alert")).to_contain_text("Check the URL")
    expect(page.get_by_role("link", name="Open player")).to_have_count(2)
    assert_finished_page(page)
    shot(page, "batch-done-desktop")

    with page.expect_download() as download:
        zip_link.click()
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
        names = archive.namelist()
    # Both songs' stems, and nothing of the link that failed.
    for stem in ("vocals", "drums", "bass", "other"):
        assert sum(f" - {stem}." in name for name in names) == 2, names
    with stack.client() as client:
        batch = client.get(f"/api/batches/{batch_id}").json()
    counts = {status: n for status, n in batch["counts"].items() if n}
    assert (batch["status"], counts) == ("partial", {"completed": 2, "failed": 1}), batch

    # A song's row leads to its player.
    (first,) = [job for job in batch["jobs"] if "first-song" in job["source"]["url"]]
    rows.filter(has_text=first["source"]["name"]).get_by_role("link", name="Open player").click()
    expect(page).to_have_url(f"{stack.base_url}/jobs/{first['id']}")
    context.close()

    phone = browser.new_context(viewport=PHONE).new_page()
    phone.goto(f"{stack.base_url}/batches/{batch_id}")
    expect(phone.get_by_role("link", name="Download all (zip)")).to_be_visible()
    assert int(phone.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"]
    shot(phone, "batch-done-phone")
    phone.context.close()


def test_more_than_twenty_links_are_refused_before_anything_is_sent(
    browser: Browser, stack: Stack
) -> None:
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(stack.base_url + "/")
    field = page.get_by_label("link to the song")
    field.fill("\n".join(f"https://songs.example/{n}.mp3" for n in range(23)))
    expect(page.get_by_test_id("link-count")).to_contain_text("23 songs")
    page.get_by_role("button", name="Fetch and split 23 songs").click()
    expect(page.locator("#url-error")).to_have_text(
        "That is 23 links; at most 20 go at once. Remove 3, or send the rest afterwards."
    )
    # A line that is not a link is named by its number.
    field.fill("https://songs.example/1.mp3\nmy song.mp3")
    page.get_by_role("button", name="Fetch and split 2 songs").click()
    expect(page.locator("#url-error")).to_contain_text("Line 2 is not a web link")
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"]
    with stack.client() as client:
        assert client.get("/api/batches").json()["count"] == 0
        assert client.get("/api/jobs").json()["count"] == 0
    page.context.close()

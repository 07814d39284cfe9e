"""A second visit to a song plays its stems from the browser's Cache Storage.

GIVEN a completed job and Debian's chromium, WHEN the player is opened once (the stems come
over the network, ranged, through freshly signed links) and then again, THEN the second
visit asks the server for no stem at all and still plays; and WHEN the job is deleted from
the jobs page, THEN the stems kept for it leave the browser too.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.e2e.pages import (
    DESKTOP,
    completed_job,
    player,
    wait_in_page,
)
from tests.integration.stack import Stack

pytestmark = pytest.mark.slow

STEMS = 4
CACHE = "stemdeck-stems-v1"
KEPT_STEMS = f"""caches.open("{CACHE}")
  .then((cache) => cache.keys())
  .then((keys) => keys.map((r) => new URL(r.url).pathname).filter((p) => p.includes("/stems/")))"""


def is_stem_audio(request: Request) -> bool:
    """A stem's audio: its authenticated URL, or the signed link that one hands out (whose
    claims, readable by design, name the part: a format, or a waveform)."""
    path = urlsplit(request.url).path
    if "/stems/" in path:
        return True
    if not path.startswith("/api/files/"):
        return False
    payload = path.removeprefix("/api/files/").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return not str(claims["part"]).startswith("waveform.")


def open_player(page: Page, url: str) -> list[str]:
    """Opens the player and waits until every stem can be heard; the stem requests made."""
    audio: list[str] = []
    page.on(
        "request", lambda request: audio.append(request.url) if is_stem_audio(request) else None
    )
    page.goto(url)
    expect(page.get_by_test_id("stem-row")).to_have_count(STEMS, timeout=60_000)
    expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=60_000)
    return audio


def test_second_visit_loads_no_stem_and_a_deleted_job_leaves_the_cache(
    browser: Browser, stack: Stack, excerpt: Path
) -> None:
    job = completed_job(stack, excerpt)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    url = f"{stack.base_url}/jobs/{job['id']}"

    first = open_player(page, url)
    assert first, "the first visit fetched no stem: the request filter sees nothing"
    # Kept once each has come in (written beside the decoding, so a moment later).
    wait_in_page(page, f"{KEPT_STEMS}.then((kept) => kept.length === {STEMS})")

    second_page = context.new_page()
    page.close()
    second = open_player(second_page, url)
    assert second == [], f"the second visit asked the server for stems: {second}"
    second_page.get_by_test_id("play").click()
    start = player(second_page, "p.position()")
    second_page.wait_for_timeout(1000)
    assert player(second_page, "p.playing") is True
    assert player(second_page, "p.position()") - start > 0.5, "the clock does not advance"
    second_page.get_by_test_id("play").click()

    # Deleted from the jobs page: its stems go from this browser as well.
    second_page.goto(f"{stack.base_url}/jobs")
    row = second_page.get_by_test_id("job-row")
    expect(row).to_have_count(1)
    row.get_by_role("button", name=f"Delete {excerpt.name}").click()
    row.get_by_role("button", name="Yes, delete").click()
    expect(second_page.get_by_role("heading", name="No jobs yet")).to_be_visible()
    wait_in_page(second_page, f"{KEPT_STEMS}.then((kept) => kept.length === 0)")
    context.close()


def test_without_cache_storage_the_player_loads_from_the_server(
    browser: Browser, stack: Stack, excerpt: Path
) -> None:
    """As on plain http from another address, where the browser offers no Cache Storage:
    every visit loads the stems from the server, and nothing fails."""
    stack.start_worker()
    with stack.client() as client, excerpt.open("rb") as audio:
        created = client.post(
            "/api/jobs",
            files={"file": (excerpt.name, audio, "audio/wav")},
            data={"strategy": "four-stems-dsp", "formats": "flac"},
        )
    job = stack.wait_for(created.json()["id"])
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script("Object.defineProperty(window, 'caches', { value: undefined })")
    url = f"{stack.base_url}/jobs/{job['id']}"
    for _visit in range(2):
        page = context.new_page()
        assert open_player(page, url), "no stem came from the server"
        expect(page.get_by_role("alert")).to_have_count(0)
        page.close()
    context.close()

"""What the Compose rehearsal checks against the running stack, through the web port.

``python scripts/rehearsal/checks.py STEP --url http://localhost:8080 --email … --password …``
from the repository root (the browser step reuses the e2e tests' page helpers). Each
step prints what it proved and exits non-zero with the reason when it cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

STATE = Path(os.environ.get("STEMDECK_REHEARSAL_WORK", "/tmp/stemdeck-rehearsal")) / "checks.json"
STEMS = ["vocals", "drums", "bass", "other"]


@contextmanager
def signed_in(args: argparse.Namespace) -> Iterator[httpx.Client]:
    """A client with the first admin's session, as the web app signs in."""
    with httpx.Client(base_url=args.url, timeout=120) as client:
        answer = client.post(
            "/api/auth/login", json={"email": args.email, "password": args.password}
        )
        if answer.status_code != 200:
            sys.exit(f"sign-in failed: {answer.status_code} {answer.text}")
        yield client


def remember(**values: Any) -> None:
    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    STATE.write_text(json.dumps({**state, **values}))


def recalled(key: str) -> Any:
    return json.loads(STATE.read_text())[key]


def wait_done(client: httpx.Client, job_id: str, limit_s: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in {"completed", "failed"}:
            return job
        time.sleep(2)
    sys.exit(f"job {job_id} not done after {limit_s:g} s")


def variant(song: Path, number: int, repeats: int = 1) -> Path:
    """The song ``repeats`` times over at its own gain: new bytes, so the server cannot
    answer the job with an earlier job's stems (it reuses those of identical uploads)."""
    import numpy as np
    import soundfile as sf

    audio, rate = sf.read(song, dtype="float32")
    path = STATE.parent / f"variant-{number}.wav"
    sf.write(path, np.tile(audio, (repeats, 1)) * (0.95 - 0.05 * number), rate)
    return path


def submit(client: httpx.Client, song: Path, strategy: str) -> str:
    with song.open("rb") as audio:
        answer = client.post(
            "/api/jobs",
            files={"file": (song.name, audio, "audio/wav")},
            data={"strategy": strategy, "formats": "flac"},
        )
    if answer.status_code != 202:
        sys.exit(f"job refused: {answer.status_code} {answer.text}")
    job_id: str = answer.json()["id"]
    return job_id


def step_strategies(args: argparse.Namespace) -> None:
    """The offline default is offered: what the workers can run is ready, not what the API has."""
    with signed_in(args) as client:
        listed = client.get("/api/strategies").json()
    available = [s["name"] for s in listed if s["available"]]
    default = next((s["name"] for s in listed if s["default"]), None)
    print(f"  strategies that would start now: {', '.join(available)}; default {default}")
    if default != args.expect_default:
        sys.exit(f"the default strategy is {default}, not {args.expect_default}")


def step_browser(args: argparse.Namespace) -> None:
    """Sign in, upload, follow progress by SSE, play every stem, download the zip."""
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.pages import CHROMIUM, CHROMIUM_FLAGS, DESKTOP, choose_strategy

    song = Path(args.song)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_context(viewport=DESKTOP, accept_downloads=True).new_page()
        streams: list[str] = []
        ranged: list[int] = []
        page.on("request", lambda r: streams.append(r.url) if r.url.endswith("/events") else None)
        page.on(
            "response",
            lambda r: ranged.append(r.status) if f"/{args.bucket}/" in r.url else None,
        )
        page.goto(args.url + "/")
        page.get_by_label("Email").fill(args.email)
        page.get_by_label("Password").fill(args.password)
        page.get_by_role("button", name="Sign in").click()
        choose_strategy(page, args.strategy)
        page.get_by_test_id("file-input").set_input_files(song)
        page.get_by_role("link", name="Jobs", exact=True).click()
        row = page.get_by_test_id("job-row").filter(has_text=song.name)
        expect(row.get_by_test_id("job-percent")).to_have_text("100 %", timeout=900_000)
        expect(row.locator(".status-pill")).to_have_text("Ready")
        job_id = row.get_attribute("data-job-id")
        assert streams, "the jobs page opened no event stream"
        print(f"  job {job_id}: progress arrived over {len(streams)} event stream(s) to 100 %")
        row.get_by_role("link", name="Open player").click()
        expect(page.get_by_test_id("stem-row")).to_have_count(len(STEMS))
        expect(page.get_by_test_id("stem-loading")).to_have_count(0, timeout=120_000)
        page.get_by_test_id("play").click()
        expect(page.get_by_test_id("play")).to_have_text("Pause")
        page.wait_for_timeout(1500)
        playing = page.evaluate("window.stemdeckPlayer.position()")
        assert playing > 0.2, f"the player did not advance: {playing}"
        assert ranged and set(ranged) <= {200, 206}, ranged
        print(f"  player: {len(STEMS)} stems loaded from the bucket through nginx, playing")
        with page.expect_download(timeout=120_000) as download:
            page.get_by_test_id("zip").click()
        with zipfile.ZipFile(download.value.path()) as archive:
            names = [n for n in archive.namelist() if n.endswith(".flac")]
        assert len(names) == len(STEMS), names
        print(f"  zip: {len(names)} FLAC stems")
        browser.close()
    remember(first_job=job_id)


def step_jobs(args: argparse.Namespace) -> None:
    """``args.count`` jobs of different audio at once (the script asks who ran them)."""
    song = Path(args.song)
    with signed_in(args) as client:
        ids = [submit(client, variant(song, n, 4), args.strategy) for n in range(args.count)]
        jobs = [wait_done(client, job_id) for job_id in ids]
    failed = [job for job in jobs if job["status"] != "completed"]
    if failed:
        sys.exit(f"jobs failed: {failed}")
    print(f"  {len(jobs)} jobs completed")
    remember(last_jobs=ids)


def step_kill_target(args: argparse.Namespace) -> None:
    """Submit a job and print its id once a worker runs it (the script kills that worker)."""
    with signed_in(args) as client:
        # Two minutes of audio: long enough to be mid-job when the worker is killed.
        job_id = submit(client, variant(Path(args.song), args.count + 1, 18), args.strategy)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            job = client.get(f"/api/jobs/{job_id}").json()
            if job["status"] == "running" and job.get("progress", 0) > 0:
                break
            time.sleep(0.5)
        else:
            sys.exit(f"job {job_id} never ran")
    remember(killed_job=job_id)
    print(job_id)


def step_recovered(args: argparse.Namespace) -> None:
    job_id = recalled("killed_job")
    with signed_in(args) as client:
        job = wait_done(client, job_id)
    if job["status"] != "completed":
        sys.exit(f"the killed worker's job did not recover: {job}")
    print(f"  job {job_id}, whose worker was SIGKILLed, completed after the restart")


def step_persisted(args: argparse.Namespace) -> None:
    """After stop/start: the first job and its stems are still there; the bucket checks
    the presigned URL's signature through nginx."""
    job_id = recalled("first_job")
    with signed_in(args) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job.get("status") != "completed":
            sys.exit(f"job {job_id} after restart: {job}")
        stem = job["stems"][0]
        answer = client.get(stem["urls"]["flac"], follow_redirects=False)
        link = answer.headers.get("location", "")
        if answer.status_code not in {302, 303, 307} or f"/{args.bucket}/" not in link:
            sys.exit(f"the stem URL did not send to the bucket: {answer.status_code} {link}")
        audio = httpx.get(link, timeout=60)
        if audio.status_code != 200 or len(audio.content) != stem["sizes"]["flac"]:
            sys.exit(f"the presigned stem did not download: {audio.status_code}")
        forged = tampered(link)
        refused = httpx.get(forged, timeout=60)
        if refused.status_code != 403:
            sys.exit(f"a tampered presigned URL got {refused.status_code}, not 403")
    print(
        f"  job {job_id} and its stems survived stop/start; its presigned link "
        f"({urlsplit(link).netloc}) downloads through nginx, a tampered one gets 403"
    )


def tampered(link: str) -> str:
    parts = urlsplit(link)
    query = dict(parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    return urlunsplit(parts._replace(query=urlencode(query)))


STEPS = {
    "strategies": step_strategies,
    "browser": step_browser,
    "jobs": step_jobs,
    "kill-target": step_kill_target,
    "recovered": step_recovered,
    "persisted": step_persisted,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--url", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--song", default="")
    parser.add_argument("--strategy", default="four-stems-dsp")
    parser.add_argument("--bucket", default="stemdeck")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--expect-default", default="four-stems-lite")
    args = parser.parse_args()
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STEPS[args.step](args)


if __name__ == "__main__":
    main()

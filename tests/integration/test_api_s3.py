"""The API and the worker on an S3-compatible store (a real server on 127.0.0.1).

GIVEN STEMDECK_STORAGE=s3, WHEN stems are asked for, THEN the API redirects to
presigned URLs that answer with the audio (attachment named after the song for
downloads, inline for players, ranges for seeking, cached for good with the store's
strong ETag); uploads stream into the bucket; and a store that
is down makes /ready answer 503 and a job fail saying what to check.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.core.db import session_scope
from stemdeck.core.models import Job, utcnow
from stemdeck.core.public_errors import REF_PATTERN
from stemdeck.core.queue import redis_connection
from stemdeck.core.reconciler import Reconciler
from stemdeck.core.settings import Settings
from stemdeck.core.storage import keys, make_storage
from stemdeck.core.storage.s3 import S3Storage
from tests.conftest import s3_values
from tests.integration.factories import queued_job
from tests.integration.stack import free_port
from tests.integration.test_worker import load, work
from tests.s3server import running_s3_server

from .conftest import StoredJob

MakeJob = Callable[..., StoredJob]


@pytest.fixture
def settings(s3_settings: Settings) -> Settings:
    """Every fixture built on `settings` (app, storage, stored jobs) uses the S3 store."""
    return s3_settings


@pytest.fixture
def job(make_stored_job: MakeJob) -> StoredJob:
    return make_stored_job(stems=("vocals", "drums"), formats=("flac", "mp3"))


def _follow(client: TestClient, path: str, **headers: str) -> httpx.Response:
    redirect = client.get(path, follow_redirects=False)
    assert redirect.status_code == 307, redirect.text
    return httpx.get(redirect.headers["location"], headers=headers)


def test_the_app_makes_its_missing_bucket_at_start(settings: Settings) -> None:
    store = make_storage(settings)
    assert isinstance(store, S3Storage)
    assert not store.client.bucket_exists(store.bucket)
    with TestClient(create_app(settings)) as client:
        assert store.client.bucket_exists(store.bucket)
        assert client.get("/ready").json()["checks"]["storage"] == "ok"


def test_stems_redirect_to_presigned_urls_for_players_and_downloads(
    client: TestClient, job: StoredJob
) -> None:
    path = f"/api/jobs/{job.id}/stems/vocals.flac"
    expected = job.files[keys.stem(job.id, "vocals", "flac")]

    played = _follow(client, path)
    downloaded = _follow(client, path + "?download=1")
    sought = _follow(client, path, Range="bytes=10-19")

    assert played.status_code == 200
    assert played.content == expected
    assert played.headers["content-type"] == "audio/flac"
    assert played.headers["content-disposition"] == "inline"
    assert downloaded.content == expected
    assert downloaded.headers["content-disposition"] == (
        'attachment; filename="My Song - vocals.flac"'
    )
    assert sought.status_code == 206
    assert sought.content == expected[10:20]


def test_presigned_stems_are_cached_for_good_and_revalidate_with_a_strong_etag(
    client: TestClient, job: StoredJob
) -> None:
    """GIVEN the S3 store WHEN a stem is fetched by its presigned URL THEN the store
    answers with the Cache-Control the API signed into it and its own strong ETag (the
    object's MD5), keeps that ETag for a range, and answers If-None-Match with 304."""
    path = f"/api/jobs/{job.id}/stems/vocals.flac"
    redirect = client.get(path, follow_redirects=False)
    url = redirect.headers["location"]

    whole = httpx.get(url)
    etag = whole.headers["etag"]
    sought = httpx.get(url, headers={"Range": "bytes=10-19"})
    cached = httpx.get(url, headers={"If-None-Match": etag})

    assert redirect.headers["cache-control"] == "no-store"  # the redirect itself is not kept
    assert whole.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert re.fullmatch(r'"[^"]+"', etag)  # strong: no W/ prefix
    assert sought.status_code == 206 and sought.headers["etag"] == etag
    assert sought.headers["cache-control"] == whole.headers["cache-control"]
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag


def test_a_presigned_download_is_named_after_the_song_in_utf8(
    client: TestClient, make_stored_job: MakeJob
) -> None:
    stored = make_stored_job(stems=("vocals",), formats=("flac",), source_name='Ça "va".wav')

    downloaded = _follow(client, f"/api/jobs/{stored.id}/stems/vocals.flac?download=1")

    assert downloaded.status_code == 200
    assert downloaded.headers["content-disposition"] == (
        "attachment; filename=\"Ca 'va' - vocals.flac\"; "
        "filename*=UTF-8''%C3%87a%20%27va%27%20-%20vocals.flac"
    )


def test_waveforms_and_the_zip_come_from_the_bucket(client: TestClient, job: StoredJob) -> None:
    peaks = _follow(client, f"/api/jobs/{job.id}/waveforms/drums.json")
    archive = client.get(f"/api/jobs/{job.id}/stems.zip")

    assert peaks.json() == {"peaks": [0.1, 0.5]}
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert sorted(names) == sorted(
        f"My Song/My Song - {stem}.{fmt}" for stem in ("vocals", "drums") for fmt in ("flac", "mp3")
    )


def test_an_upload_streams_into_the_bucket_and_delete_empties_it(
    client: TestClient, settings: Settings, mixture: Path
) -> None:
    with mixture.open("rb") as handle:
        response = client.post(
            "/api/jobs",
            files={"file": ("song.wav", handle, "audio/wav")},
            data={"strategy": "four-stems-dsp"},
        )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    store = make_storage(settings)
    assert store.read_bytes(keys.source(job_id, "wav")) == mixture.read_bytes()

    assert client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert not store.exists(keys.source(job_id, "wav"))


def test_a_store_that_is_down_makes_ready_503_and_uploads_refused(
    make_settings: Callable[..., Settings], mixture: Path
) -> None:
    settings = make_settings(**s3_values(f"http://127.0.0.1:{free_port()}"))
    with TestClient(create_app(settings)) as client:
        ready = client.get("/ready")
        with mixture.open("rb") as handle:
            upload = client.post("/api/jobs", files={"file": ("song.wav", handle, "audio/wav")})
        health = client.get("/health")

    assert ready.status_code == 503
    body = ready.json()
    assert body["error"]["code"] == "not_ready"
    assert "storage" in body["error"]["message"]
    assert body["checks"]["database"] == body["checks"]["redis"] == "ok"
    assert body["checks"]["storage"] == "unavailable"
    assert "127.0.0.1" not in ready.text  # the store's address is for the log only
    assert upload.status_code == 503
    assert upload.json()["error"]["code"] == "storage_unavailable"
    assert health.status_code == 200
    with session_scope(settings.effective_database_url) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_job_runs_end_to_end_on_the_bucket(settings: Settings, shared_audio: Path) -> None:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    make_storage(settings).check()  # what the API does at start
    job_id = queued_job(settings, song, "center-sides", ("flac",))

    work(settings)

    job = load(settings, job_id)
    assert job.status == "completed", job.error
    store = make_storage(settings)
    for stem in job.stems:
        assert store.size(stem.keys["flac"]) == stem.sizes["flac"] > 0
        assert store.exists(stem.waveform_png_key)
    assert store.exists(keys.metadata(job_id))


def test_a_job_whose_store_goes_down_fails_saying_what_to_check(
    make_settings: Callable[..., Settings], shared_audio: Path, tmp_path: Path
) -> None:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    with running_s3_server(tmp_path / "moto.log") as server:
        settings = make_settings(**s3_values(server.endpoint))
        make_storage(settings).check()
        job_id = queued_job(settings, song, "center-sides", ("flac",))
        server.stop()

        work(settings)

    job = load(settings, job_id)
    assert job.status == "failed"
    assert job.error is not None
    assert "file store could not be used" in job.error
    assert "GET /ready" in job.error
    # Where the store is and what it answered go to the log, under the job's id.
    assert server.endpoint not in job.error and "127.0.0.1" not in job.error
    reference = REF_PATTERN.search(job.error)
    assert reference is not None and reference[1] == job_id, job.error


def test_retention_with_the_store_down_keeps_the_job_and_the_reconciler_running(
    make_settings: Callable[..., Settings], shared_audio: Path, tmp_path: Path
) -> None:
    """GIVEN a job past its retention WHEN the store is down at the reconciler's pass THEN
    the row stays (its files are still there to delete next time) and the pass ends
    normally instead of killing the reconciler."""
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    with running_s3_server(tmp_path / "moto.log") as server:
        settings = make_settings(retention_days=7, **s3_values(server.endpoint))
        make_storage(settings).check()
        job_id = queued_job(settings, song, "center-sides", ("flac",))
        work(settings)
        with session_scope(settings.effective_database_url) as session:
            stored = session.get(Job, job_id)
            assert stored is not None and stored.status == "completed"
            stored.finished_at = utcnow() - timedelta(days=8)
        server.stop()

        reconciler = Reconciler(
            settings, redis_connection(settings.require_redis_url()), make_storage(settings)
        )
        report = reconciler.run_once()

    assert report.deleted == []
    assert load(settings, job_id).status == "completed"

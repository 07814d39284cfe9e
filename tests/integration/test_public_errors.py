"""No answer shows the server's insides: a failure says what to do and gives an error
reference (a failed job's id, a failed request's X-Request-ID); the paths, URLs and
exception texts go to the log, on a line that carries the same id.

Real app, Postgres, Redis and burst worker; dependencies are made unreachable by
pointing at a closed port on loopback.
"""

from __future__ import annotations

import logging
import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from stemdeck.api.app import create_app
from stemdeck.core.public_errors import REF_PATTERN
from stemdeck.core.settings import Settings
from tests.integration.factories import queued_job, work
from tests.integration.stack import free_port

# Whatever tells how the server is laid out or what raised: URLs, errno tags, and the
# way Python and redis-py word a failed connection.
INTERNALS = re.compile(r"://|\[Errno|Error \d+|Errno|Traceback|127\.0\.0\.1:\d")


def assert_shows_no_internals(text: str, settings: Settings) -> str:
    """The error reference ``text`` gives, once it is known to hold no internals."""
    assert not INTERNALS.search(text), text
    for root in (settings.data_dir, settings.effective_models_dir, Path.cwd()):
        assert str(root.absolute()) not in text and str(root.resolve()) not in text, text
    found = REF_PATTERN.search(text)
    assert found, f"no error reference in {text!r}"
    return found[1]


def logged_under(caplog: pytest.LogCaptureFixture, ref: str) -> str:
    """Every log record that names ``ref``, with its traceback."""
    records = [record for record in caplog.records if ref in record.getMessage()]
    assert records, f"nothing logged under {ref}"
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter())
    return "\n".join(handler.format(record) for record in records)


def test_a_model_failure_shows_neither_path_nor_url_and_logs_both_under_its_reference(
    settings: Settings, client: TestClient, mixture: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a worker whose Demucs weights must be fetched, from a mirror nobody answers
    at, into a models directory where `demucs` is a file WHEN a Demucs job runs THEN it
    fails naming the model and the file relative to the models directory, with an error
    reference; the mirror's URL, the errno and the absolute path are only in the log."""
    models = settings.effective_models_dir
    models.mkdir(parents=True)
    (models / "demucs").write_text("a file where a folder should be")
    job_id = queued_job(settings, mixture, "htdemucs")

    with caplog.at_level(logging.WARNING):
        work(settings)
    job = client.get(f"/api/jobs/{job_id}").json()

    assert (job["status"], job["error_code"]) == ("failed", "separation_failed")
    assert assert_shows_no_internals(job["error"], settings) == job_id
    assert "demucs:htdemucs" in job["error"]
    assert "demucs/" in job["error"]  # the weight file, relative to the models directory
    details = logged_under(caplog, job_id)
    assert "http://127.0.0.1:1/demucs/" in details
    assert str(models.absolute()) in details or str(models.resolve()) in details


def test_a_download_that_fails_shows_no_tool_output_and_logs_it_under_its_reference(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a URL job whose server refuses connections WHEN the worker tries it THEN the
    job says the download failed and what to do, with an error reference; what yt-dlp
    said (the address, the errno) is in the log under it."""
    settings = make_settings(ingest_allow_loopback=True)
    url = f"http://127.0.0.1:{free_port()}/song.mp3"  # nothing listens there
    with TestClient(create_app(settings)) as client:
        created = client.post("/api/jobs", json={"url": url})
        assert created.status_code == 202, created.text
        with caplog.at_level(logging.WARNING):
            work(settings)
        job = client.get(created.json()["url"]).json()

    assert (job["status"], job["error_code"]) == ("failed", "download_failed")
    assert job["source"]["url"] == url  # the caller's own input, shown back as sent
    assert assert_shows_no_internals(job["error"], settings) == job["id"]
    assert "Check the URL" in job["error"]
    assert "Connection refused" in logged_under(caplog, job["id"])


def test_ready_names_a_dependency_that_is_down_in_plain_words(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.WARNING):
        response = client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "unavailable", "storage": "ok"}
    error = body["error"]
    assert error["code"] == "not_ready"
    assert error["message"].startswith("Not ready: redis is unavailable.")
    ref = assert_shows_no_internals(response.text, settings)
    assert error["ref"] == ref == response.headers["X-Request-ID"]
    assert "Connection refused" in logged_under(caplog, ref)


def test_a_database_that_is_down_gives_a_503_with_a_reference_and_no_driver_text(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
    )
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.WARNING):
        response = client.get("/api/jobs")

    assert response.status_code == 503
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "database_unavailable"
    ref = assert_shows_no_internals(response.text, settings)
    assert error["ref"] == ref == response.headers["X-Request-ID"]
    assert "psycopg" not in response.text.lower()
    assert "psycopg" in logged_under(caplog, ref).lower()


def test_an_unexpected_exception_is_a_500_with_a_reference_and_no_exception_text(
    app: FastAPI, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A route that raises what nobody expected (stood in for by a route added to the
    real app) answers the error JSON; the exception and traceback go to the log."""

    def broken() -> None:
        raise RuntimeError(f"cannot open {settings.data_dir.absolute()}/secret.db")

    app.add_api_route("/api/broken", broken)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.WARNING),
    ):
        response = client.get("/api/broken")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    ref = assert_shows_no_internals(response.text, settings)
    assert error["ref"] == ref == response.headers["X-Request-ID"]
    assert "RuntimeError" not in response.text and "secret.db" not in response.text
    details = logged_under(caplog, ref)
    assert "secret.db" in details and "Traceback" in details


def test_an_upload_ffmpeg_cannot_decode_is_refused_without_its_memory_addresses(
    client: TestClient, mixture: Path, tmp_path: Path, settings: Settings
) -> None:
    """GIVEN an M4A whose AAC frames are overwritten with noise halfway WHEN it is uploaded
    THEN it is refused as damaged, in ffmpeg's words about the audio, without the
    `[aac @ 0x55…]` address of the server's decoder or the path of its copy."""
    song = tmp_path / "song.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(mixture), "-t", "3", "-c:a", "aac", str(song)],
        check=True,
    )
    data = bytearray(song.read_bytes())
    noise = random.Random(5)
    middle = len(data) // 2
    data[middle : middle + 3000] = bytes(noise.randrange(256) for _ in range(3000))

    response = client.post("/api/jobs", files={"file": ("song.m4a", bytes(data), "audio/mp4")})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "corrupt_audio"
    assert "cannot be decoded" in error["message"]
    assert not re.search(r"0x[0-9a-f]{6,}", error["message"]), error["message"]
    assert not INTERNALS.search(error["message"]) and str(tmp_path) not in error["message"]

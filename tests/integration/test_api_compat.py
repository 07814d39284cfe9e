"""The older "Stem Splitter" routes: /upload, /status, /download, /job — same logic as /api."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from redis import Redis

from stemdeck.core.queue import separate_queue
from stemdeck.core.storage import keys

from .conftest import Leftovers, StoredJob, Upload


def test_upload_queues_a_job_like_the_api(
    client: TestClient, upload: Upload, mixture: Path, redis_conn: Redis
) -> None:
    response = upload(mixture.read_bytes(), path="/upload", strategy="center-sides")

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["status_url"].endswith(f"/status/{body['job_id']}")
    assert response.headers["location"].endswith(f"/api/jobs/{body['job_id']}")
    assert separate_queue(redis_conn).job_ids == [body["job_id"]]
    assert client.get(f"/api/jobs/{body['job_id']}").json()["strategy"] == "center-sides"


def test_upload_refuses_bad_input_with_the_same_errors(
    upload: Upload, assert_refused: Callable[..., dict[str, str]]
) -> None:
    assert_refused(upload(b"", path="/upload"), 400, "empty_file")
    assert_refused(upload(b"plain text" * 100, path="/upload"), 415, "unsupported_media")


def test_status_reports_progress_and_download_links(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    stored = make_stored_job(stems=("vocals", "drums"), formats=("mp3", "flac"))

    status = client.get(f"/status/{stored.id}").json()

    assert (status["job_id"], status["status"], status["progress"]) == (stored.id, "completed", 1)
    assert status["stems"] == ["vocals", "drums"]
    assert status["downloads"]["drums"].endswith(f"/download/{stored.id}/drums")


def test_download_sends_the_jobs_first_format_unless_asked(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    stored = make_stored_job(stems=("vocals",), formats=("mp3", "flac"))

    default = client.get(f"/download/{stored.id}/vocals")
    flac = client.get(f"/download/{stored.id}/vocals", params={"format": "flac"})

    assert default.content == stored.files[keys.stem(stored.id, "vocals", "mp3")]
    assert default.headers["content-disposition"] == 'attachment; filename="My Song - vocals.mp3"'
    assert flac.content == stored.files[keys.stem(stored.id, "vocals", "flac")]
    ranged = client.get(f"/download/{stored.id}/vocals", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and len(ranged.content) == 10


def test_delete_removes_everything(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    leftovers: Callable[[], Leftovers],
) -> None:
    stored = make_stored_job()

    response = client.delete(f"/job/{stored.id}")

    assert response.status_code == 200
    assert response.json() == {"job_id": stored.id, "deleted": True}
    assert leftovers().empty, leftovers()
    assert client.get(f"/status/{stored.id}").status_code == 404


def test_unknown_jobs_are_404_everywhere(client: TestClient) -> None:
    unknown = "0" * 32
    for response in (
        client.get(f"/status/{unknown}"),
        client.get(f"/download/{unknown}/vocals"),
        client.delete(f"/job/{unknown}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "job_not_found"

"""POST/GET/DELETE /api/jobs against real Postgres and Redis."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from stemdeck.api.app import create_app
from stemdeck.core.db import session_scope
from stemdeck.core.models import Job
from stemdeck.core.queue import SEPARATE_QUEUE, SEPARATE_TASK, separate_queue
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus

from .conftest import (
    MULTIPART_TAIL,
    MULTIPART_TYPE,
    Leftovers,
    StoredJob,
    Upload,
    multipart_head,
)


def _row(settings: Settings, job_id: str) -> Job | None:
    with session_scope(settings.effective_database_url) as session:
        return session.get(Job, job_id)


def test_upload_stores_the_file_writes_the_row_then_queues_it(
    upload: Upload, mixture: Path, settings: Settings, redis_conn: Redis
) -> None:
    content = mixture.read_bytes()

    response = upload(content, filename="80s Rock.wav")

    assert response.status_code == 202, response.text
    body = response.json()
    job_id = body["id"]
    assert response.headers["location"] == body["url"]
    assert body["url"].endswith(f"/api/jobs/{job_id}")
    assert body["status"] == "queued"
    # With no STEMDECK_DEFAULT_STRATEGY, the first strategy whose weights are present.
    assert body["strategy"] == "four-stems-lite"
    assert body["formats"] == settings.default_formats
    assert body["source"] == {
        "name": "80s Rock.wav",
        "url": None,
        "title": None,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
        "duration_s": pytest.approx(6.8, abs=0.01),
        "format": "wav",
        "sample_rate": 44100,
        "channels": 2,
    }
    row = _row(settings, job_id)
    assert row is not None and row.status == JobStatus.queued
    stored = settings.storage_root / row.source_key
    assert row.source_key == f"jobs/{job_id}/source.wav"
    assert stored.read_bytes() == content
    # RQ job id == row id, the task by dotted path, args only the id, JSON-serialised.
    entry = RQJob.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert entry.func_name == SEPARATE_TASK
    assert list(entry.args) == [job_id]
    assert entry.origin == SEPARATE_QUEUE
    assert entry.timeout is not None and entry.timeout > 0
    raw = redis_conn.hget(f"rq:job:{job_id}", "data")
    assert isinstance(raw, bytes)
    assert json.loads(zlib.decompress(raw))[0] == SEPARATE_TASK
    assert separate_queue(redis_conn).job_ids == [job_id]


def test_strategy_and_formats_can_be_chosen(
    client: TestClient, mixture: Path, settings: Settings
) -> None:
    response = client.post(
        "/api/jobs",
        files={"file": ("song.wav", mixture.read_bytes(), "audio/wav")},
        # repeated and comma-separated forms mix; repeats are dropped, order kept
        data={"strategy": "center-sides", "formats": ["wav, MP3", "opus", "wav"]},
    )

    assert response.status_code == 202, response.text
    row = _row(settings, response.json()["id"])
    assert row is not None
    assert (row.strategy, row.formats) == ("center-sides", ["wav", "mp3", "opus"])


def test_the_stored_extension_comes_from_the_bytes_not_the_name(
    upload: Upload, tmp_path: Path, mixture: Path, settings: Settings
) -> None:
    import soundfile as sf

    flac = tmp_path / "real.flac"
    data, rate = sf.read(mixture)
    sf.write(flac, data, rate)

    response = upload(flac.read_bytes(), filename="song.mp3")

    assert response.status_code == 202, response.text
    row = _row(settings, response.json()["id"])
    assert row is not None
    assert row.source_key.endswith("/source.flac")
    assert (row.source_format, row.source_name) == ("flac", "song.mp3")


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../etc/passwd.wav", "passwd.wav"),
        ("..\\..\\windows\\system.ini.wav", "system.ini.wav"),
        ("  .hidden song.wav ", "hidden song.wav"),
        ("a" * 400 + ".wav", "a" * 196 + ".wav"),
    ],
)
def test_client_file_names_are_only_displayed_and_sanitised(
    upload: Upload,
    mixture: Path,
    settings: Settings,
    leftovers: Callable[[], Leftovers],
    filename: str,
    shown: str,
) -> None:
    response = upload(mixture.read_bytes(), filename=filename)

    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.json()["source"]["name"] == shown
    # Stored under the server's key, inside the storage root, nowhere else.
    assert leftovers().files == [f"jobs/{job_id}/source.wav"]
    data_dir = settings.data_dir
    assert sorted(p.name for p in data_dir.iterdir()) == ["storage"]
    assert not (settings.storage_root.parent.parent / "etc").exists()


def test_control_characters_in_a_raw_file_name_are_dropped(
    client: TestClient, mixture: Path
) -> None:
    """Built by hand: HTTP clients escape these, a hostile client does not."""
    name = "evil\x1b[31m\x07\u202egnp\x00.wav".encode()
    body = multipart_head(name) + mixture.read_bytes() + MULTIPART_TAIL

    response = client.post("/api/jobs", content=body, headers={"content-type": MULTIPART_TYPE})

    assert response.status_code == 202, response.text
    assert response.json()["source"]["name"] == "evil[31mgnp.wav"


def test_jobs_are_listed_newest_first_with_pagination(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [make_stored_job(created_at=start + timedelta(minutes=i)).id for i in range(5)]

    first = client.get("/api/jobs", params={"limit": 2}).json()
    rest = client.get("/api/jobs", params={"limit": 2, "offset": 4}).json()

    assert [job["id"] for job in first["data"]] == ids[::-1][:2]
    assert (first["count"], first["limit"], first["offset"]) == (5, 2, 0)
    assert [job["id"] for job in rest["data"]] == [ids[0]]
    assert client.get("/api/jobs").json()["limit"] == 20


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=lots"])
def test_pagination_bounds_are_enforced(client: TestClient, query: str) -> None:
    response = client.get(f"/api/jobs?{query}")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert query.split("=")[0] in error["message"]


def test_a_completed_job_shows_its_stems_and_their_urls(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    stored = make_stored_job(stems=("vocals", "drums"), formats=("flac", "mp3"))

    job = client.get(f"/api/jobs/{stored.id}").json()

    assert job["status"] == "completed"
    assert [stem["name"] for stem in job["stems"]] == ["vocals", "drums"]
    vocals = job["stems"][0]
    assert vocals["formats"] == ["flac", "mp3"]
    assert (vocals["lufs"], vocals["peak_dbfs"], vocals["duration_s"]) == (-14.0, -1.0, 6.8)
    assert vocals["urls"]["flac"].endswith(f"/api/jobs/{stored.id}/stems/vocals.flac")
    assert vocals["download_urls"]["mp3"].endswith("/stems/vocals.mp3?download=1")
    assert vocals["waveform_url"].endswith(f"/api/jobs/{stored.id}/waveforms/vocals.json")
    assert vocals["waveform_png_url"].endswith("/waveforms/vocals.png")
    assert job["zip_url"].endswith(f"/api/jobs/{stored.id}/stems.zip")
    for url in (vocals["urls"]["flac"], vocals["waveform_url"], job["zip_url"]):
        assert client.get(url).status_code == 200, url


ANALYSIS = {
    "bpm": 120.0,
    "beats": [0.5, 1.0, 1.5, 2.0, 2.5],
    "downbeats": [0.5, 2.5],
    "key": {"tonic": "A", "mode": "minor", "name": "A minor", "confidence": 0.8},
}


def test_a_completed_job_shows_its_analysis_and_an_unfinished_one_none(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    analysed = make_stored_job(analysis=ANALYSIS)
    unanalysed = make_stored_job()  # finished before analysis, or the analysis failed
    running = make_stored_job(status=JobStatus.running, analysis=ANALYSIS)

    assert client.get(f"/api/jobs/{analysed.id}").json()["analysis"] == ANALYSIS
    assert client.get(f"/api/jobs/{unanalysed.id}").json()["analysis"] is None
    assert client.get(f"/api/jobs/{running.id}").json()["analysis"] is None
    listed = {job["id"]: job["analysis"] for job in client.get("/api/jobs").json()["data"]}
    assert listed == {analysed.id: ANALYSIS, unanalysed.id: None, running.id: None}


def test_a_stored_analysis_that_does_not_fit_is_left_out_not_an_error(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    broken = make_stored_job(analysis={**ANALYSIS, "key": {"tonic": "A", "mode": "lydian"}})

    response = client.get(f"/api/jobs/{broken.id}")

    assert response.status_code == 200
    assert response.json()["analysis"] is None


def test_a_job_names_its_strategy_in_plain_words_while_the_server_has_it(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    known = make_stored_job()  # four-stems-dsp
    gone = make_stored_job(strategy="removed-from-the-file")
    labels = {s["name"]: s["label"] for s in client.get("/api/strategies").json()}

    assert client.get(f"/api/jobs/{known.id}").json()["strategy_label"] == labels["four-stems-dsp"]
    assert client.get(f"/api/jobs/{gone.id}").json()["strategy_label"] is None
    listed = {job["id"]: job["strategy_label"] for job in client.get("/api/jobs").json()["data"]}
    assert listed == {known.id: labels["four-stems-dsp"], gone.id: None}


def test_a_running_job_has_an_eta_from_its_pace(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=30)
    stored = make_stored_job(status=JobStatus.running, progress=0.25, started_at=started)

    job = client.get(f"/api/jobs/{stored.id}").json()

    # 30 s for a quarter → about 90 s for the rest
    assert job["eta_seconds"] == pytest.approx(90, abs=3)
    assert job["zip_url"] is None


@pytest.mark.parametrize(
    "job_id", ["0" * 32, "not-a-job", "F" * 32, "..%2F..%2Fetc", "1' OR '1'='1"]
)
def test_unknown_or_malformed_job_ids_are_404(client: TestClient, job_id: str) -> None:
    for response in (
        client.get(f"/api/jobs/{job_id}"),
        client.delete(f"/api/jobs/{job_id}"),
        client.get(f"/api/jobs/{job_id}/stems/vocals.flac"),
        client.get(f"/api/jobs/{job_id}/stems.zip"),
    ):
        assert response.status_code == 404, response.text
        # An encoded "/" makes the path match no route at all: still a JSON 404.
        error = response.json()["error"]
        assert error["code"] in {"job_not_found", "not_found"}
        assert ("GET /api/jobs" if error["code"] == "job_not_found" else "/docs") in error[
            "message"
        ]


def test_deleting_a_queued_job_cancels_it_and_removes_its_files_and_queue_entry(
    client: TestClient,
    upload: Upload,
    mixture: Path,
    leftovers: Callable[[], Leftovers],
    redis_conn: Redis,
) -> None:
    job_id = upload(mixture.read_bytes()).json()["id"]
    assert not leftovers().empty

    response = client.delete(f"/api/jobs/{job_id}")

    assert response.status_code == 204
    assert leftovers() == Leftovers(rows=1, files=[], rq_keys=[], queued=[])
    assert [key for key in redis_conn.keys("rq:*") if job_id.encode() in key] == []
    for registry in redis_conn.keys("rq:canceled:*"):
        assert redis_conn.zscore(registry, job_id) is None
    with pytest.raises(NoSuchJobError):
        RQJob.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    cancelled = client.get(f"/api/jobs/{job_id}").json()
    assert (cancelled["status"], cancelled["stems"], cancelled["zip_url"]) == (
        "cancelled",
        [],
        None,
    )
    assert cancelled["finished_at"] is not None
    assert client.get("/api/jobs").json()["data"][0]["status"] == "cancelled"


def test_deleting_a_cancelled_job_removes_it(
    client: TestClient, upload: Upload, mixture: Path, leftovers: Callable[[], Leftovers]
) -> None:
    job_id = upload(mixture.read_bytes()).json()["id"]
    assert client.delete(f"/api/jobs/{job_id}").status_code == 204

    assert client.delete(f"/api/jobs/{job_id}").status_code == 204

    assert leftovers().empty, leftovers()
    assert client.get(f"/api/jobs/{job_id}").status_code == 404
    assert client.delete(f"/api/jobs/{job_id}").status_code == 404


def test_deleting_a_running_job_cancels_it_for_the_worker_to_notice(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    leftovers: Callable[[], Leftovers],
) -> None:
    stored = make_stored_job(status=JobStatus.running)

    assert client.delete(f"/api/jobs/{stored.id}").status_code == 204

    assert leftovers() == Leftovers(rows=1, files=[], rq_keys=[], queued=[])
    assert client.get(f"/api/jobs/{stored.id}").json()["status"] == "cancelled"


def test_deleting_a_completed_job_removes_row_and_files(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    leftovers: Callable[[], Leftovers],
) -> None:
    stored = make_stored_job(status=JobStatus.completed)
    assert not leftovers().empty

    assert client.delete(f"/api/jobs/{stored.id}").status_code == 204

    assert leftovers().empty, leftovers()
    assert client.get(f"/api/jobs/{stored.id}").status_code == 404


def test_when_redis_is_down_an_upload_is_refused_and_nothing_is_kept(
    make_settings: Callable[..., Settings],
    mixture: Path,
    leftovers: Callable[[], Leftovers],
) -> None:
    """GIVEN Redis unreachable WHEN a valid song is uploaded THEN 503 and no row or file."""
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/jobs", files={"file": ("a.wav", mixture.read_bytes())})

        assert response.status_code == 503, response.text
        error: dict[str, Any] = response.json()["error"]
        assert error["code"] == "queue_unavailable"
        assert "Redis" in error["message"]
        assert leftovers().empty, leftovers()
        assert client.get("/api/jobs").json()["count"] == 0


def test_cancel_stops_an_unfinished_job_and_answers_it(
    client: TestClient,
    upload: Upload,
    mixture: Path,
    leftovers: Callable[[], Leftovers],
) -> None:
    job_id = upload(mixture.read_bytes()).json()["id"]

    response = client.post(f"/api/jobs/{job_id}/cancel")

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["stems"]) == ("cancelled", [])
    assert leftovers() == Leftovers(rows=1, files=[], rq_keys=[], queued=[])
    again = client.post(f"/api/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_finished"
    assert "already cancelled" in again.json()["error"]["message"]


def test_cancel_never_removes_a_job_that_finished(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    leftovers: Callable[[], Leftovers],
) -> None:
    """GIVEN a job that completed just before Cancel was pressed WHEN it is cancelled
    THEN it is refused with 409 and the job and its files stay (DELETE would remove them)."""
    stored = make_stored_job(status=JobStatus.completed)
    before = leftovers()

    response = client.post(f"/api/jobs/{stored.id}/cancel")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "job_finished"
    assert "already completed" in error["message"] and "DELETE" in error["message"]
    assert leftovers() == before
    assert client.get(f"/api/jobs/{stored.id}").json()["status"] == "completed"


@pytest.mark.parametrize("job_id", ["0" * 32, "not-an-id", "%2e%2e"])
def test_cancel_of_an_unknown_job_is_404(client: TestClient, job_id: str) -> None:
    response = client.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"

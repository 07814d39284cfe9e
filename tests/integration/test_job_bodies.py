"""Kept job bodies and pages (api/bodies.py) are never stale: a job that changes, by any
lifecycle transition made in any process, answers its new self on GET /api/jobs/{id} and
GET /api/jobs at once; a removed one is a 404 and off the list; a write that did not say
so (its marks not set) shows within TRUST_S; the URLs in a body are the asking request's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from stemdeck.api import bodies
from stemdeck.api.app import create_app
from stemdeck.core.db import session_scope
from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.models import Job
from stemdeck.core.settings import DedupScope, Settings
from stemdeck.core.states import JobStatus, Stage
from tests.integration.conftest import StoredJob

STEMS = ("vocals", "drums", "bass", "other")


def worker_lifecycle(settings: Settings) -> JobLifecycle:
    """A lifecycle as a worker builds it: its changes are marked and announced."""
    redis = Redis.from_url(settings.require_redis_url())
    return JobLifecycle(settings.effective_database_url, lifecycle_listeners(redis, settings))


def poll(client: TestClient, job_id: str, **headers: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(client: TestClient, **headers: str) -> dict[str, dict[str, Any]]:
    response = client.get("/api/jobs?limit=100", headers=headers)
    assert response.status_code == 200, response.text
    return {job["id"]: job for job in response.json()["data"]}


def warm(client: TestClient, job_id: str) -> dict[str, Any]:
    """Read twice on both routes, so the second answers come from what the API kept."""
    for _ in range(2):
        body = poll(client, job_id)
        assert listed(client)[job_id] == body
    return body


def gone(client: TestClient, job_id: str) -> None:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
    assert job_id not in listed(client)


def test_a_cancelled_job_answers_cancelled_then_is_gone_once_removed(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    job = make_stored_job(status=JobStatus.queued, stems=()).id
    assert warm(client, job)["status"] == "queued"

    assert client.post(f"/api/jobs/{job}/cancel").status_code == 200
    cancelled = warm(client, job)
    assert cancelled["status"] == "cancelled"
    assert client.delete(f"/api/jobs/{job}").status_code == 204

    gone(client, job)


def test_a_completed_job_is_gone_once_deleted(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    job = make_stored_job(stems=STEMS).id
    assert len(warm(client, job)["stems"]) == 4

    assert client.delete(f"/api/jobs/{job}").status_code == 204

    gone(client, job)


def test_a_reused_job_answers_with_its_twins_stems(
    client: TestClient, make_stored_job: Callable[..., StoredJob], settings: Settings
) -> None:
    make_stored_job(stems=STEMS)  # the twin: the same audio, strategy and formats
    job = make_stored_job(status=JobStatus.queued, stems=()).id
    assert warm(client, job)["stems"] == []

    assert worker_lifecycle(settings).reuse_twin(job, DedupScope.user)

    body = warm(client, job)
    assert body["status"] == "completed"
    assert [stem["name"] for stem in body["stems"]] == list(STEMS)


def test_a_change_made_in_another_process_shows_at_once(
    client: TestClient, make_stored_job: Callable[..., StoredJob], settings: Settings
) -> None:
    """GIVEN a queued job the API answered from what it kept WHEN a worker (another
    lifecycle, with its own listeners) claims, advances and completes it THEN each
    change shows on the next poll and list, long before LIVE_S could run out."""
    job = make_stored_job(status=JobStatus.queued, stems=()).id
    assert warm(client, job)["status"] == "queued"
    lifecycle = worker_lifecycle(settings)

    def seen() -> list[tuple[str, float]]:
        """The job as polled and as listed, twice (the second answers were kept)."""
        bodies = [poll(client, job), listed(client)[job]] * 2
        return [(body["status"], body["progress"]) for body in bodies]

    attempt = lifecycle.claim(job, JobStatus.running)
    assert attempt is not None
    assert seen() == [("running", 0.0)] * 4
    assert lifecycle.progress(attempt, Stage.separating, None, 0.5)
    assert seen() == [("running", 0.5)] * 4
    assert lifecycle.complete(attempt, [], ["done"], 0.0)

    assert seen() == [("completed", 1.0)] * 4


def test_a_write_that_did_not_mark_its_change_shows_within_trust_s(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a kept finished job WHEN a write reaches its row without setting its marks
    (Redis failed just then) THEN once TRUST_S has passed, the row's version is read
    again and the new body answers."""
    job = make_stored_job(stems=STEMS).id
    warm(client, job)
    # Not through the lifecycle: updated_at moves by the column's own onupdate.
    with session_scope(settings.effective_database_url) as session:
        row = session.get(Job, job)
        assert row is not None
        row.notes = ["turned down 3 dB"]
    assert poll(client, job)["notes"] == []  # its marks vouch for the kept body

    monkeypatch.setattr(bodies, "TRUST_S", 0.0)

    assert poll(client, job)["notes"] == ["turned down 3 dB"]
    assert listed(client)[job]["notes"] == ["turned down 3 dB"]


def test_each_host_gets_its_own_urls(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    job = make_stored_job(stems=STEMS).id
    for host in ("localhost", "127.0.0.1:8443", "localhost"):
        for body in (poll(client, job, host=host), listed(client, host=host)[job]):
            assert body["url"] == f"http://{host}/api/jobs/{job}"
            assert body["zip_url"].startswith(f"http://{host}/")
            for stem in body["stems"]:
                urls = [*stem["urls"].values(), *stem["download_urls"].values()]
                assert all(url.startswith(f"http://{host}/") for url in urls)
                assert stem["waveform_url"].startswith(f"http://{host}/")


def test_a_page_mixes_kept_and_fresh_bodies_in_order(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    old = make_stored_job(stems=STEMS).id
    warm(client, old)
    running = make_stored_job(status=JobStatus.running, stems=()).id
    new = make_stored_job(stems=STEMS).id

    response = client.get("/api/jobs?limit=2")

    assert response.headers["content-type"] == "application/json"
    page = response.json()
    assert [job["id"] for job in page["data"]] == [new, running]
    assert (page["count"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [job["id"] for job in client.get("/api/jobs?offset=1").json()["data"]] == [
        running,
        old,
    ]
    past = client.get("/api/jobs?offset=3").json()
    assert (past["data"], past["count"]) == ([], 3)


def test_without_redis_every_answer_is_checked_against_the_database(
    make_settings: Callable[..., Settings], make_stored_job: Callable[..., StoredJob]
) -> None:
    """GIVEN Redis down (no marks can be read or set) WHEN a kept job is written to THEN
    the next poll and list show it: a finished job's body is only used once its row's
    version matches, and an unfinished one is built every time."""
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    job = make_stored_job(stems=STEMS).id
    running = make_stored_job(status=JobStatus.running, stems=()).id
    with TestClient(create_app(settings)) as client:
        warm(client, job)
        assert poll(client, running)["progress"] == listed(client)[running]["progress"] == 0.5
        with session_scope(settings.effective_database_url) as session:
            for job_id, column, value in ((job, "notes", ["louder"]), (running, "progress", 0.75)):
                row = session.get(Job, job_id)
                assert row is not None
                setattr(row, column, value)

        assert warm(client, job)["notes"] == ["louder"]
        assert poll(client, running)["progress"] == listed(client)[running]["progress"] == 0.75

"""Queue visibility on real Redis and Postgres: a queued job's place in line and
estimated start, a running job's ETA from measured speed, the workers' presence, and
the picture GET /api/system and `stemdeck status` give of them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from redis import Redis

from stemdeck.api.app import create_app
from stemdeck.core.presence import WORKERS_KEY, WorkerPresence, publish
from stemdeck.core.settings import Settings
from stemdeck.core.speed import read_speeds, record_speed
from stemdeck.core.states import JobStatus
from tests.integration.conftest import StoredJob, Upload
from tests.integration.factories import ADMIN_EMAIL
from tests.integration.stack import running_stack
from tests.integration.test_account_api import as_browser, browser
from tests.integration.test_auth_api import PASSWORD, error
from tests.waiting import wait_until

STRATEGY = "four-stems-dsp"
ADA = "ada@example.com"


def fake_worker(
    redis: Redis,
    name: str = "box.1",
    *,
    current_job: str | None = None,
    seen_ago_s: float = 0.0,
    device: str = "cpu",
) -> WorkerPresence:
    """A worker's report as a real one writes it, for a worker this test plays."""
    now = datetime.now(UTC)
    presence = WorkerPresence(
        name=name,
        host="box",
        pid=1,
        device=device,
        queues=["separate", "ingest"],
        current_job=current_job,
        current_queue="separate" if current_job else None,
        job_started_at=now if current_job else None,
        models_loaded=[],
        models_bytes=0,
        rss_bytes=None,
        jobs_done=0,
        started_at=now,
        last_heartbeat=now - timedelta(seconds=seen_ago_s),
        interval_s=5.0,
    )
    publish(redis, presence)
    return presence


def queue_three(upload: Upload, mixture: Path) -> list[dict[str, Any]]:
    jobs = []
    for _ in range(3):
        response = upload(mixture.read_bytes(), "song.wav", strategy=STRATEGY)
        assert response.status_code == 202, response.text
        jobs.append(response.json())
    return jobs


def standing(client: TestClient, job_id: str) -> tuple[int | None, float | None]:
    job = client.get(f"/api/jobs/{job_id}").json()
    return job["queue_position"], job["estimated_start_s"]


def test_queued_jobs_have_their_place_in_line_and_move_up(
    client: TestClient, upload: Upload, mixture: Path
) -> None:
    # GIVEN three jobs queued while no worker runs
    jobs = queue_three(upload, mixture)
    ids = [job["id"] for job in jobs]

    # THEN each is in line in the order sent, with no estimate (nobody works the queue)
    assert [standing(client, job_id) for job_id in ids] == [(1, None), (2, None), (3, None)]
    listed = {job["id"]: job["queue_position"] for job in client.get("/api/jobs").json()["data"]}
    assert listed == dict(zip(ids, [1, 2, 3], strict=True))

    # WHEN the first is cancelled, the others move up
    assert client.post(f"/api/jobs/{ids[0]}/cancel").status_code == 200
    assert standing(client, ids[0]) == (None, None)
    assert [standing(client, job_id)[0] for job_id in ids[1:]] == [1, 2]


def test_the_estimated_start_comes_from_the_measured_speed(
    client: TestClient, upload: Upload, mixture: Path, redis_conn: Redis
) -> None:
    jobs = queue_three(upload, mixture)
    ids = [job["id"] for job in jobs]
    durations = [job["source"]["duration_s"] for job in jobs]

    # GIVEN an idle worker whose speed for this strategy was never measured
    fake_worker(redis_conn)
    # THEN only the next job has an estimate: it starts now
    assert [standing(client, job_id)[1] for job_id in ids] == [0.0, None, None]

    # WHEN two separations were measured, at 0.4 and 0.6 s a second of audio (median 0.5)
    record_speed(redis_conn, STRATEGY, "cpu", 0.4)
    record_speed(redis_conn, STRATEGY, "cpu", 0.6)
    assert read_speeds(redis_conn)[(STRATEGY, "cpu")].samples == 2

    # THEN each job waits for the ones ahead of it
    starts = [standing(client, job_id)[1] for job_id in ids]
    assert starts == [0.0, round(0.5 * durations[0], 1), round(0.5 * sum(durations[:2]), 1)]

    # AND with a second worker the wait is shared between them
    fake_worker(redis_conn, "box.2")
    assert standing(client, ids[2])[1] == round(0.5 * sum(durations[:2]) / 2, 1)


def test_running_jobs_count_in_the_estimate_and_have_a_measured_eta(
    client: TestClient,
    upload: Upload,
    mixture: Path,
    redis_conn: Redis,
    make_stored_job: Callable[..., StoredJob],
) -> None:
    # GIVEN a worker 10 s into a 60 s song, measured at 0.5 s a second of audio
    started = datetime.now(UTC) - timedelta(seconds=10)
    running = make_stored_job(
        status=JobStatus.running, progress=0.9, started_at=started, source_duration_s=60.0
    )
    fake_worker(redis_conn, current_job=running.id)
    record_speed(redis_conn, STRATEGY, "cpu", 0.5)

    # THEN its ETA is the measured 30 s less the 10 s gone, not its progress's 1 s
    eta = client.get(f"/api/jobs/{running.id}").json()["eta_seconds"]
    assert eta == pytest.approx(20, abs=2)

    # AND a job queued behind it waits for that rest
    (queued, *_) = queue_three(upload, mixture)
    assert standing(client, queued["id"])[1] == pytest.approx(20, abs=2)


def test_without_a_measurement_the_eta_waits_for_real_progress(
    client: TestClient, make_stored_job: Callable[..., StoredJob]
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=3)
    early = make_stored_job(status=JobStatus.running, progress=0.05, started_at=started)
    # 5 % in 3 s says little (decoding, loading a model): no ETA rather than a wrong one
    assert client.get(f"/api/jobs/{early.id}").json()["eta_seconds"] is None


def test_system_shows_workers_queues_and_failures(
    client: TestClient,
    upload: Upload,
    mixture: Path,
    redis_conn: Redis,
    make_stored_job: Callable[..., StoredJob],
) -> None:
    queue_three(upload, mixture)
    failed = make_stored_job(
        status=JobStatus.failed,
        error_code="timeout",
        error="The separation ran longer than its time limit.",
        finished_at=datetime.now(UTC),
    )
    fake_worker(redis_conn, "box.live")
    fake_worker(redis_conn, "box.quiet", seen_ago_s=60)
    fake_worker(redis_conn, "box.long-gone", seen_ago_s=3600)

    system = client.get("/api/system").json()

    workers = {worker["name"]: worker["stale"] for worker in system["workers"]}
    assert workers == {"box.live": False, "box.quiet": True}
    assert not redis_conn.hexists(WORKERS_KEY, "box.long-gone"), "forgotten when read"
    queues = {queue["name"]: queue for queue in system["queues"]}
    assert (queues["separate"]["depth"], queues["separate"]["workers"]) == (3, 1)
    assert queues["separate"]["oldest_wait_s"] >= 0
    assert (queues["ingest"]["depth"], queues["ingest"]["oldest_wait_s"]) == (0, None)
    (failure,) = system["failures"]
    assert (failure["job_id"], failure["error_code"]) == (failed.id, "timeout")
    assert failure["error"].startswith("The separation ran longer")


def test_only_admins_see_the_system(accounts: Callable[..., Settings]) -> None:
    settings = accounts(users={ADA: PASSWORD})
    with TestClient(create_app(settings)) as client:
        error(client.get("/api/system"), 401, "not_signed_in")
        ada = client.get("/api/system", headers=as_browser(browser(settings, ADA)))
        error(ada, 403, "missing_scope")
        admin = client.get("/api/system", headers=as_browser(browser(settings, ADMIN_EMAIL)))
        assert admin.status_code == 200, admin.text
        assert admin.json()["workers"] == []


def status_command(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "stemdeck.core.cli", "status", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_real_worker_reports_itself_while_it_lives(
    settings: Settings, mixture: Path, tmp_path: Path, redis_conn: Redis
) -> None:
    # A song long enough that the job is seen while it runs.
    audio, rate = sf.read(mixture, dtype="float32")
    song = tmp_path / "long.wav"
    sf.write(song, np.tile(audio, (12, 1)), rate)
    with running_stack(settings) as stack, stack.client() as client:
        # GIVEN a worker that has started: it reports itself, idle
        def system() -> dict[str, Any]:
            answer: dict[str, Any] = client.get("/api/system").json()
            return answer

        stack.wait_until(lambda: system()["workers"], "the worker's first report")
        (idle,) = system()["workers"]
        assert (idle["current_job"], idle["jobs_done"], idle["stale"]) == (None, 0, False)
        assert (idle["device"], sorted(idle["queues"])) == ("cpu", ["ingest", "separate"])
        assert idle["rss_bytes"] > 10 * 1024 * 1024

        # WHEN it separates a song, THEN it shows the job while it works
        files = {"file": ("long.wav", song.read_bytes(), "audio/wav")}
        job_id = client.post("/api/jobs", files=files, data={"strategy": STRATEGY}).json()["id"]
        wait_until(
            lambda: system()["workers"][0]["current_job"] == job_id,
            120,
            f"the worker never showed job {job_id}; logs in {stack.log_dir}",
            poll_s=0.05,
        )
        assert stack.wait_for(job_id)["status"] == "completed"

        # AND once done: idle again, one job done, its models, and its speed measured
        stack.wait_until(lambda: system()["workers"][0]["jobs_done"] == 1, "jobs done counted")
        (done,) = system()["workers"]
        assert done["current_job"] is None
        models = ["builtin:center", "builtin:crossover", "builtin:hpss"]
        assert sorted(done["models_loaded"]) == models
        assert read_speeds(redis_conn)[(STRATEGY, "cpu")].samples == 1

        # AND `stemdeck status` prints the same worker and the queues
        text = status_command(stack.env)
        assert done["name"] in text and "separate" in text and "ingest" in text
        as_json = json.loads(status_command(stack.env, "--json"))
        assert [worker["name"] for worker in as_json["workers"]] == [done["name"]]
        assert {queue["name"]: queue["depth"] for queue in as_json["queues"]} == {
            "separate": 0,
            "ingest": 0,
        }

        # WHEN the worker stops, THEN its report goes with it
        (worker,) = stack.workers
        worker.terminate()
        worker.wait(timeout=30)
        assert system()["workers"] == []
        assert "no worker is running" in status_command(stack.env)

"""Durable jobs in-process: the reconciler, attempts, stale results, timeouts, dedup, retention.

The worker runs as a burst SimpleWorker in this process; the fault tests in
test_faults.py do the same things to real processes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from redis import Redis
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer

from stemdeck.api.app import create_app
from stemdeck.core.db import session_scope
from stemdeck.core.lifecycle import REUSE_NOTE, Attempt, JobLifecycle
from stemdeck.core.models import Job, utcnow
from stemdeck.core.queue import SEPARATE_TASK, job_timeout_s, redis_connection, separate_queue
from stemdeck.core.reconciler import Reconciler
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import keys, make_storage
from stemdeck.worker import attempt as attempts
from stemdeck.worker.progress import JobCancelled, JobProgress
from tests.integration.factories import load, queued_job, work


@pytest.fixture
def song(shared_audio: Path) -> Path:
    return shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"


def reconciler(settings: Settings) -> Reconciler:
    return Reconciler(settings, redis_connection(settings.redis_url), make_storage(settings))


def lifecycle(settings: Settings) -> JobLifecycle:
    return JobLifecycle(settings.effective_database_url)


def die_mid_run(settings: Settings, job_id: str) -> Attempt:
    """A worker claimed the job, then died: its heartbeat is old, its RQ entry orphaned."""
    attempt = lifecycle(settings).claim(job_id, JobStatus.running)
    assert attempt is not None
    with session_scope(settings.effective_database_url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.heartbeat_at = job.started_at = utcnow() - timedelta(minutes=5)
    return attempt


def stored_stems(settings: Settings, job_id: str) -> list[str]:
    root = settings.storage_root / keys.stems_prefix(job_id)
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_a_job_whose_worker_died_runs_again_as_attempt_two(settings: Settings, song: Path) -> None:
    job_id = queued_job(settings, song)
    separate_queue(redis_connection(settings.redis_url)).empty()  # the dead worker had taken it
    die_mid_run(settings, job_id)

    report = reconciler(settings).run_once()

    assert report.requeued == [job_id]
    assert load(settings, job_id).status == "queued"
    work(settings)
    job = load(settings, job_id)
    assert (job.status, job.attempts) == ("completed", 2), job.error
    assert stored_stems(settings, job_id) == [
        "bass.flac",
        "drums.flac",
        "other.flac",
        "vocals.flac",
    ]


def test_a_live_heartbeat_is_left_alone(settings: Settings, song: Path) -> None:
    job_id = queued_job(settings, song)
    lifecycle(settings).claim(job_id, JobStatus.running)

    assert reconciler(settings).run_once().requeued == []
    assert load(settings, job_id).status == "running"


def test_after_max_attempts_the_job_fails_with_the_reason(
    make_settings: Callable[..., Settings], song: Path
) -> None:
    settings = make_settings(max_attempts=2)
    job_id = queued_job(settings, song)
    for expected in (1, 2):
        assert die_mid_run(settings, job_id).number == expected
        reconciler(settings).run_once()

    job = load(settings, job_id)
    assert (job.status, job.error_code, job.attempts) == ("failed", "worker_lost", 2)
    assert job.error and "2 time(s)" in job.error and "STEMDECK_MAX_ATTEMPTS" in job.error
    assert reconciler(settings).run_once().requeued == []


def test_queued_jobs_lost_by_redis_are_queued_again(
    settings: Settings, song: Path, redis_conn: Redis
) -> None:
    first, second = queued_job(settings, song), queued_job(settings, song, "center-sides")
    redis_conn.flushdb()
    later = utcnow() + timedelta(seconds=30)  # past the enqueue grace

    report = reconciler(settings).run_once(now=later)

    assert sorted(report.enqueued) == sorted([first, second])
    assert reconciler(settings).run_once(now=later).enqueued == []  # once only
    work(settings)
    assert load(settings, first).status == load(settings, second).status == "completed"


def test_a_stale_attempt_cannot_overwrite_the_newer_one(settings: Settings, song: Path) -> None:
    job_id = queued_job(settings, song)
    old = die_mid_run(settings, job_id)
    reconciler(settings).run_once()
    new = lifecycle(settings).claim(job_id, JobStatus.running)
    assert new is not None and (old.number, new.number) == (1, 2)

    with pytest.raises(JobCancelled):
        JobProgress(lifecycle(settings), old).update("separating", 0.9, force=True)
    assert not lifecycle(settings).fail(old, "x", "late")
    assert not lifecycle(settings).complete(old, [], [], 0.0)

    job = load(settings, job_id)
    assert (job.status, job.attempts, job.error, job.progress) == ("running", 2, None, 0.0)


def test_a_stale_attempt_leaves_the_newer_attempts_stems_alone(
    settings: Settings, song: Path
) -> None:
    """GIVEN attempt 1 given up on and attempt 2 completed WHEN attempt 1 wakes and is
    stopped (SIGTERM or its timeout: it removes what it wrote) THEN attempt 2's files stay."""
    job_id = queued_job(settings, song)
    separate_queue(redis_connection(settings.redis_url)).empty()
    stale = die_mid_run(settings, job_id)
    reconciler(settings).run_once()
    work(settings)
    assert load(settings, job_id).status == "completed"
    before = stored_stems(settings, job_id)

    attempts._remove_outputs(stale)  # the worker's runtime is this test's (work() set it)

    assert stored_stems(settings, job_id) == before != []
    assert (settings.storage_root / keys.metadata(job_id)).is_file()


def test_a_stale_download_attempt_cannot_end_the_separation_with_the_same_number(
    settings: Settings, song: Path
) -> None:
    """A download's attempts are counted apart from the separation's: download attempt 1
    and separation attempt 1 share the number, and the phase tells them apart."""
    job_id = queued_job(settings, song)
    separation = lifecycle(settings).claim(job_id, JobStatus.running)
    assert separation == Attempt(job_id, 1, JobStatus.running)

    late = lifecycle(settings).fail(Attempt(job_id, 1, JobStatus.fetching), "not_audio", "x")

    assert not late
    job = load(settings, job_id)
    assert (job.status, job.attempts, job.error) == ("running", 1, None)


def test_a_job_past_its_timeout_fails_with_that_reason_and_the_next_runs(
    settings: Settings, song: Path, tmp_path: Path
) -> None:
    audio, rate = sf.read(song, dtype="float32")
    long_song = tmp_path / "long.wav"
    sf.write(long_song, np.tile(audio, (12, 1)), rate)
    slow = queued_job(settings, long_song, "four-stems-lite")
    # GIVEN its queue entry allows 1 s (as a tiny STEMDECK_JOB_TIMEOUT_* would)
    entry = RqJob.fetch(
        slow, connection=redis_connection(settings.redis_url), serializer=JSONSerializer
    )
    assert entry.func_name == SEPARATE_TASK
    entry.timeout = 1
    entry.save()
    fine = queued_job(settings, song)

    work(settings)

    failed = load(settings, slow)
    assert (failed.status, failed.error_code) == ("failed", "timeout")
    assert failed.error and "time limit (1 s" in failed.error
    assert stored_stems(settings, slow) == []
    assert load(settings, fine).status == "completed"


def test_timeouts_scale_with_duration_and_strategy_cost(settings: Settings) -> None:
    short, long = job_timeout_s(settings, 60, 1.0), job_timeout_s(settings, 600, 1.0)
    assert settings.job_timeout_base_s < short < long
    assert job_timeout_s(settings, 600, 4.0) > long


def test_the_same_audio_twice_is_separated_once(settings: Settings, song: Path) -> None:
    """GIVEN two queued jobs of the same bytes, strategy and formats WHEN one worker runs them
    THEN the second completes from the first's stems: stored once, referenced twice."""
    first, second = queued_job(settings, song), queued_job(settings, song)

    work(settings)

    a, b = load(settings, first), load(settings, second)
    assert a.status == b.status == "completed"
    assert [s.keys for s in a.stems] == [s.keys for s in b.stems]
    assert b.attempts == 0 and any(note.startswith(REUSE_NOTE) for note in b.notes)
    assert not any(first in note for note in b.notes)  # a note names no job
    assert stored_stems(settings, second) == []
    assert b.source_key == a.source_key


def test_dedup_at_upload_and_deleting_either_job_keeps_the_others_files(
    settings: Settings, song: Path
) -> None:
    content = song.read_bytes()
    with TestClient(create_app(settings)) as client:

        def submit() -> str:
            response = client.post(
                "/api/jobs",
                files={"file": ("song.wav", content)},
                data={"strategy": "four-stems-dsp", "formats": "flac"},
            )
            assert response.status_code == 202, response.text
            return str(response.json()["id"])

        first = submit()
        work(settings)
        second = submit()
        twin = client.get(f"/api/jobs/{second}").json()
        assert twin["status"] == "completed"  # at once, no worker ran
        # Nothing stored twice: the upload's copy of the source went too.
        assert [
            p for p in (settings.storage_root / "jobs" / second).rglob("*") if p.is_file()
        ] == []

        assert client.delete(f"/api/jobs/{first}").status_code == 204
        for stem in twin["stems"]:
            audio = client.get(stem["urls"]["flac"])
            assert audio.status_code == 200 and audio.content[:4] == b"fLaC"
        assert client.get(f"/api/jobs/{second}/stems.zip").status_code == 200

        assert client.delete(f"/api/jobs/{second}").status_code == 204
    left = [p for p in settings.storage_root.rglob("*") if p.is_file() and ".staging" not in str(p)]
    assert left == []


def test_different_formats_are_not_deduplicated(settings: Settings, song: Path) -> None:
    first, second = queued_job(settings, song), queued_job(settings, song, formats=("mp3",))
    work(settings)
    assert load(settings, second).attempts == 1
    assert stored_stems(settings, second) == ["bass.mp3", "drums.mp3", "other.mp3", "vocals.mp3"]
    assert load(settings, first).attempts == 1


def test_retention_deletes_old_jobs_files_and_rows(
    make_settings: Callable[..., Settings], song: Path
) -> None:
    settings = make_settings(retention_days=7)
    old, recent = queued_job(settings, song), queued_job(settings, song, "center-sides")
    work(settings)
    with session_scope(settings.effective_database_url) as session:
        job = session.get(Job, old)
        assert job is not None
        job.finished_at = utcnow() - timedelta(days=8)

    report = reconciler(settings).run_once()

    assert report.deleted == [old]
    with session_scope(settings.effective_database_url) as session:
        assert session.get(Job, old) is None
    assert not (settings.storage_root / "jobs" / old).exists()
    assert load(settings, recent).status == "completed"
    assert stored_stems(settings, recent) == ["center.flac", "sides.flac"]


def test_a_cancelled_job_is_removed_after_its_window_and_not_before(
    make_settings: Callable[..., Settings], song: Path
) -> None:
    """GIVEN a cancelled job and a completed one, with no retention for finished jobs
    WHEN the reconciler passes before and after STEMDECK_CANCELLED_RETENTION_HOURS
    THEN the cancelled one is removed only after it, and the completed one stays."""
    settings = make_settings(cancelled_retention_hours=2)
    kept = queued_job(settings, song, "center-sides")
    work(settings)
    cancelled = queued_job(settings, song)
    with TestClient(create_app(settings)) as client:
        assert client.post(f"/api/jobs/{cancelled}/cancel").status_code == 200
    finished_at = load(settings, cancelled).finished_at
    assert finished_at is not None

    soon = reconciler(settings).run_once(now=finished_at + timedelta(hours=1))
    later = reconciler(settings).run_once(now=finished_at + timedelta(hours=2, seconds=1))

    assert (soon.deleted, later.deleted) == ([], [cancelled])
    with session_scope(settings.effective_database_url) as session:
        assert session.get(Job, cancelled) is None
    assert load(settings, kept).status == "completed"

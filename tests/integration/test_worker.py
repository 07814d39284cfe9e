"""The worker task on real Postgres and Redis, run in-process by a burst SimpleWorker."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer

from stemdeck.core.db import session_scope
from stemdeck.core.lifecycle import Attempt, JobLifecycle
from stemdeck.core.models import Job
from stemdeck.core.queue import redis_connection
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import keys, make_storage
from stemdeck.worker import runtime
from stemdeck.worker.main import build_worker
from stemdeck.worker.progress import JobCancelled, JobProgress
from tests.integration.factories import load, queued_job, work
from tests.waiting import wait_until


def test_a_queued_job_is_separated_stored_and_recorded(
    settings: Settings, shared_audio: Path
) -> None:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    job_id = queued_job(settings, song, "four-stems-dsp", ("flac", "mp3"))

    rq_job = RqJob.fetch(
        job_id, connection=redis_connection(settings.redis_url), serializer=JSONSerializer
    )
    assert rq_job.args == [job_id]
    assert rq_job.timeout is not None and rq_job.timeout >= settings.job_timeout_base_s

    work(settings)

    job = load(settings, job_id)
    assert job.status == "completed", job.error
    assert (job.progress, job.stage, job.attempts) == (1.0, "done", 1)
    assert [s.name for s in job.stems] == ["vocals", "drums", "bass", "other"]
    storage = make_storage(settings)
    for stem in job.stems:
        assert set(stem.keys) == {"flac", "mp3"}
        for format_id, key in stem.keys.items():
            assert storage.size(key) == stem.sizes[format_id] > 0
        assert storage.exists(stem.waveform_key) and storage.exists(stem.waveform_png_key)
        assert stem.lufs is not None and -70 < stem.lufs < 0
    assert storage.exists(keys.metadata(job_id))
    assert (
        RqJob.fetch(
            job_id, connection=redis_connection(settings.redis_url), serializer=JSONSerializer
        ).get_status()
        == "finished"
    )


def test_a_failing_job_is_marked_failed_and_the_worker_takes_the_next(
    settings: Settings, shared_audio: Path, tmp_path: Path
) -> None:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    broken = tmp_path / "broken.wav"
    audio, rate = sf.read(song, dtype="float32")
    sf.write(broken, audio, rate, subtype="PCM_16")
    doomed = queued_job(settings, broken)
    # The source disappears between upload and separation (a damaged store, say).
    source = make_storage(settings).root / keys.source(doomed, "wav")  # type: ignore[attr-defined]
    source.write_bytes(b"RIFF" + b"\0" * 40)
    fine = queued_job(settings, song)

    work(settings)

    failed = load(settings, doomed)
    assert failed.status == "failed"
    assert failed.error and "audio" in failed.error.lower()
    assert not failed.stems
    assert load(settings, fine).status == "completed"


def test_models_stay_loaded_across_jobs(settings: Settings, shared_audio: Path) -> None:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    first, second = queued_job(settings, song), queued_job(settings, song, "harmonic-percussive")
    worker = build_worker(settings, name="warm-worker")
    cache = runtime.current().models
    worker.work(burst=True)
    assert load(settings, first).status == load(settings, second).status == "completed"
    # Every model both strategies use was loaded once and is still held.
    assert set(cache.loaded) == {"builtin:crossover", "builtin:hpss", "builtin:center"}


def test_a_stopping_worker_never_waits_long_for_its_command_listener(
    settings: Settings,
) -> None:
    """RQ's listener thread reads one message at a time, waiting up to its poll time; once
    the unsubscribe's own reply has been read, stopping it waits out a whole wait (60 s as
    RQ sets it: SIGTERM to an idle worker timed out in CI)."""
    worker = build_worker(settings, name="stopping-worker")
    worker.subscribe()
    # GIVEN the listener has read the reply to an unsubscribe and waits again
    worker.pubsub.unsubscribe()
    wait_until(lambda: not worker.pubsub.subscribed, 10, "the unsubscribe was never read")
    # WHEN the worker tears its listener down, THEN it does not wait out RQ's 60 s (a
    # deadline far above the listener's 1 s poll, so a loaded machine does not fail it)
    stopped = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopped.start()
    stopped.join(timeout=30)
    assert not stopped.is_alive(), "stopping the worker waited on its listener"


def test_a_completed_job_carries_the_songs_tempo_beats_and_key(
    settings: Settings, shared_audio: Path
) -> None:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    job_id = queued_job(settings, song, "center-sides")
    work(settings)

    job = load(settings, job_id)
    assert job.status == "completed", job.error
    analysis = job.analysis
    assert analysis is not None
    assert 50 <= analysis["bpm"] <= 210
    beats = analysis["beats"]
    assert len(beats) >= 4 and beats == sorted(beats) and 0 <= beats[0] < beats[-1] <= 6.8
    assert set(analysis["downbeats"]) <= set(beats)
    key = analysis["key"]
    assert key["name"] == f"{key['tonic']} {key['mode']}" and 0 <= key["confidence"] <= 1
    metadata = json.loads(make_storage(settings).read_bytes(keys.metadata(job_id)))
    assert metadata["analysis"] == analysis
    # The same song again is answered from the first job's stems, and its analysis.
    again = queued_job(settings, song, "center-sides")
    work(settings)
    assert load(settings, again).analysis == analysis


def test_a_failing_analysis_leaves_the_job_completed_without_it(
    settings: Settings,
    shared_audio: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(audio: np.ndarray, sample_rate: int) -> None:
        raise RuntimeError("the analyser broke")

    monkeypatch.setattr("stemdeck.worker.executor.analyse_music", broken)
    job_id = queued_job(
        settings, shared_audio / "Music_Delta__80s_Rock" / "mixture.wav", "center-sides"
    )
    work(settings)

    job = load(settings, job_id)
    assert job.status == "completed", job.error
    assert job.analysis is None
    assert [stem.name for stem in job.stems] == ["center", "sides"]
    assert "the analyser broke" in caplog.text


def lifecycle(settings: Settings) -> JobLifecycle:
    return JobLifecycle(settings.effective_database_url)


def running_job(settings: Settings, shared_audio: Path) -> Attempt:
    """A job a worker has picked up, without running it."""
    job_id = queued_job(settings, shared_audio / "Music_Delta__80s_Rock" / "mixture.wav")
    attempt = lifecycle(settings).claim(job_id, JobStatus.running)
    assert attempt is not None
    return attempt


def test_progress_only_moves_forward_and_is_throttled(
    settings: Settings, shared_audio: Path
) -> None:
    attempt = running_job(settings, shared_audio)
    job_id = attempt.job_id
    now = [0.0]
    progress = JobProgress(lifecycle(settings), attempt, clock=lambda: now[0])
    progress.update("separating: builtin:hpss", 0.5)
    job = load(settings, job_id)
    assert (job.progress, job.stage, job.stage_detail) == (0.5, "separating", "builtin:hpss")
    progress.update("separating: builtin:hpss", 0.3)  # backwards: ignored
    now[0] += 0.1
    progress.update("separating: builtin:hpss", 0.6)  # too soon: not written yet
    assert load(settings, job_id).progress == 0.5
    now[0] += 1.0
    progress.update("separating: builtin:hpss", 0.55)
    assert load(settings, job_id).progress == 0.6
    # The executor's share of the bar: its 0–1 maps onto [0.6, 1.0] of the job.
    progress.scaled(0.6, 1.0)("encoding", 0.5)
    job = load(settings, job_id)
    assert (job.progress, job.stage, job.stage_detail) == (0.8, "encoding", None)


def test_a_deleted_job_stops_at_its_next_progress_point(
    settings: Settings, shared_audio: Path
) -> None:
    attempt = running_job(settings, shared_audio)
    progress = JobProgress(lifecycle(settings), attempt)
    progress.update("decoding", 0.1)
    with session_scope(settings.effective_database_url) as session:
        session.delete(session.get(Job, attempt.job_id))
    with pytest.raises(JobCancelled):
        progress.update("encoding", 0.9, force=True)


def test_a_cancelled_job_stops_at_its_next_progress_point(
    settings: Settings, shared_audio: Path
) -> None:
    attempt = running_job(settings, shared_audio)
    progress = JobProgress(lifecycle(settings), attempt)
    progress.update("decoding", 0.1)
    assert lifecycle(settings).cancel(attempt.job_id)
    with pytest.raises(JobCancelled):
        progress.update("encoding", 0.9, force=True)
    job = load(settings, attempt.job_id)
    assert (job.status, job.progress, job.stage) == ("cancelled", 0.1, "decoding")


def test_loud_input_is_turned_down_not_clipped(settings: Settings, shared_audio: Path) -> None:
    song = shared_audio / "The_Easton_Ellises__Falcon_69" / "mixture.wav"
    assert np.max(np.abs(sf.read(song)[0])) > 1.0
    job_id = queued_job(settings, song, "center-sides", ("wav24",))
    work(settings)
    job = load(settings, job_id)
    assert job.status == "completed", job.error
    assert any("turned down" in note for note in job.notes)
    assert all(stem.peak_dbfs is not None and stem.peak_dbfs <= 0.0 for stem in job.stems)


def test_a_corrupt_weight_file_fails_that_job_naming_the_file(
    settings: Settings, shared_audio: Path
) -> None:
    """GIVEN a damaged Spleeter weight file, WHEN a `vocals` job and then a DSP job run,
    THEN the first fails naming the file and the second still completes."""
    weights = settings.effective_models_dir / "spleeter" / "2stems.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\x00" * 1000)
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    broken = queued_job(settings, song, "vocals")
    fine = queued_job(settings, song, "four-stems-dsp")

    work(settings)

    failed = load(settings, broken)
    assert failed.status == "failed"
    # Named relative to the models directory: an answer never shows the server's paths.
    assert failed.error is not None and "spleeter/2stems.safetensors" in failed.error
    assert str(settings.effective_models_dir) not in failed.error
    assert load(settings, fine).status == "completed"
    assert "spleeter:2stems" not in runtime.current().models.loaded


def test_a_spleeter_job_runs_end_to_end_on_a_warm_worker(
    settings: Settings, shared_audio: Path
) -> None:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    first, second = (queued_job(settings, song, "four-stems-lite") for _ in range(2))
    work(settings)
    for job_id in (first, second):
        job = load(settings, job_id)
        assert job.status == "completed", job.error
        assert [stem.name for stem in job.stems] == ["vocals", "drums", "bass", "other"]
    assert (settings.effective_models_dir / "spleeter" / "2stems.safetensors").is_file()
    assert "spleeter:2stems" in runtime.current().models.loaded


def test_a_job_deleted_mid_run_leaves_no_files(
    settings: Settings, shared_audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a job deleted while the worker separates it, THEN the worker stops at its
    next progress point and nothing of the job stays in storage."""
    from stemdeck.worker import tasks

    job_id = queued_job(settings, shared_audio / "Music_Delta__80s_Rock" / "mixture.wav")
    separate = tasks.separate_file

    def separate_then_delete(*args: object, **kwargs: object) -> object:
        result = separate(*args, **kwargs)  # type: ignore[arg-type]
        with session_scope(settings.effective_database_url) as session:
            session.delete(session.get(Job, job_id))
        return result

    monkeypatch.setattr(tasks, "separate_file", separate_then_delete)
    work(settings)

    storage = make_storage(settings)
    assert not (storage.root / keys.job_prefix(job_id)).exists()  # type: ignore[attr-defined]
    with session_scope(settings.effective_database_url) as session:
        assert session.get(Job, job_id) is None

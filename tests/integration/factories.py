"""Test data: jobs stored and queued the way the API does it, without going through HTTP."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import soundfile as sf

from stemdeck.core.db import session_scope
from stemdeck.core.events import publish_job_changed
from stemdeck.core.lifecycle import JobChange, Transition
from stemdeck.core.models import LOCAL_ADMIN_ID, Job, new_job_id
from stemdeck.core.probe import probe
from stemdeck.core.queue import enqueue_separation, redis_connection, separate_queue
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import keys, make_storage
from stemdeck.core.strategies import cached_strategies


def short_wav(song: Path, seconds: float) -> bytes:
    """The first ``seconds`` of ``song`` as 16-bit WAV bytes: a quick upload."""
    audio, rate = sf.read(song, frames=int(seconds * 44100), dtype="int16")
    out = io.BytesIO()
    sf.write(out, audio, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


# The first admin of accounts-mode tests (STEMDECK_ADMIN_EMAIL / _PASSWORD).
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "the admin's password"


def queued_job(
    settings: Settings,
    audio: Path,
    strategy: str = "four-stems-dsp",
    formats: tuple[str, ...] = ("flac",),
) -> str:
    info = probe(audio)
    job_id = new_job_id()
    key = keys.source(job_id, info.extension)
    make_storage(settings).put_file(key, audio)
    with session_scope(settings.effective_database_url) as session:
        session.add(
            job := Job(
                id=job_id,
                owner_id=LOCAL_ADMIN_ID,
                strategy=strategy,
                formats=list(formats),
                source_name=audio.name,
                source_key=key,
                source_sha256=hashlib.sha256(audio.read_bytes()).hexdigest(),
                source_size_bytes=audio.stat().st_size,
                source_format=info.format,
                source_duration_s=info.duration_s,
                source_sample_rate=info.sample_rate,
                source_channels=info.channels,
            )
        )
    announce(settings, job)
    cost = cached_strategies(settings.strategies_file)[strategy].cost
    queue = separate_queue(redis_connection(settings.require_redis_url()))
    enqueue_separation(queue, settings, job_id, info.duration_s, cost)
    return job_id


def announce(settings: Settings, job: Job) -> None:
    """Mark a job written here as new, as the lifecycle marks every change it makes:
    the API answers from the bodies and lists it kept while their marks stay
    (api/bodies.py)."""
    change = JobChange(
        job.id,
        Transition.accept,
        JobStatus(job.status or JobStatus.queued),
        job.strategy,
        job.attempts or 0,
        None,
        job.owner_id,
    )
    redis = redis_connection(settings.require_redis_url())
    try:
        publish_job_changed(redis, change)
    finally:
        redis.close()


def work(settings: Settings, name: str = "test-worker") -> None:
    """Run every queued job in this process with a burst worker, as `stemdeck worker` would."""
    from stemdeck.worker.main import build_worker

    build_worker(settings, name=name).work(burst=True)


def load(settings: Settings, job_id: str) -> Job:
    """The job row as it is now, detached from its session."""
    with session_scope(settings.effective_database_url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job

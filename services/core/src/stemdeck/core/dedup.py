"""Dedup: the same audio, strategy and formats as a completed job completes from its stems.

The stems are stored once and referenced by both rows (the keys in the Stem rows
point at the first job's files); ``cleanup.release_plan`` keeps files that
another job still references when one of them is deleted.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.models import Job, copy_stem, utcnow
from stemdeck.core.states import JobStatus, Stage


def find_twin(session: Session, job: Job) -> Job | None:
    """A completed job with the same source bytes, strategy and formats, if any."""
    if not job.source_sha256:
        return None
    candidates = session.scalars(
        select(Job)
        .where(
            Job.source_sha256 == job.source_sha256,
            Job.strategy == job.strategy,
            Job.status == JobStatus.completed,
            Job.id != job.id,
        )
        .order_by(Job.finished_at)
    ).all()
    wanted = set(job.formats)
    return next((twin for twin in candidates if set(twin.formats) == wanted), None)


def complete_from_twin(job: Job, twin: Job) -> str | None:
    """Complete ``job`` with ``twin``'s stems; returns the job's own source key, now unused."""
    own_source = job.source_key if job.source_key != twin.source_key else None
    job.source_key = twin.source_key
    job.stems = [copy_stem(stem) for stem in twin.stems]
    now = utcnow()
    job.status = JobStatus.completed
    job.stage = Stage.done
    job.progress = 1.0
    job.error = job.error_code = None
    job.output_gain_db = twin.output_gain_db
    job.notes = [
        *(twin.notes or []),
        f"The same audio was already separated with this strategy (job {twin.id}); "
        "its stems were reused.",
    ]
    job.started_at = job.started_at or now
    job.finished_at = now
    job.heartbeat_at = None
    return own_source

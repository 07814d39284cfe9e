"""Dedup: the same audio, strategy and formats as a completed job completes from its stems.

The stems are stored once and referenced by both rows (the keys in the Stem rows
point at the first job's files); ``cleanup.release_plan`` keeps files that
another job still references when one of them is deleted. The completion itself
is a lifecycle transition (``JobLifecycle.reuse_twin``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.models import Job
from stemdeck.core.states import JobStatus


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

"""Dedup: the same audio, strategy and formats as a completed job completes from its stems.

``STEMDECK_DEDUP_SCOPE`` says whose jobs count: ``user`` (the default) only the same
owner's, so nobody learns that someone else processed the same song; ``global``
anyone's, sharing the files but nothing else (the reuse note names no job).

The stems are stored once and referenced by both rows (the keys in the Stem rows
point at the first job's files); ``cleanup.release_plan`` keeps files that
another job still references when one of them is deleted. The completion itself
is a lifecycle transition (``JobLifecycle.reuse_twin``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.models import Job
from stemdeck.core.settings import DedupScope
from stemdeck.core.states import JobStatus


def find_twin(session: Session, job: Job, scope: DedupScope) -> Job | None:
    """A completed job with the same source bytes, strategy and formats, if any; under
    ``DedupScope.user`` only one of the same owner."""
    if not job.source_sha256:
        return None
    same = [
        Job.source_sha256 == job.source_sha256,
        Job.strategy == job.strategy,
        Job.status == JobStatus.completed,
        Job.id != job.id,
    ]
    if scope is DedupScope.user:
        same.append(Job.owner_id == job.owner_id)
    # The owner's own twin first: no other user's files get shared when none need be.
    candidates = session.scalars(
        select(Job).where(*same).order_by((Job.owner_id == job.owner_id).desc(), Job.finished_at)
    ).all()
    wanted = set(job.formats)
    return next((twin for twin in candidates if set(twin.formats) == wanted), None)

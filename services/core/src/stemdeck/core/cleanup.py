"""Which files go when a job is deleted: its own, except those another job still uses.

Dedup lets a job's Stem rows point at another job's files, so deleting either
one must keep what the other references, and deleting the last one must free
files that were kept for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.models import Job
from stemdeck.core.storage import Storage, keys


def _referenced(job: Job) -> set[str]:
    found = {job.source_key} if job.source_key else set()
    for stem in job.stems:
        found.update(stem.keys.values())
        found.update({stem.waveform_key, stem.waveform_png_key})
    return found


def _owner(key: str) -> str | None:
    parts = key.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "jobs" else None


@dataclass
class ReleasePlan:
    prefixes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def run(self, storage: Storage) -> None:
        for target in [*self.prefixes, *self.files]:
            storage.delete_prefix(target)


def release_plan(session: Session, job: Job) -> ReleasePlan:
    """Decide before the row goes (the stems say what the job references)."""
    mine = _referenced(job)
    others: set[str] = set()
    owners: set[str] = set()
    if job.source_sha256:
        for other in session.scalars(
            select(Job).where(Job.source_sha256 == job.source_sha256, Job.id != job.id)
        ):
            others |= _referenced(other)
            owners.add(other.id)
    prefix = keys.job_prefix(job.id)
    plan = ReleasePlan()
    shared_here = {key for key in others if key.startswith(prefix)}
    if shared_here:
        # Another job reads files under this prefix: remove only ours that nobody else uses.
        plan.files = sorted(key for key in mine | {keys.metadata(job.id)} if key.startswith(prefix))
        plan.files = [key for key in plan.files if key not in shared_here]
    else:
        plan.prefixes.append(prefix)
    # Files borrowed from a job deleted earlier (kept for us): free them if nobody else needs them.
    plan.files += sorted(
        key
        for key in mine
        if not key.startswith(prefix) and key not in others and _owner(key) not in owners
    )
    return plan

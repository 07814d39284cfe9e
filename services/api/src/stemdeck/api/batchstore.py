"""Finding batches for a request, telling how far along they are, and removing them.

A batch is its owner's alone: another user's batch is answered exactly as an id that
does not exist (as jobs are, api/jobstore.py). Its status and progress are read from
its jobs each time, never stored, so they cannot drift from them.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from stemdeck.api.auth.principal import Principal
from stemdeck.api.context import AppContext
from stemdeck.api.delivery import stem_entries
from stemdeck.api.errors import ApiError
from stemdeck.api.filenames import song_title
from stemdeck.api.jobstore import JOB_ID, delete_job, load_jobs, sees_every_job
from stemdeck.api.presenters import job_public
from stemdeck.api.schemas import BatchPublic, BatchStatus
from stemdeck.api.standings import NO_STANDING, job_standings
from stemdeck.api.urls import route_urls
from stemdeck.api.zipstream import ZipEntry
from stemdeck.core.db import session_scope
from stemdeck.core.models import Batch, Job
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import Storage

log = logging.getLogger(__name__)

UNFINISHED = frozenset({JobStatus.queued, JobStatus.fetching, JobStatus.running})


def batch_not_found(batch_id: str) -> ApiError:
    return ApiError(
        404,
        "batch_not_found",
        f"No batch with id {batch_id!r}. It may have been deleted; "
        "GET /api/batches lists the batches there are.",
    )


def load_batch(session: Session, batch_id: str, principal: Principal) -> Batch:
    """The batch ``principal`` may see, else 404 (the same for another user's)."""
    batch = session.get(Batch, batch_id) if JOB_ID.match(batch_id) else None
    if batch is None or (batch.owner_id != principal.user_id and not sees_every_job(principal)):
        raise batch_not_found(batch_id)
    return batch


def batch_jobs(session: Session, batch_ids: Sequence[str]) -> dict[str, list[Job]]:
    """Each batch's jobs with their stems, in the order they were made."""
    ids = session.scalars(
        select(Job.id).where(Job.batch_id.in_(batch_ids)).order_by(Job.created_at, Job.id)
    ).all()
    jobs = load_jobs(session, ids)
    found: dict[str, list[Job]] = {batch_id: [] for batch_id in batch_ids}
    for job_id in ids:
        job = jobs[job_id]
        found[str(job.batch_id)].append(job)
    return found


def batch_page(session: Session, owner_id: str, limit: int, offset: int) -> tuple[list[Batch], int]:
    """A page of ``owner_id``'s batches, newest first, and how many there are in all."""
    mine = Batch.owner_id == owner_id
    page = session.scalars(
        select(Batch)
        .where(mine)
        .order_by(Batch.created_at.desc(), Batch.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    count = session.scalar(select(func.count()).select_from(Batch).where(mine)) or 0
    return list(page), count


def batch_status(statuses: Sequence[JobStatus]) -> BatchStatus:
    unfinished = [status for status in statuses if status in UNFINISHED]
    if unfinished:
        started = len(unfinished) < len(statuses) or any(
            status != JobStatus.queued for status in unfinished
        )
        return "running" if started else "queued"
    completed = sum(status == JobStatus.completed for status in statuses)
    if statuses and completed == len(statuses):
        return "completed"
    return "partial" if completed else "failed"


def batch_progress(jobs: Sequence[Job]) -> float:
    """The mean of the jobs' progress, a finished job (however it ended) counted as 1."""
    if not jobs:
        return 1.0
    done = [
        1.0 if job.status not in UNFINISHED else min(1.0, max(0.0, job.progress or 0.0))
        for job in jobs
    ]
    return sum(done) / len(done)


def batch_public(
    request: Request, session: Session, batch: Batch, jobs: Sequence[Job]
) -> BatchPublic:
    urls = route_urls(request)
    statuses = [JobStatus(job.status) for job in jobs]
    status = batch_status(statuses)
    standings = job_standings(request, jobs, session)
    zipped = status in ("completed", "partial")
    return BatchPublic(
        id=batch.id,
        url=urls("read_batch", batch_id=batch.id),
        created_at=batch.created_at,
        strategy=batch.strategy,
        formats=list(batch.formats),
        status=status,
        progress=batch_progress(jobs),
        counts=dict(Counter(str(status) for status in statuses)),
        jobs=[job_public(request, job, standings.get(job.id, NO_STANDING)) for job in jobs],
        zip_url=urls("batch_zip", batch_id=batch.id) if zipped else None,
    )


def zip_entries(storage: Storage, jobs: Sequence[Job]) -> list[ZipEntry]:
    """Every stem of every completed job, in a folder per song: "<title>/<title> -
    vocals.flac". Two songs of one title get "<title> (2)/…" rather than mixing."""
    entries: list[ZipEntry] = []
    folders: set[str] = set()
    for job in jobs:
        if job.status != JobStatus.completed:
            continue
        title = song_title(job)
        base = title or job.id
        folder, n = base, 1
        while folder.lower() in folders:
            n += 1
            folder = f"{base} ({n})"
        folders.add(folder.lower())
        entries.extend(stem_entries(storage, job, folder))
    return entries


def delete_batch(context: AppContext, batch_id: str) -> None:
    """Cancel the batch's unfinished jobs, delete its finished ones (files and rows), then
    the batch. Blocking: run it in a thread."""
    database_url = context.settings.effective_database_url
    with session_scope(database_url) as session:
        jobs = batch_jobs(session, [batch_id])[batch_id]
    for job in jobs:
        delete_job(context, job)
    with session_scope(database_url) as session:
        session.execute(delete(Batch).where(Batch.id == batch_id))
    log.info("deleted batch %s (%d jobs)", batch_id, len(jobs))

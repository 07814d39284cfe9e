"""Finding jobs and stems for a request, and removing a job everywhere it lives.

Every route reaches a job through ``load_job``, which is where ownership is
checked: another user's job is answered exactly as an id that does not exist,
so a job's existence is never revealed to someone who may not see it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus
from rq.serializers import JSONSerializer
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, joinedload

from stemdeck.api.auth.principal import Principal
from stemdeck.api.context import AppContext
from stemdeck.api.errors import ApiError, job_not_found
from stemdeck.core.accounts.tokens import Scope
from stemdeck.core.cleanup import release_plan
from stemdeck.core.db import session_scope
from stemdeck.core.models import Job, Stem, User
from stemdeck.core.queue import ingest_entry_id
from stemdeck.core.storage import Storage

log = logging.getLogger(__name__)

# models.new_job_id() (and User ids): uuid4 hex. Anything else cannot name a job, so
# it is a 404 without a database round trip.
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
# A job's stems in the same statement as the job (the model's own "selectin" costs a
# second one); made once, as building the option cost a tenth of reading a job.
_WITH_STEMS = [joinedload(Job.stems)]
# RQ states in which the entry has not reached a worker yet.
_NOT_STARTED = {RQStatus.QUEUED, RQStatus.DEFERRED, RQStatus.SCHEDULED}


def sees_every_job(principal: Principal) -> bool:
    """Admins see every user's jobs, but only with the admin scope: an admin's
    jobs:read token for a script sees that admin's own jobs, like anyone's."""
    return principal.may(Scope.admin)


def load_job(session: Session, job_id: str, principal: Principal) -> Job:
    """The job ``principal`` may see, else 404 ``job_not_found`` — the same answer for
    another user's job as for an id that never existed."""
    job = _row(session, job_id)
    check_owner(job_id, job.owner_id, principal)
    return job


def job_version(session: Session, job_id: str, principal: Principal) -> tuple[datetime, str]:
    """(updated_at, status) of the job ``principal`` may see, else 404 as ``load_job``
    answers: one light statement, enough to tell whether a kept body (api/bodies.py) is
    still this job's."""
    found = (
        session.execute(
            select(Job.owner_id, Job.updated_at, Job.status).where(Job.id == job_id)
        ).first()
        if JOB_ID.match(job_id)
        else None
    )
    if found is None:
        raise job_not_found(job_id)
    check_owner(job_id, found.owner_id, principal)
    return found.updated_at, found.status


def job_page(
    session: Session, owner_id: str | None, limit: int, offset: int
) -> tuple[Sequence[Row[str, datetime, str, int]], int]:
    """A page of ``owner_id``'s jobs (everyone's for None) as (id, updated_at, status),
    newest first, and how many there are in all: one statement, the total counted
    alongside (a window over the rows before LIMIT); a second only for a page past the
    end, which has no row to carry it."""
    scope: list[Any] = [] if owner_id is None else [Job.owner_id == owner_id]
    page = session.execute(
        select(Job.id, Job.updated_at, Job.status, func.count().over().label("total"))
        .where(*scope)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if page:
        return page, int(page[0].total)
    if offset == 0:
        return page, 0
    return page, session.scalar(select(func.count()).select_from(Job).where(*scope)) or 0


def load_jobs(session: Session, job_ids: Sequence[str]) -> dict[str, Job]:
    """Jobs by id with their stems, in one statement; for ids a caller was allowed."""
    if not job_ids:
        return {}
    rows = session.scalars(select(Job).options(*_WITH_STEMS).where(Job.id.in_(job_ids)))
    return {job.id: job for job in rows.unique()}


def check_owner(job_id: str, owner_id: str, principal: Principal) -> None:
    """404 ``job_not_found`` unless ``principal`` may see a job of ``owner_id``."""
    if owner_id != principal.user_id and not sees_every_job(principal):
        raise job_not_found(job_id)


def list_scope(principal: Principal, owner: str | None) -> str:
    """Whose jobs a list holds, as a key for the pages kept of it (api/bodies.py): the
    principal's own id; an admin's ``*``, or ``*=`` and the ``owner`` asked for. A
    non-admin's ?owner= naming someone else is refused here, before any read."""
    if not sees_every_job(principal):
        if owner is not None and owner.strip().lower() not in {principal.user_id, principal.email}:
            raise ApiError(
                403,
                "missing_scope",
                "Listing another user's jobs (?owner=) needs the 'admin' scope: only admins "
                "see other users' jobs. Leave ?owner= out to list your own.",
            )
        return principal.user_id
    return "*" if owner is None else "*=" + owner.strip().lower()


def list_owner(session: Session, principal: Principal, owner: str | None) -> str | None:
    """The id of the user whose jobs a list holds: the principal's own; an admin's
    ``owner`` (a user id or email), or None for every user's when an admin names none."""
    if not sees_every_job(principal):
        return principal.user_id
    return None if owner is None else _owner_id(session, owner)


def _owner_id(session: Session, owner: str) -> str:
    wanted = owner.strip().lower()
    column = User.email if "@" in wanted else User.id
    if column is User.id and not JOB_ID.match(wanted):
        raise ApiError(
            422,
            "invalid_owner",
            f"?owner= takes a user's id (32 hex characters) or email address; got {owner!r}.",
        )
    found = session.scalar(select(User.id).where(column == wanted))
    if found is None:
        raise ApiError(
            422,
            "unknown_owner",
            f"No user has the {'email' if column is User.email else 'id'} {wanted!r}; "
            "`stemdeck users list` shows the users there are.",
        )
    return found


def _row(session: Session, job_id: str) -> Job:
    """A job by id, whoever owns it: for code that already holds a job it was allowed."""
    job = session.get(Job, job_id, options=_WITH_STEMS) if JOB_ID.match(job_id) else None
    if job is None:
        raise job_not_found(job_id)
    return job


def find_stem(job: Job, name: str) -> Stem:
    for stem in job.stems:
        if stem.name == name:
            return stem
    have = ", ".join(stem.name for stem in job.stems) or "none yet"
    raise ApiError(
        404,
        "stem_not_found",
        f"Job {job.id} has no stem {name!r} (stems: {have}). "
        "Stems appear once the job is completed; GET /api/jobs/{id} lists them.",
    )


def stem_key(job: Job, stem: Stem, format_id: str) -> str:
    key = stem.keys.get(format_id)
    if key is None:
        raise ApiError(
            404,
            "format_not_found",
            f"Stem {stem.name!r} of job {job.id} is not stored as {format_id!r} "
            f"(stored: {', '.join(stem.keys) or 'none'}). Ask for these formats when "
            "creating a job.",
        )
    return key


def cancel_queue_entry(redis: Redis, job_id: str) -> None:
    """Take a job that no worker has started off the queue.

    A started one is left alone: deleting its row is the signal, which the
    worker notices at its next progress write. Redis being down does not stop
    a deletion either, for the same reason: without a row the entry is a no-op.
    """
    for entry_id in (job_id, ingest_entry_id(job_id)):
        try:
            entry = RQJob.fetch(entry_id, connection=redis, serializer=JSONSerializer)
            if entry.get_status(refresh=False) in _NOT_STARTED:
                entry.cancel()
            if entry.get_status(refresh=True) != RQStatus.STARTED:
                entry.delete()
        except (NoSuchJobError, InvalidJobOperation):
            pass
        except RedisError as error:
            log.warning("could not remove job %s from the queue: %s", entry_id, error)


def cancel_job(context: AppContext, job: Job) -> bool:
    """Cancel a job that has not finished: it answers ``cancelled`` for
    STEMDECK_CANCELLED_RETENTION_HOURS, its files go now. False when it had finished."""
    with session_scope(context.settings.effective_database_url) as session:
        # Decided while the stems still say which files the job references.
        plan = release_plan(session, _row(session, job.id))
    if not context.lifecycle.cancel(job.id):
        return False
    # The row says cancelled first: a worker stops at its next progress write, and
    # removes what it wrote after this.
    cancel_queue_entry(context.redis, job.id)
    plan.run(context.storage)
    log.info("cancelled job %s", job.id)
    return True


def delete_job(context: AppContext, job: Job) -> None:
    """DELETE: an unfinished job is cancelled; a finished (or cancelled) one is removed,
    files and row. Files another job references (dedup) stay."""
    if cancel_job(context, job):
        return
    storage = context.storage
    if context.lifecycle.remove(job.id, lambda session, row: release(session, row, storage)):
        log.info("deleted job %s", job.id)


def release(session: Session, job: Job, storage: Storage) -> None:
    """Remove a job's files, except those another job still uses (dedup)."""
    release_plan(session, job).run(storage)

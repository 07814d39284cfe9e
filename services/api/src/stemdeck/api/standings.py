"""Where the jobs of one response stand: place in line, estimated start, ETA
(core/backlog.py). Finished jobs cost nothing; the unfinished ones of a response cost
one Redis round trip together, plus one query when some are queued.

Without Redis the jobs still answer: no place in line, and running jobs' ETA
extrapolated from their progress.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from redis.exceptions import RedisError
from sqlalchemy.orm import Session
from starlette.requests import Request

from stemdeck.api.deps import get_context
from stemdeck.core.backlog import (
    Standing,
    extrapolated_eta_s,
    standings,
    work_of,
    work_reader,
)
from stemdeck.core.models import Job, utcnow
from stemdeck.core.states import JobStatus

log = logging.getLogger(__name__)

NO_STANDING = Standing()
_STANDING = (JobStatus.queued, JobStatus.running)


def job_standings(
    request: Request, jobs: Sequence[Job], session: Session | None = None
) -> dict[str, Standing]:
    """Job id → its standing, for the queued and running ones among ``jobs``. A caller
    holding a ``session`` passes it: a second connection taken while holding one waits,
    under load, for connections that all wait the same way (the pool's 30 s timeout)."""
    unfinished = [job for job in jobs if job.status in _STANDING]
    if not unfinished:
        return {}
    context = get_context(request)
    try:
        reader = (
            work_reader(context.settings.effective_database_url)
            if session is None
            else partial(work_of, session)
        )
        return standings(context.redis, unfinished, reader)
    except RedisError as error:
        log.warning("the queue cannot be read, so no places in line: %s", error)
        now = utcnow()
        return {job.id: Standing(eta_seconds=extrapolated_eta_s(job, now)) for job in unfinished}


def standing_of(request: Request, job: Job, session: Session | None = None) -> Standing:
    return job_standings(request, [job], session).get(job.id, NO_STANDING)

"""The state of the whole service for its admin: the workers, the queues, the latest
failures. One function builds it for GET /api/system and for `stemdeck status`, so the
web page and the terminal never disagree.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from redis import Redis
from rq.job import Job as RQJob
from rq.utils import utcparse
from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.backlog import QUEUES, queue_key
from stemdeck.core.models import Job, utcnow
from stemdeck.core.presence import WorkerPresence, read_workers
from stemdeck.core.states import JobStatus

LATEST_FAILURES = 10


class QueueStatus(BaseModel):
    name: str = Field(description="separate (separations) or ingest (URL downloads)")
    depth: int = Field(description="Jobs waiting for a worker")
    oldest_wait_s: float | None = Field(
        description="How long the job at its head has waited; null when empty"
    )
    workers: int = Field(description="Live workers that take jobs from it")


class FailureStatus(BaseModel):
    job_id: str
    owner_id: str
    source_name: str
    strategy: str
    error_code: str | None
    error: str | None
    finished_at: datetime | None


class SystemStatus(BaseModel):
    generated_at: datetime
    workers: list[WorkerPresence]
    queues: list[QueueStatus]
    failures: list[FailureStatus] = Field(description="The latest failed jobs, newest first")


def system_status(redis: Redis, session: Session, failures: int = LATEST_FAILURES) -> SystemStatus:
    now = utcnow()
    workers = read_workers(redis, now)
    live = [worker for worker in workers if not worker.stale]
    queues = [
        QueueStatus(
            name=name,
            depth=depth,
            oldest_wait_s=_age_s(enqueued_at, now),
            workers=sum(name in worker.queues for worker in live),
        )
        for name, (depth, enqueued_at) in _queue_heads(redis).items()
    ]
    return SystemStatus(
        generated_at=now,
        workers=workers,
        queues=queues,
        failures=latest_failures(session, failures),
    )


def _queue_heads(redis: Redis) -> dict[str, tuple[int, datetime | None]]:
    """Each queue's depth and when the job at its head was enqueued (RQ's own record)."""
    with redis.pipeline(transaction=False) as pipe:
        for name in QUEUES:
            pipe.llen(queue_key(name))
            pipe.lindex(queue_key(name), 0)
        counted = pipe.execute()
    depths, heads = counted[0::2], counted[1::2]
    with redis.pipeline(transaction=False) as pipe:
        for head in heads:
            pipe.hget(RQJob.key_for(head.decode() if head else ""), "enqueued_at")
        stamps = pipe.execute()
    return {
        name: (depth, utcparse(stamp.decode()) if head and stamp else None)
        for name, depth, head, stamp in zip(QUEUES, depths, heads, stamps, strict=True)
    }


def _age_s(since: datetime | None, now: datetime) -> float | None:
    if since is None:
        return None
    # RQ writes its times in UTC, without a zone.
    aware = since if since.tzinfo else since.replace(tzinfo=now.tzinfo)
    return round(max(0.0, (now - aware).total_seconds()), 1)


def latest_failures(session: Session, limit: int) -> list[FailureStatus]:
    rows = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.failed)
        .order_by(Job.finished_at.desc().nulls_last(), Job.id.desc())
        .limit(limit)
    )
    return [
        FailureStatus(
            job_id=job.id,
            owner_id=job.owner_id,
            source_name=job.source_name,
            strategy=job.strategy,
            error_code=job.error_code,
            error=job.error,
            finished_at=job.finished_at,
        )
        for job in rows
    ]

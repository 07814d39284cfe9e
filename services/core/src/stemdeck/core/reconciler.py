"""The reconciler: keeps Redis in step with the job rows, which are the truth.

Every ``STEMDECK_RECONCILE_INTERVAL_S`` (``stemdeck reconciler``, started by
``stemdeck up``) it

- re-queues running/fetching jobs whose worker stopped sending heartbeats (it
  died), up to ``STEMDECK_MAX_ATTEMPTS`` attempts, then fails them saying so;
- queues again ``queued`` jobs that Redis no longer has (restarted without its
  data, flushed, or down when the job was handed on);
- deletes jobs that finished more than ``STEMDECK_RETENTION_DAYS`` ago.

Running two reconcilers is harmless: each change is one conditional UPDATE, and
enqueueing an id twice runs it once (the second run finds the row not queued).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQStatus
from rq.serializers import JSONSerializer
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from stemdeck.core.cleanup import release_plan
from stemdeck.core.db import session_scope
from stemdeck.core.events import publish_job_changed
from stemdeck.core.models import Job, utcnow
from stemdeck.core.queue import (
    enqueue_ingest,
    enqueue_separation,
    ingest_entry_id,
    ingest_queue,
    redis_connection,
    separate_queue,
)
from stemdeck.core.settings import Settings
from stemdeck.core.states import FINAL_STATES, JobStatus, Stage
from stemdeck.core.storage import Storage, StorageError, make_storage
from stemdeck.core.strategies import cached_strategies

log = logging.getLogger(__name__)

# A queued row younger than this may be between its commit and its enqueue.
ENQUEUE_GRACE_S = 5.0
_WAITING = {RQStatus.QUEUED, RQStatus.STARTED, RQStatus.DEFERRED, RQStatus.SCHEDULED}


@dataclass
class Report:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _entry_id(job: Job) -> str:
    return job.id if job.source_key else ingest_entry_id(job.id)


def _in_redis(redis: Redis, entry_id: str) -> bool:
    try:
        entry = RQJob.fetch(entry_id, connection=redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return False
    return entry.get_status(refresh=False) in _WAITING


def _drop_entry(redis: Redis, entry_id: str) -> None:
    """Remove a dead attempt's RQ entry (and its registry records) before queuing again."""
    with contextlib.suppress(NoSuchJobError):
        RQJob.fetch(entry_id, connection=redis, serializer=JSONSerializer).delete()


class Reconciler:
    def __init__(self, settings: Settings, redis: Redis, storage: Storage) -> None:
        self.settings = settings
        self.redis = redis
        self.storage = storage
        self.url = settings.effective_database_url

    def _enqueue(self, job: Job) -> None:
        if job.source_key is None:
            enqueue_ingest(ingest_queue(self.redis), self.settings, job.id)
            return
        strategies = cached_strategies(self.settings.strategies_file)
        strategy = strategies.get(job.strategy)
        enqueue_separation(
            separate_queue(self.redis),
            self.settings,
            job.id,
            job.source_duration_s or 0.0,
            strategy.cost if strategy else 1.0,
        )

    def lost_workers(self, now: datetime, report: Report) -> None:
        stale = now - timedelta(seconds=self.settings.heartbeat_timeout_s)
        with session_scope(self.url) as session:
            jobs = session.scalars(
                select(Job).where(
                    Job.status.in_([JobStatus.running, JobStatus.fetching]),
                    or_(Job.heartbeat_at < stale, Job.heartbeat_at.is_(None)),
                    or_(Job.started_at < stale, Job.started_at.is_(None)),
                )
            ).all()
            candidates = [(job.id, job.attempts, job.status) for job in jobs]
        for job_id, attempts, status in candidates:
            gave_up = attempts >= self.settings.max_attempts
            values: dict[str, object] = {"heartbeat_at": None}
            if gave_up:
                values.update(
                    status=JobStatus.failed,
                    error_code="worker_lost",
                    error=(
                        f"The worker running this job stopped without finishing it, "
                        f"{attempts} time(s) (STEMDECK_MAX_ATTEMPTS is "
                        f"{self.settings.max_attempts}). The file may be too heavy for the "
                        "workers (memory); try a lighter strategy or a shorter file."
                    ),
                    finished_at=now,
                )
            else:
                values.update(status=JobStatus.queued, stage=Stage.waiting, progress=0.0)
            with session_scope(self.url) as session:
                changed = session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.attempts == attempts, Job.status == status)
                    .values(**values)
                ).rowcount  # type: ignore[attr-defined]
                job = session.get(Job, job_id) if changed and not gave_up else None
            if not changed:
                continue
            publish_job_changed(self.redis, job_id)
            if gave_up:
                log.warning("job %s failed: its worker died %s times", job_id, attempts)
                report.failed.append(job_id)
                continue
            assert job is not None
            log.warning("job %s lost its worker (attempt %s); queuing it again", job_id, attempts)
            _drop_entry(self.redis, _entry_id(job))
            self._enqueue(job)
            report.requeued.append(job_id)

    def missing_from_redis(self, now: datetime, report: Report) -> None:
        settled = now - timedelta(seconds=ENQUEUE_GRACE_S)
        with session_scope(self.url) as session:
            jobs = session.scalars(
                select(Job).where(Job.status == JobStatus.queued, Job.updated_at < settled)
            ).all()
        for job in jobs:
            if not _in_redis(self.redis, _entry_id(job)):
                log.warning("queued job %s was missing from Redis; queuing it again", job.id)
                _drop_entry(self.redis, _entry_id(job))
                self._enqueue(job)
                report.enqueued.append(job.id)

    def retention(self, now: datetime, report: Report) -> None:
        if not self.settings.retention_days:
            return
        cutoff = now - timedelta(days=self.settings.retention_days)
        with session_scope(self.url) as session:
            ids = session.scalars(
                select(Job.id).where(Job.status.in_(FINAL_STATES), Job.finished_at < cutoff)
            ).all()
        for job_id in ids:
            with session_scope(self.url) as session:
                job = session.get(Job, job_id)
                if job is None:
                    continue
                # Files first: a row deleted before its files would leave them for good if
                # the store failed; a row kept past its files is deleted on the next pass.
                try:
                    release_plan(session, job).run(self.storage)
                except StorageError as error:
                    log.warning("retention: job %s kept for now, its files stay: %s", job_id, error)
                    continue
                session.delete(job)
            publish_job_changed(self.redis, job_id)
            report.deleted.append(job_id)
        if ids:
            log.info("retention: deleted %s job(s) finished before %s", len(ids), cutoff)

    def run_once(self, now: datetime | None = None) -> Report:
        now = now or utcnow()
        report = Report()
        self.lost_workers(now, report)
        self.missing_from_redis(now, report)
        self.retention(now, report)
        return report


def alive_key(host: str) -> str:
    """The Redis key a host's reconciler refreshes after each pass (its healthcheck reads it)."""
    return f"stemdeck:reconciler:{host}"


def alive_ttl_s(settings: Settings) -> int:
    # Three missed passes (or half a minute, for short intervals) before it counts as dead.
    return max(30, int(3 * settings.reconcile_interval_s))


def run_forever(settings: Settings) -> None:
    """The ``stemdeck reconciler`` process: one pass per interval, surviving outages."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    redis = redis_connection(settings.require_redis_url())
    reconciler = Reconciler(settings, redis, make_storage(settings))
    log.info("reconciler running every %s s", settings.reconcile_interval_s)
    while True:
        try:
            reconciler.run_once()
            redis.set(
                alive_key(socket.gethostname()), utcnow().isoformat(), ex=alive_ttl_s(settings)
            )
        except (SQLAlchemyError, RedisError, StorageError) as error:
            log.warning("reconcile pass skipped, a dependency is down: %s", error)
        time.sleep(settings.reconcile_interval_s)

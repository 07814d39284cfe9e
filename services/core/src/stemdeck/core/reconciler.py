"""The reconciler: keeps Redis in step with the job rows, which are the truth.

Every ``STEMDECK_RECONCILE_INTERVAL_S`` (``stemdeck reconciler``, started by
``stemdeck up``) it

- re-queues running/fetching jobs whose worker stopped sending heartbeats (it
  died), up to ``STEMDECK_MAX_ATTEMPTS`` attempts, then fails them saying so;
- queues again ``queued`` jobs that Redis no longer has (restarted without its
  data, flushed, or down when the job was handed on);
- removes cancelled jobs ``STEMDECK_CANCELLED_RETENTION_HOURS`` after they were
  cancelled, and jobs that finished more than ``STEMDECK_RETENTION_DAYS`` ago;
- prunes the audio ledger's counts that left the rolling day (they count for nothing);
- deletes finished webhook deliveries older than ``STEMDECK_WEBHOOK_LOG_DAYS`` (the log).

Running two reconcilers is harmless: each change is a guarded lifecycle transition, and
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
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from stemdeck.core.accounts.audio_ledger import prune_audio_usage
from stemdeck.core.cleanup import release_plan
from stemdeck.core.db import session_scope
from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import Attempt, JobLifecycle
from stemdeck.core.logs import configure_logging
from stemdeck.core.metrics import serve_metrics
from stemdeck.core.models import Job, utcnow
from stemdeck.core.queue import (
    enqueue_ingest,
    enqueue_separation,
    ingest_entry_id,
    ingest_queue,
    redis_connection,
    separate_queue,
)
from stemdeck.core.queue_metrics import QueueCollector
from stemdeck.core.settings import Settings
from stemdeck.core.states import FINAL_STATES, JobStatus
from stemdeck.core.storage import Storage, StorageError, make_storage
from stemdeck.core.strategies import cached_strategies
from stemdeck.core.tracing import start_tracing
from stemdeck.core.webhooks.deliveries import prune_deliveries

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
    usage_pruned: int = 0  # audio ledger rows older than a day
    deliveries_pruned: int = 0  # finished webhook deliveries past the log's days


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
        self.lifecycle = JobLifecycle(self.url, lifecycle_listeners(redis, settings))

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
            lost = [Attempt(job.id, job.attempts, JobStatus(job.status)) for job in jobs]
        for attempt in lost:
            if attempt.number >= self.settings.max_attempts:
                if self.lifecycle.give_up(attempt, self._gave_up(attempt.number)):
                    log.warning(
                        "job %s failed: its worker died %s times", attempt.job_id, attempt.number
                    )
                    report.failed.append(attempt.job_id)
            elif self.lifecycle.requeue(attempt):
                log.warning(
                    "job %s lost its worker (attempt %s); queuing it again",
                    attempt.job_id,
                    attempt.number,
                )
                self._enqueue_again(attempt.job_id)
                report.requeued.append(attempt.job_id)

    def _gave_up(self, attempts: int) -> str:
        return (
            f"The worker running this job stopped without finishing it, {attempts} time(s) "
            f"(STEMDECK_MAX_ATTEMPTS is {self.settings.max_attempts}). The file may be too "
            "heavy for the workers (memory); try a lighter strategy or a shorter file."
        )

    def _enqueue_again(self, job_id: str) -> None:
        with session_scope(self.url) as session:
            job = session.get(Job, job_id)
        if job is not None:
            _drop_entry(self.redis, _entry_id(job))
            self._enqueue(job)

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
        """Remove cancelled jobs after their window, and finished ones after theirs."""
        expired = Job.status == JobStatus.cancelled
        expired &= Job.finished_at < now - timedelta(hours=self.settings.cancelled_retention_hours)
        if self.settings.retention_days:
            cutoff = now - timedelta(days=self.settings.retention_days)
            expired |= Job.status.in_(FINAL_STATES) & (Job.finished_at < cutoff)
        with session_scope(self.url) as session:
            ids = session.scalars(select(Job.id).where(expired)).all()
        for job_id in ids:
            try:
                # Files first: a row deleted before its files would leave them for good if
                # the store failed; a row kept past its files is removed on the next pass.
                removed = self.lifecycle.remove(job_id, self._release)
            except StorageError as error:
                log.warning("retention: job %s kept for now, its files stay: %s", job_id, error)
                continue
            if removed:
                report.deleted.append(job_id)
        if report.deleted:
            log.info("retention: removed %s job(s)", len(report.deleted))

    def audio_usage(self, now: datetime, report: Report) -> None:
        """Forget the counts that left the rolling day: one indexed DELETE a pass."""
        with session_scope(self.url) as session:
            report.usage_pruned = prune_audio_usage(session, now)

    def webhook_log(self, now: datetime, report: Report) -> None:
        with session_scope(self.url) as session:
            report.deliveries_pruned = prune_deliveries(
                session, now, self.settings.webhook_log_days
            )

    def _release(self, session: Session, job: Job) -> None:
        release_plan(session, job).run(self.storage)

    def run_once(self, now: datetime | None = None) -> Report:
        now = now or utcnow()
        report = Report()
        self.lost_workers(now, report)
        self.missing_from_redis(now, report)
        self.retention(now, report)
        self.audio_usage(now, report)
        self.webhook_log(now, report)
        return report


def alive_key(host: str) -> str:
    """The Redis key a host's reconciler refreshes after each pass (its healthcheck reads it)."""
    return f"stemdeck:reconciler:{host}"


def alive_ttl_s(settings: Settings) -> int:
    # Three missed passes (or half a minute, for short intervals) before it counts as dead.
    return max(30, int(3 * settings.reconcile_interval_s))


def run_forever(settings: Settings) -> None:
    """The ``stemdeck reconciler`` process: one pass per interval, surviving outages."""
    configure_logging(settings)
    start_tracing("stemdeck-reconciler")
    redis = redis_connection(settings.require_redis_url())
    reconciler = Reconciler(settings, redis, make_storage(settings))
    serve_metrics(settings, [QueueCollector(redis)])
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

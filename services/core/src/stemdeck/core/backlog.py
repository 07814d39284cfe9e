"""Where an unfinished job stands: its place in line, when it should start, when it
should end, from the RQ queues and the workers' measured speed (core/speed.py).

A queued job's place is its index in its RQ list (RQ job id == row id; a URL job waits
in ``ingest`` as ``<id>-ingest``), 1 = next. Its start is estimated as the time left
on the jobs the workers serving its queue are running, plus the expected time of the
jobs ahead of it, shared over those workers (each worker's own device speed; a job
ahead counts at the mean over the workers that could take it). Null when any of that
is unknown: no live worker serves the queue, a strategy was never measured on their
device, a download is running or waiting ahead (downloads are not measured).

A running job's ETA is the measured time for its strategy on its worker's device
minus the time since it started. Until that strategy was measured there (a fresh
install), or once the job has outrun the measurement, the ETA falls back to
extrapolating its progress, and only past FALLBACK_MIN_PROGRESS: early progress
(decoding, loading a model) says little about the rest.

Reading all this is one Redis round trip (``snapshot``) and, for queued jobs, one
database query for the jobs ahead (``work_of``), however many jobs are asked about.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from redis import Redis
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.db import session_scope
from stemdeck.core.models import Job, utcnow
from stemdeck.core.presence import WORKERS_KEY, WorkerPresence, forget_workers, parse_workers
from stemdeck.core.queue import INGEST_QUEUE, SEPARATE_QUEUE, ingest_entry_id
from stemdeck.core.speed import SPEEDS_KEY, Speeds, expected_seconds, parse_speeds
from stemdeck.core.states import JobStatus

QUEUES = (SEPARATE_QUEUE, INGEST_QUEUE)
# The jobs ahead that an estimate reads; a job further back gets its place, no estimate.
AHEAD_LIMIT = 500
FALLBACK_MIN_PROGRESS = 0.2
_INGEST_SUFFIX = ingest_entry_id("")


@dataclass(frozen=True)
class Standing:
    queue_position: int | None = None
    estimated_start_s: float | None = None
    eta_seconds: float | None = None


@dataclass(frozen=True)
class Work:
    """What the estimates need of a job's row."""

    strategy: str
    duration_s: float | None
    started_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> Work:
        return cls(job.strategy, job.source_duration_s, job.started_at)


WorkReader = Callable[[Iterable[str]], dict[str, Work]]


@dataclass
class Snapshot:
    workers: list[WorkerPresence]
    speeds: Speeds
    # job id -> (queue name, index from 0) for the queued jobs asked about
    places: dict[str, tuple[str, int]] = field(default_factory=dict)
    # queue name -> the row ids at its head (at most AHEAD_LIMIT)
    heads: dict[str, list[str]] = field(default_factory=dict)

    def live_workers(self, queue: str | None = None) -> list[WorkerPresence]:
        return [w for w in self.workers if not w.stale and (queue is None or queue in w.queues)]

    def worker_on(self, job_id: str) -> WorkerPresence | None:
        return next((w for w in self.live_workers() if w.current_job == job_id), None)

    def ids_to_read(self) -> set[str]:
        """The rows the estimates need beyond the asked-about jobs: those ahead of a
        queued one, and those the workers are running."""
        ahead = {
            job_id
            for queue, index in self.places.values()
            for job_id in self.heads.get(queue, [])[:index]
        }
        running = {w.current_job for w in self.live_workers() if w.current_job}
        return ahead | running


def queue_key(name: str) -> str:
    return f"{Queue.redis_queue_namespace_prefix}{name}"


def _row_id(entry: bytes) -> str:
    return entry.decode().removesuffix(_INGEST_SUFFIX)


def snapshot(redis: Redis, queued_ids: Collection[str] = ()) -> Snapshot:
    """Workers, speeds, and where ``queued_ids`` wait, in one pipeline."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(WORKERS_KEY)
        pipe.hgetall(SPEEDS_KEY)
        for job_id in queued_ids:
            pipe.lpos(queue_key(SEPARATE_QUEUE), job_id)
            pipe.lpos(queue_key(INGEST_QUEUE), ingest_entry_id(job_id))
        if queued_ids:
            for queue in QUEUES:
                pipe.lrange(queue_key(queue), 0, AHEAD_LIMIT - 1)
        workers_raw, speeds_raw, *rest = pipe.execute()
    workers, forget = parse_workers(workers_raw)
    forget_workers(redis, forget)
    found = Snapshot(workers, parse_speeds(speeds_raw))
    for number, job_id in enumerate(queued_ids):
        for queue, index in zip(QUEUES, rest[2 * number : 2 * number + 2], strict=True):
            if index is not None:
                found.places[job_id] = (queue, index)
    if queued_ids:
        heads = rest[2 * len(queued_ids) :]
        found.heads = {q: [_row_id(e) for e in h] for q, h in zip(QUEUES, heads, strict=True)}
    return found


def work_of(session: Session, job_ids: Iterable[str]) -> dict[str, Work]:
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Job.id, Job.strategy, Job.source_duration_s, Job.started_at).where(Job.id.in_(ids))
    )
    return {row.id: Work(row.strategy, row.source_duration_s, row.started_at) for row in rows}


def _elapsed_s(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def time_left_s(
    worker: WorkerPresence, works: dict[str, Work], speeds: Speeds, now: datetime
) -> float | None:
    """Seconds until the worker is free: 0 when idle, None when unknown (a download, an
    unmeasured strategy). A job past its expected time counts as ending now."""
    if worker.current_job is None:
        return 0.0
    work = works.get(worker.current_job)
    if worker.current_queue != SEPARATE_QUEUE or work is None:
        return None
    expected = expected_seconds(speeds, work.strategy, worker.device, work.duration_s)
    if expected is None:
        return None
    return max(0.0, expected - _elapsed_s(work.started_at or worker.job_started_at, now))


def estimated_start_s(
    place: tuple[str, int], found: Snapshot, works: dict[str, Work], now: datetime
) -> float | None:
    queue, index = place
    serving = found.live_workers(queue)
    ahead = found.heads.get(queue, [])[:index]
    if not serving or len(ahead) < index:
        return None
    if queue != SEPARATE_QUEUE and ahead:
        return None  # downloads ahead: not measured
    busy = [time_left_s(worker, works, found.speeds, now) for worker in serving]
    waiting = [_expected_anywhere(works.get(job_id), serving, found.speeds) for job_id in ahead]
    known = [seconds for seconds in (*busy, *waiting) if seconds is not None]
    if len(known) < len(busy) + len(waiting):
        return None
    return round(sum(known) / len(serving), 1)


def _expected_anywhere(
    work: Work | None, workers: Sequence[WorkerPresence], speeds: Speeds
) -> float | None:
    """A waiting job's expected time: the mean over the workers measured for it."""
    if work is None:
        return None
    times = [expected_seconds(speeds, work.strategy, w.device, work.duration_s) for w in workers]
    measured = [seconds for seconds in times if seconds is not None]
    return statistics.fmean(measured) if measured else None


def eta_seconds(job: Job, found: Snapshot, now: datetime) -> float | None:
    """A running job's seconds left; see the module's docstring for the fallback."""
    if job.status != JobStatus.running:
        return None
    worker = found.worker_on(job.id)
    if worker is not None:
        left = time_left_s(worker, {job.id: Work.of(job)}, found.speeds, now)
        if left:  # 0: it has outrun the measurement, so extrapolate instead
            return round(left, 1)
    return extrapolated_eta_s(job, now)


def extrapolated_eta_s(job: Job, now: datetime) -> float | None:
    progress = job.progress or 0.0
    if job.started_at is None or progress < FALLBACK_MIN_PROGRESS:
        return None
    elapsed = _elapsed_s(job.started_at, now)
    return round(max(0.0, elapsed * (1.0 - progress) / progress), 1)


def standings(
    redis: Redis, jobs: Sequence[Job], read_work: WorkReader, now: datetime | None = None
) -> dict[str, Standing]:
    """Each queued or running job of ``jobs`` by id → where it stands; finished jobs
    are not in the answer and cost nothing. ``read_work`` reads rows by id (one query)."""
    now = now or utcnow()
    queued = [job.id for job in jobs if job.status == JobStatus.queued]
    running = [job for job in jobs if job.status == JobStatus.running]
    if not queued and not running:
        return {}
    found = snapshot(redis, queued)
    works = {job.id: Work.of(job) for job in jobs}
    missing = found.ids_to_read() - works.keys()
    works |= read_work(missing) if missing else {}
    answer = {job.id: Standing(eta_seconds=eta_seconds(job, found, now)) for job in running}
    for job_id in queued:
        place = found.places.get(job_id)
        if place is not None:
            start = estimated_start_s(place, found, works, now)
            answer[job_id] = Standing(queue_position=place[1] + 1, estimated_start_s=start)
    return answer


def work_reader(database_url: str) -> WorkReader:
    """Reads rows by id, in a session opened only when some are needed."""

    def read(job_ids: Iterable[str]) -> dict[str, Work]:
        with session_scope(database_url) as session:
            return work_of(session, job_ids)

    return read

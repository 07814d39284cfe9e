"""Which workers are alive and what each is doing, as each reports it on Redis.

Every worker process writes one JSON record into the hash ``stemdeck:workers`` (the
field is the worker's name): every STEMDECK_HEARTBEAT_INTERVAL_S, and at once when it
starts or ends a job. It removes its record when it stops. One hash rather than a key
per worker, so a reader gets every worker in one command (the API does, on the path of
a queued or running job's read).

Each record carries the readiness of every model as that worker sees it (its models
directory, install and download settings: readiness.local_report), refreshed with each
beat; the API decides what can run from these (``reports``), not from its own install.

A worker that dies without removing its record (killed, its machine lost) leaves it
behind: once the record is older than STALE_AFTER_BEATS of its own intervals it reads
as ``stale``, and after FORGET_AFTER_S readers delete it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from redis import Redis

from stemdeck.core.job_marks import mark_queue_changed
from stemdeck.core.models import utcnow
from stemdeck.core.queue import SEPARATE_QUEUE
from stemdeck.core.readiness import ModelReadiness

WORKERS_KEY = "stemdeck:workers"
# Beats a worker may miss before it counts as gone; a job's first model load can hold
# the GIL for a while, so one or two late beats are not yet a lost worker.
STALE_AFTER_BEATS = 3
FORGET_AFTER_S = 600.0


class WorkerPresence(BaseModel):
    name: str = Field(description="The worker's RQ name (host.pid.<random> unless set)")
    host: str
    pid: int
    device: str = Field(description="'cpu', or the GPU's name")
    queues: list[str] = Field(description="The queues it takes jobs from")
    current_job: str | None = Field(description="The id of the job it is working on")
    current_queue: str | None = Field(description="The queue that job came from")
    job_started_at: datetime | None
    models_loaded: list[str] = Field(description="Model ids kept warm, least recently used first")
    models_bytes: int = Field(description="What the loaded models hold in memory")
    rss_bytes: int | None = Field(description="The process's resident memory")
    jobs_done: int = Field(description="Jobs this process has finished, however they ended")
    started_at: datetime
    last_heartbeat: datetime
    interval_s: float = Field(description="How often it reports")
    weights: dict[str, ModelReadiness] | None = Field(
        None,
        description="Each model's readiness on this worker (ready, download on first use, "
        "or missing with the files it lacks); null from a worker too old to say",
    )
    stale: bool = Field(
        False, description="It has missed several reports: stopped, frozen or unreachable"
    )


def publish(redis: Redis, presence: WorkerPresence) -> None:
    added = redis.hset(WORKERS_KEY, presence.name, presence.model_dump_json(exclude={"stale"}))
    if added:  # a new worker: the queues it serves move faster
        mark_queue_changed(redis)


def withdraw(redis: Redis, name: str) -> None:
    if redis.hdel(WORKERS_KEY, name):
        mark_queue_changed(redis)


def parse_workers(
    raw: Mapping[Any, Any], now: datetime | None = None
) -> tuple[list[WorkerPresence], list[str]]:
    """The records of an HGETALL, staleness judged at ``now``, by name; and the names
    of records to forget (too old, or unreadable: written by another version)."""
    now = now or utcnow()
    workers, forget = [], []
    for field, value in raw.items():
        name = field.decode()
        try:
            worker = WorkerPresence.model_validate_json(value)
        except ValidationError:
            forget.append(name)
            continue
        age_s = (now - worker.last_heartbeat).total_seconds()
        if age_s > FORGET_AFTER_S:
            forget.append(name)
            continue
        worker.stale = age_s > STALE_AFTER_BEATS * worker.interval_s
        workers.append(worker)
    return sorted(workers, key=lambda worker: worker.name), forget


def read_workers(redis: Redis, now: datetime | None = None) -> list[WorkerPresence]:
    """Every worker that reported lately, stale ones included (marked so)."""
    workers, forget = parse_workers(redis.hgetall(WORKERS_KEY), now)
    forget_workers(redis, forget)
    return workers


def reports(workers: Sequence[WorkerPresence]) -> list[dict[str, ModelReadiness]]:
    """The weights reports of the live workers that run separations, for readiness."""
    return [
        worker.weights
        for worker in workers
        if worker.weights is not None and not worker.stale and SEPARATE_QUEUE in worker.queues
    ]


def forget_workers(redis: Redis, names: list[str]) -> None:
    if names and redis.hdel(WORKERS_KEY, *names):
        mark_queue_changed(redis)

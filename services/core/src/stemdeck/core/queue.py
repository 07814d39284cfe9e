"""RQ wiring shared by the API (enqueue) and the worker (consume).

The Job row is written first and is the truth; the RQ job carries only its id
(RQ job id == row id), serialised as JSON, and, when tracing is on, the trace context
of whoever queued it in its meta.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from stemdeck.core.settings import Settings
from stemdeck.core.tracing import queue_meta

SEPARATE_QUEUE = "separate"
SEPARATE_TASK = "stemdeck.worker.tasks.separate_job"
INGEST_QUEUE = "ingest"
INGEST_TASK = "stemdeck.worker.ingest.ingest_job"
# Room for the download process to start, and for probing and storing what it fetched.
INGEST_OVERHEAD_S = 120


def redis_connection(url: str) -> Redis:
    return Redis.from_url(
        url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30
    )


def separate_queue(connection: Redis) -> Queue:
    return Queue(SEPARATE_QUEUE, connection=connection, serializer=JSONSerializer)


def ingest_queue(connection: Redis) -> Queue:
    return Queue(INGEST_QUEUE, connection=connection, serializer=JSONSerializer)


def ingest_entry_id(job_id: str) -> str:
    """The download's RQ id: a phase before the separation, whose RQ id is the row id."""
    return f"{job_id}-ingest"


def job_timeout_s(settings: Settings, duration_s: float, strategy_cost: float) -> int:
    """Long tracks and heavy strategies get longer; a stuck job is still killed."""
    per_audio_second = settings.job_timeout_per_audio_s * max(1.0, strategy_cost)
    return int(settings.job_timeout_base_s + per_audio_second * duration_s)


def enqueue_separation(
    queue: Queue, settings: Settings, job_id: str, duration_s: float, strategy_cost: float
) -> None:
    queue.enqueue_call(
        SEPARATE_TASK,
        args=(job_id,),
        job_id=job_id,
        timeout=job_timeout_s(settings, duration_s, strategy_cost),
        result_ttl=settings.result_ttl_s,
        failure_ttl=settings.failure_ttl_s,
        description=f"separate job {job_id}",
        meta=queue_meta(),
    )


def enqueue_ingest(queue: Queue, settings: Settings, job_id: str) -> None:
    queue.enqueue_call(
        INGEST_TASK,
        args=(job_id,),
        job_id=ingest_entry_id(job_id),
        timeout=int(settings.ingest_timeout_s) + INGEST_OVERHEAD_S,
        result_ttl=settings.result_ttl_s,
        failure_ttl=settings.failure_ttl_s,
        description=f"download the source of job {job_id}",
        meta=queue_meta(),
    )

"""The queues as Prometheus sees them, read from Redis when /metrics is scraped.

A collector, not gauges updated on a timer: the numbers are as fresh as the scrape and
cost nothing between scrapes. The reconciler serves it (one process per host), so a
stack of many workers and API replicas reports each queue once per reconciler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob

from stemdeck.core.queue import ingest_queue, separate_queue

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def oldest_age_s(queue: Queue, now: datetime) -> float:
    """Seconds the job at the head of ``queue`` has waited (0 when it is empty)."""
    head = queue.get_job_ids(0, 1)
    if not head:
        return 0.0
    try:
        job = RQJob.fetch(head[0], connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:  # taken (or deleted) between the two reads
        return 0.0
    if job.enqueued_at is None:
        return 0.0
    enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or UTC)
    return max(0.0, (now - enqueued).total_seconds())


class QueueCollector:
    """Depth and oldest waiting time of each queue, and the workers registered in RQ."""

    def __init__(self, redis: Redis, clock: Clock = _utcnow) -> None:
        self._queues = [separate_queue(redis), ingest_queue(redis)]
        self._redis = redis
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "stemdeck_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "stemdeck_queue_oldest_age_seconds",
            "How long the job at the head of each queue has waited (0 when empty).",
            labels=["queue"],
        )
        try:
            now = self._clock()
            for queue in self._queues:
                depth.add_metric([queue.name], queue.count)
                age.add_metric([queue.name], oldest_age_s(queue, now))
            workers = Worker.count(connection=self._redis)
        except RedisError as error:
            # A scrape while Redis is away shows the gap, not stale numbers.
            log.warning("queue metrics skipped, Redis is unreachable: %s", error)
            return
        yield depth
        yield age
        yield GaugeMetricFamily(
            "stemdeck_workers", "Workers registered in RQ (alive and heartbeating).", workers
        )

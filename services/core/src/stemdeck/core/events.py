"""Job-changed notices on Redis pub/sub, one channel per job.

The job lifecycle publishes a notice after each transition it commits (every
process subscribes ``announcer`` to its ``JobLifecycle``); the API's event stream
re-reads the row when one arrives. The row stays the truth: a notice carries
no state, so a lost one only delays an update until the stream's next resync.

In the same round trip the announcer sets the change's marks (core/job_marks.py), by
which the API knows the job bodies and lists it kept are still right.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from stemdeck.core.job_marks import MARK_TTL_S, fresh_mark, marks_changed_by
from stemdeck.core.lifecycle import JobChange, Listener
from stemdeck.core.logs import log_job_change
from stemdeck.core.metrics import job_metrics
from stemdeck.core.settings import Settings
from stemdeck.core.webhooks.outbox import OutboxListener

log = logging.getLogger(__name__)

CHANGED = "changed"


def job_channel(job_id: str) -> str:
    return f"stemdeck:job-events:{job_id}"


def publish_job_changed(redis: Redis, change: JobChange) -> None:
    """Set the change's marks and tell the job's event streams, in one round trip. Best
    effort: a Redis hiccup must not fail the write it reports."""
    mark = fresh_mark()
    pipe = redis.pipeline(transaction=False)
    for key in marks_changed_by(change):
        pipe.set(key, mark, ex=MARK_TTL_S)
    pipe.publish(job_channel(change.job_id), CHANGED)
    try:
        pipe.execute()
    except RedisError as error:
        log.warning("could not publish a change of job %s: %s", change.job_id, error)


def announcer(redis: Redis) -> Callable[[JobChange], None]:
    """A lifecycle listener that marks the job changed and tells its event streams."""
    return lambda change: publish_job_changed(redis, change)


def lifecycle_listeners(redis: Redis | None, settings: Settings) -> list[Listener]:
    """What every process (API, worker, reconciler) hangs on its JobLifecycle: the one
    place that hears every change of every job. Without Redis (a job run outside a
    worker) nobody streams events. The webhook outbox writes the deliveries a change
    calls for (core/webhooks/outbox.py), whichever process made it."""
    streams = [announcer(redis)] if redis is not None else []
    outbox = OutboxListener(
        settings.effective_database_url, redis, settings.webhook_progress_interval_s
    )
    return [*streams, outbox, job_metrics, log_job_change]

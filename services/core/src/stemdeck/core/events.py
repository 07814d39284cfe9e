"""Job-changed notices on Redis pub/sub, one channel per job.

Writers (the worker's progress adapter and task, the API's delete) publish a
notice after they commit a change to the job row; the API's event stream
re-reads the row when one arrives. The row stays the truth: a notice carries
no state, so a lost one only delays an update until the stream's next resync.
"""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANGED = "changed"


def job_channel(job_id: str) -> str:
    return f"stemdeck:job-events:{job_id}"


def publish_job_changed(redis: Redis, job_id: str) -> None:
    """Best effort: a Redis hiccup must not fail the write it reports."""
    try:
        redis.publish(job_channel(job_id), CHANGED)
    except RedisError as error:
        log.warning("could not publish a change of job %s: %s", job_id, error)

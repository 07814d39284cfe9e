"""The outbox: a job's change becomes delivery rows, in whichever process made the change.

Every process (API, worker, reconciler) hangs ``OutboxListener`` on its job lifecycle
(core/events.py). After a change commits it writes one ``WebhookDelivery`` per
endpoint of the job's owner that wants the event, and for a finished job one to the
job's own ``callback_url``. The API's sender (stemdeck.api.webhook_sender) sends them
later, so a slow or dead receiver never holds up a worker, and a delivery outlives a
restart of anything.

A job's progress changes many times a second while it runs, so ``job.progress`` is
throttled per job in Redis before the database is asked anything.
"""

from __future__ import annotations

import logging
import uuid

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.db import session_scope
from stemdeck.core.lifecycle import JobChange, Transition
from stemdeck.core.models import Job, WebhookDelivery, WebhookEndpoint, utcnow

log = logging.getLogger(__name__)

COMPLETED = "job.completed"
FAILED = "job.failed"
PROGRESS = "job.progress"
EVENTS = (COMPLETED, FAILED, PROGRESS)
# Events a job's callback_url hears: it asked to know how the job ended.
CALLBACK_EVENTS = frozenset({COMPLETED, FAILED})

EVENT_OF: dict[Transition, str] = {
    Transition.complete: COMPLETED,
    Transition.reuse: COMPLETED,
    Transition.fail: FAILED,
    Transition.give_up: FAILED,
    Transition.progress: PROGRESS,
    Transition.claim_download: PROGRESS,
    Transition.claim_separation: PROGRESS,
}


def new_delivery_id() -> str:
    """The delivery's ``webhook-id``: the same on every try, so receivers deduplicate."""
    return "msg_" + uuid.uuid4().hex


def progress_key(job_id: str) -> str:
    return f"stemdeck:webhook-progress:{job_id}"


class OutboxListener:
    """A lifecycle listener writing the deliveries a committed change calls for.

    Without Redis (a job run outside a worker) progress is not sent at all: there is
    nothing to throttle it with, and the finished job's delivery says how it ended."""

    def __init__(self, database_url: str, redis: Redis | None, progress_interval_s: float) -> None:
        self.database_url = database_url
        self.redis = redis
        self.interval_ms = max(1, round(progress_interval_s * 1000))

    def __call__(self, change: JobChange) -> None:
        event = EVENT_OF.get(change.transition)
        if event is None or change.owner_id is None:
            return
        if event == PROGRESS and not self._progress_due(change.job_id):
            return
        with session_scope(self.database_url) as session:
            rows = _receivers(session, change.job_id, change.owner_id, event)
            session.add_all(rows)
        if rows:
            log.info("job %s: %s queued for %d receiver(s)", change.job_id, event, len(rows))

    def _progress_due(self, job_id: str) -> bool:
        """The first progress of a job in each interval; the rest are dropped."""
        if self.redis is None:
            return False
        try:
            return bool(self.redis.set(progress_key(job_id), 1, nx=True, px=self.interval_ms))
        except RedisError as error:
            log.warning("job %s: progress webhook skipped, Redis failed: %s", job_id, error)
            return False


def _receivers(session: Session, job_id: str, owner_id: str, event: str) -> list[WebhookDelivery]:
    """One query: the job's callback_url beside each of its owner's endpoints (the
    events filter is JSON, read here rather than in dialect-specific SQL)."""
    found = session.execute(
        select(Job.callback_url, WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.events)
        .select_from(Job)
        .outerjoin(WebhookEndpoint, WebhookEndpoint.owner_id == Job.owner_id)
        .where(Job.id == job_id)
    ).all()
    now = utcnow()

    def delivery(url: str, endpoint_id: str | None) -> WebhookDelivery:
        return WebhookDelivery(
            id=new_delivery_id(),
            endpoint_id=endpoint_id,
            owner_id=owner_id,
            job_id=job_id,
            url=url,
            event=event,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )

    rows = [
        delivery(url, endpoint_id)
        for _, endpoint_id, url, events in found
        if endpoint_id is not None and url is not None and event in (events or [])
    ]
    callback_url = found[0][0] if found else None
    if callback_url and event in CALLBACK_EVENTS:
        rows.append(delivery(callback_url, None))
    return rows

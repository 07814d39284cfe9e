"""The delivery rows' side of sending: claim the due ones, record each try, schedule the
next, and prune the log. The sender (stemdeck.api.webhook_sender) does the HTTP.

Several senders (API replicas) may look at once: each claims a row with one guarded
UPDATE (``locked_until`` empty or past), and the one whose UPDATE matched owns it for
the lease. A sender that dies mid-try leaves the row locked only until the lease ends.
A try's outcome is written only while the claim is still the sender's own (the same
``locked_until``): a redelivery in the meantime starts afresh instead of being
overwritten by an older try.

Retries are rows with a later ``next_attempt_at``, never sleeping threads, so they
survive restarts.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from stemdeck.core.db import session_scope
from stemdeck.core.models import CallbackSecret, WebhookDelivery, WebhookEndpoint, utcnow
from stemdeck.core.webhooks.signing import new_secret

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# No single wait longer than this, however many tries failed.
MAX_DELAY_S = 2 * 3600.0
# The start of the receiver's answer kept in the log.
RESPONSE_CHARS = 1024


@dataclass(frozen=True)
class Claim:
    """A row this sender owns until ``lease``."""

    delivery_id: str
    lease: datetime


@dataclass(frozen=True)
class Outcome:
    """One try: the status code (None: no answer at all) and what to log about it."""

    status_code: int | None
    latency_ms: int
    response: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _due(now: datetime) -> ColumnElement[bool]:
    return (
        (WebhookDelivery.status == PENDING)
        & (WebhookDelivery.next_attempt_at <= now)
        & or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now)
    )


def claim_due(database_url: str, limit: int, lease_s: float) -> list[Claim]:
    """Up to ``limit`` due deliveries, oldest due first, each claimed for ``lease_s``."""
    if limit <= 0:
        return []
    now = utcnow()
    lease = now + timedelta(seconds=lease_s)
    claims: list[Claim] = []
    with session_scope(database_url) as session:
        ids = session.scalars(
            select(WebhookDelivery.id)
            .where(_due(now))
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        ).all()
        for delivery_id in ids:
            won = session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, _due(now))
                .values(locked_until=lease)
            )
            # Committed at once: another sender waits on this row's lock, not the batch.
            session.commit()
            if won.rowcount:  # type: ignore[attr-defined]
                claims.append(Claim(delivery_id, lease))
    return claims


def release(database_url: str, claims: Sequence[Claim]) -> None:
    """Hand back claims whose tries were dropped (a sender stopping): due again at once,
    for the next sender, rather than when their lease would have ended."""
    with session_scope(database_url) as session:
        for claim in claims:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == claim.delivery_id,
                    WebhookDelivery.locked_until == claim.lease,
                )
                .values(locked_until=None)
            )


def due_again(session: Session, delivery_id: str) -> None:
    """Redeliver: the same delivery (its id, so its webhook-id, and its payload) due now,
    with a fresh set of tries (its retry window starts at the next one); a sender's claim
    on it is dropped, so that sender's late outcome is not recorded over it."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
            locked_until=None,
            retry_until=None,
        )
    )


def callback_secret(session: Session, owner_id: str) -> str:
    """The owner's secret for callback_url deliveries, made now if they have none yet."""
    found = session.get(CallbackSecret, owner_id)
    if found is not None:
        return found.secret
    try:
        with session.begin_nested():
            session.add(made := CallbackSecret(owner_id=owner_id, secret=new_secret()))
        return made.secret
    except IntegrityError:
        # Another process made it first: theirs is the one.
        raced = session.get(CallbackSecret, owner_id, populate_existing=True)
        assert raced is not None
        return raced.secret


def signing_secret(session: Session, delivery: WebhookDelivery) -> str | None:
    """The secret that signs ``delivery``; None when its endpoint is gone."""
    if delivery.endpoint_id is None:
        return callback_secret(session, delivery.owner_id)
    return session.scalar(
        select(WebhookEndpoint.secret).where(WebhookEndpoint.id == delivery.endpoint_id)
    )


def retry_delay_s(tries: int, base_s: float, rng: random.Random | None = None) -> float:
    """The wait after ``tries`` failed tries: full jitter, uniform up to base × 2^(tries-1),
    that ceiling at most MAX_DELAY_S."""
    ceiling = min(MAX_DELAY_S, base_s * 2 ** min(max(tries - 1, 0), 40))
    return (rng or random).uniform(0, ceiling)


def record_try(
    database_url: str,
    claim: Claim,
    outcome: Outcome,
    *,
    retry_base_s: float,
    retry_window_s: float,
) -> str | None:
    """Write one try's outcome and what follows (delivered, another try, or failed);
    the new status, or None when the claim was no longer this sender's."""
    now = utcnow()
    with session_scope(database_url) as session:
        row = session.get(WebhookDelivery, claim.delivery_id, with_for_update=True)
        if row is None or row.locked_until != claim.lease:
            return None
        # A run of tries (a new delivery, or a redelivery) gets its window from its first.
        fresh = row.attempts == 0 or row.retry_until is None
        retry_until = now + timedelta(seconds=retry_window_s) if fresh else row.retry_until
        assert retry_until is not None
        changes: dict[str, Any] = dict(
            attempts=row.attempts + 1,
            retry_until=retry_until,
            last_attempt_at=now,
            last_status_code=outcome.status_code,
            last_latency_ms=outcome.latency_ms,
            last_response=outcome.response[:RESPONSE_CHARS],
            locked_until=None,
        )
        if outcome.ok:
            changes.update(status=DELIVERED, next_attempt_at=None)
        elif now >= retry_until:
            changes.update(status=FAILED, next_attempt_at=None)
        else:
            wait = timedelta(seconds=retry_delay_s(row.attempts + 1, retry_base_s))
            # The last retry falls at the window's end, not past it.
            changes.update(status=PENDING, next_attempt_at=min(now + wait, retry_until))
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == row.id).values(**changes)
        )
        if row.endpoint_id is not None and changes["status"] != PENDING:
            failing = changes["status"] == FAILED
            _mark_endpoint(session, row.endpoint_id, failing=failing, now=now)
        return str(changes["status"])


def _mark_endpoint(session: Session, endpoint_id: str, *, failing: bool, now: datetime) -> None:
    """A delivery that ran out of tries marks its endpoint failing (since the first
    such); one that got through clears it."""
    statement = update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if failing:
        statement = statement.where(WebhookEndpoint.failing_since.is_(None))
        session.execute(statement.values(failing_since=now))
    else:
        session.execute(statement.values(failing_since=None))


def prune_deliveries(session: Session, now: datetime, keep_days: float) -> int:
    """Delete finished deliveries (delivered or failed) made and last tried more than
    ``keep_days`` ago: the log is kept for a bounded time; pending ones stay."""
    cutoff = now - timedelta(days=keep_days)
    pruned = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status != PENDING,
            WebhookDelivery.created_at < cutoff,  # indexed: the old rows first
            or_(
                WebhookDelivery.last_attempt_at.is_(None), WebhookDelivery.last_attempt_at < cutoff
            ),
        )
    )
    return int(pruned.rowcount)  # type: ignore[attr-defined]

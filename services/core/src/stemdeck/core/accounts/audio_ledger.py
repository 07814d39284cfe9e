"""The audio ledger: seconds of source audio counted toward each user's minutes per day.

A row is written in the transaction that accepts a job (a URL job's when its download
is stored: its length is unknown before) and never changes. Cancelling or deleting
the job keeps it, so the minutes of a rolling day are what was sent, not what is
left. Rows older than a day count for nothing; the reconciler prunes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from stemdeck.core.models import AudioUsage, utcnow

DAY = timedelta(hours=24)


def count_audio(
    session: Session, user_id: str, job_id: str, seconds: float, at: datetime | None = None
) -> None:
    """Count ``seconds`` of ``job_id``'s audio toward ``user_id``'s day, in ``session``'s
    transaction (the one that accepts the job)."""
    session.add(
        AudioUsage(user_id=user_id, job_id=job_id, seconds=seconds, counted_at=at or utcnow())
    )


def counted_since(session: Session, user_id: str, since: datetime) -> tuple[float, datetime | None]:
    """The seconds counted for ``user_id`` after ``since``, and when the earliest of them
    was counted (None: none)."""
    seconds, oldest = session.execute(
        select(func.sum(AudioUsage.seconds), func.min(AudioUsage.counted_at)).where(
            AudioUsage.user_id == user_id, AudioUsage.counted_at > since
        )
    ).one()
    return float(seconds or 0.0), oldest


def counts_since(session: Session, user_id: str, since: datetime) -> list[tuple[datetime, float]]:
    """Each count of ``user_id`` after ``since`` (when, seconds), earliest first."""
    rows = session.execute(
        select(AudioUsage.counted_at, AudioUsage.seconds)
        .where(AudioUsage.user_id == user_id, AudioUsage.counted_at > since)
        .order_by(AudioUsage.counted_at)
    ).all()
    return [(counted_at, seconds) for counted_at, seconds in rows]


def prune_audio_usage(session: Session, now: datetime | None = None) -> int:
    """Delete the counts that left the rolling day (one indexed DELETE); how many went."""
    pruned = session.execute(
        delete(AudioUsage).where(AudioUsage.counted_at <= (now or utcnow()) - DAY)
    )
    return int(pruned.rowcount)  # type: ignore[attr-defined]

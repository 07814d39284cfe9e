"""Per-user quotas: jobs at once, audio minutes in a rolling day, stored bytes.

Jobs at once and stored bytes are computed from the job rows, never kept as a
counter that could drift from them: jobs queued, fetching or running; the bytes of
the user's sources and stems (deleting a job frees them). The minutes come from the
audio ledger (audio_ledger.py): what was accepted in the last 24 hours, a URL job's
once it is downloaded, whether or not the job still exists. Each limit is the user's
own (set by an admin) or the settings' default; 0 means unlimited. The API applies
them only under ``STEMDECK_AUTH=accounts``, inside the transaction that adds the job
(``admission_refusal`` locks the user's row), so parallel requests cannot all pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import BigInteger, cast, func, select, true
from sqlalchemy.orm import Session

from stemdeck.core.accounts.audio_ledger import DAY, counted_since, counts_since
from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.db import begin_writing
from stemdeck.core.models import Job, Stem, User, utcnow
from stemdeck.core.settings import ENV_PREFIX, Settings
from stemdeck.core.states import JobStatus

MIB = 1024 * 1024
ACTIVE = (JobStatus.queued, JobStatus.fetching, JobStatus.running)
# The largest own limits the columns hold (Integer minutes, BigInteger bytes).
MAX_INTEGER = 2**31 - 1
MAX_STORAGE_MB = 2**40


class Limit(StrEnum):
    active_jobs = "active_jobs"
    audio_minutes_per_day = "audio_minutes_per_day"
    storage = "storage"


@dataclass(frozen=True)
class Quota:
    allowed: int | None  # None: unlimited
    own: bool  # set for this user by an admin, not the settings' default


@dataclass(frozen=True)
class Quotas:
    active_jobs: Quota
    audio_minutes_per_day: Quota
    storage_bytes: Quota


def _pick(own: int | None, default: int) -> Quota:
    value = own if own is not None else default
    return Quota(value or None, own is not None)


def quotas_of(user: User, settings: Settings) -> Quotas:
    return Quotas(
        _pick(user.max_active_jobs, settings.quota_active_jobs),
        _pick(user.audio_minutes_per_day, settings.quota_audio_minutes_per_day),
        _pick(user.storage_bytes, settings.quota_storage_mb * MIB),
    )


@dataclass(frozen=True)
class Usage:
    active_jobs: int
    audio_seconds: float  # counted in the last 24 hours (the audio ledger)
    storage_bytes: int
    # The earliest count in audio_seconds: its minutes leave the day first.
    oldest_counted_at: datetime | None

    @property
    def audio_minutes(self) -> float:
        return round(self.audio_seconds / 60, 2)


def _stem_bytes(session: Session, user_id: str) -> int:
    """The sum of every stem file's size (Stem.sizes: format → bytes), in the database."""
    json_each = (
        func.json_each_text if session.get_bind().dialect.name == "postgresql" else func.json_each
    )
    # Joined after stems, the function reads each stem's own sizes (implicitly lateral
    # in Postgres and SQLite alike).
    each = json_each(Stem.sizes).table_valued("value")
    total = session.scalar(
        select(func.sum(cast(each.c.value, BigInteger)))
        .select_from(Stem)
        .join(Job, Job.id == Stem.job_id)
        .join(each, true())
        .where(Job.owner_id == user_id, Job.status != JobStatus.cancelled)
    )
    return int(total or 0)


def usage_of(session: Session, user_id: str, now: datetime | None = None) -> Usage:
    active, source_bytes = session.execute(
        select(
            func.count().filter(Job.status.in_(ACTIVE)),
            # A cancelled job's files went when it was cancelled.
            func.sum(Job.source_size_bytes).filter(Job.status != JobStatus.cancelled),
        ).where(Job.owner_id == user_id)
    ).one()
    seconds, oldest = counted_since(session, user_id, (now or utcnow()) - DAY)
    return Usage(
        active_jobs=int(active),
        audio_seconds=seconds,
        storage_bytes=int(source_bytes or 0) + _stem_bytes(session, user_id),
        oldest_counted_at=_aware(oldest),
    )


def _aware(value: datetime | None) -> datetime | None:
    # An aggregate's result skips the column type's UTC restore (models.UTCDateTime).
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class QuotaRefusal:
    """Why a new job may not be accepted now."""

    limit: Limit
    used: float  # jobs, minutes or bytes, as ``allowed``
    allowed: int
    resets_at: datetime | None  # None: no clock lifts it; the message says what does
    message: str


def _whose(quota: Quota, setting: str) -> str:
    if quota.own:
        return "your account's own limit, set by an admin"
    return f"the server's {ENV_PREFIX}{setting}"


def _mb(size: int) -> str:
    return f"{size / MIB:,.1f} MB"


def _over(used: float, incoming: float | None, allowed: float) -> bool:
    # A URL job's length and size are unknown until it is downloaded: it is admitted
    # while its owner is under the limit, and counts once it is known.
    return used >= allowed if incoming is None else used + incoming > allowed


def admission_refusal(
    session: Session,
    user_id: str,
    settings: Settings,
    seconds: float | None,
    size_bytes: int | None,
    now: datetime | None = None,
) -> QuotaRefusal | None:
    """Why ``user_id`` may not add a job whose source has ``seconds`` and ``size_bytes``
    (None: a URL job, not downloaded yet), or None when it fits every quota (or the
    user is gone).

    Call it first in the transaction that then adds the job: it locks the user's row
    (SQLite: the database) until that transaction ends, so another request of theirs
    waits and then counts this job, and a quota cannot be passed by sending in parallel.
    """
    begin_writing(session)
    user = session.get(User, user_id, with_for_update=True)
    if user is None:  # deleted since the request was signed in: nothing to count against
        return None
    now = now or utcnow()
    quotas = quotas_of(user, settings)
    usage = usage_of(session, user.id, now)
    return (
        _active(usage, quotas.active_jobs)
        or _minutes(session, user.id, usage, quotas.audio_minutes_per_day, seconds, now)
        or _storage(usage, quotas.storage_bytes, size_bytes)
    )


def _active(usage: Usage, quota: Quota) -> QuotaRefusal | None:
    if quota.allowed is None or usage.active_jobs < quota.allowed:
        return None
    return QuotaRefusal(
        Limit.active_jobs,
        usage.active_jobs,
        quota.allowed,
        None,
        f"You have {usage.active_jobs} job(s) queued or running, the most you may have at "
        f"once ({_whose(quota, 'QUOTA_ACTIVE_JOBS')}). Wait for one to finish, or cancel "
        "one, then send this again.",
    )


def _minutes(
    session: Session,
    user_id: str,
    usage: Usage,
    quota: Quota,
    seconds: float | None,
    now: datetime,
) -> QuotaRefusal | None:
    if quota.allowed is None or not _over(usage.audio_seconds, seconds, quota.allowed * 60):
        return None
    whose = _whose(quota, "QUOTA_AUDIO_MINUTES_PER_DAY")
    sent = f"{usage.audio_minutes:.1f} of your {quota.allowed} minutes of audio"
    if seconds is not None and seconds > quota.allowed * 60:
        message = (
            f"This audio is {seconds / 60:.1f} minutes long, more than the {quota.allowed} "
            f"minutes a day you may send ({whose}), so it fits on no day. Send a shorter "
            "file, or ask an admin to raise your limit."
        )
        return QuotaRefusal(
            Limit.audio_minutes_per_day, usage.audio_minutes, quota.allowed, None, message
        )
    resets_at = _frees_at(session, user_id, usage, seconds, quota.allowed * 60, now)
    this = (
        f"This audio is {seconds / 60:.1f} minutes long, and you" if seconds is not None else "You"
    )
    return QuotaRefusal(
        Limit.audio_minutes_per_day,
        usage.audio_minutes,
        quota.allowed,
        resets_at,
        f"{this} have sent {sent} in the last 24 hours ({whose}). Enough frees up at "
        f"{resets_at:%H:%M} UTC, as your earlier jobs leave the 24 hours; send it again then.",
    )


def _frees_at(
    session: Session,
    user_id: str,
    usage: Usage,
    seconds: float | None,
    allowed_s: float,
    now: datetime,
) -> datetime:
    """When enough of the day's minutes have left it for ``seconds`` more to fit."""
    left = usage.audio_seconds
    for counted_at, counted in counts_since(session, user_id, now - DAY):
        left -= counted
        if not _over(left, seconds, allowed_s):
            return _ceil_second(counted_at + DAY)
    return _ceil_second(now + DAY)  # a download counted meanwhile: a day frees all


def _ceil_second(moment: datetime) -> datetime:
    # Whole seconds, rounded up, so the message, resets_at and Retry-After agree.
    whole = moment.replace(microsecond=0)
    return whole + timedelta(seconds=1) if whole < moment else whole


def _storage(usage: Usage, quota: Quota, size_bytes: int | None) -> QuotaRefusal | None:
    if quota.allowed is None or not _over(usage.storage_bytes, size_bytes, quota.allowed):
        return None
    whose = _whose(quota, "QUOTA_STORAGE_MB")
    if size_bytes is not None and size_bytes > quota.allowed:
        message = (
            f"This upload ({_mb(size_bytes)}) is larger than all the storage you have "
            f"({_mb(quota.allowed)}, {whose}). Send a smaller file, or ask an admin to raise "
            "your limit."
        )
    else:
        this = f", and this upload is {_mb(size_bytes)}" if size_bytes is not None else ""
        message = (
            f"Your jobs store {_mb(usage.storage_bytes)} of your {_mb(quota.allowed)}{this} "
            f"({whose}). Delete jobs you no longer need (in the web app, or "
            "DELETE /api/jobs/{id}), then send this again."
        )
    return QuotaRefusal(Limit.storage, usage.storage_bytes, quota.allowed, None, message)


# --- an admin's own limits for one user (`stemdeck users quota`) ---------------------


def set_quotas(
    user: User,
    active_jobs: int | None = None,
    audio_minutes_per_day: int | None = None,
    storage_mb: int | None = None,
    default: bool = False,
) -> None:
    """Give ``user`` their own limits (0: unlimited), or with ``default`` the settings'
    defaults again. AccountError, changing nothing, for a value out of range."""
    given = [
        ("--active-jobs", active_jobs, MAX_INTEGER),
        ("--audio-minutes-per-day", audio_minutes_per_day, MAX_INTEGER),
        ("--storage-mb", storage_mb, MAX_STORAGE_MB),
    ]
    chosen = [(flag, value, most) for flag, value, most in given if value is not None]
    if default and chosen:
        raise AccountError(
            "--default puts all three quotas back to the server's defaults; give it alone, "
            f"or leave it out to set {', '.join(flag for flag, _, _ in chosen)}"
        )
    for flag, value, most in chosen:
        if not 0 <= value <= most:
            raise AccountError(f"{flag} must be from 0 (unlimited) to {most}; got {value}")
    if default:
        user.max_active_jobs = user.audio_minutes_per_day = user.storage_bytes = None
        return
    if active_jobs is not None:
        user.max_active_jobs = active_jobs
    if audio_minutes_per_day is not None:
        user.audio_minutes_per_day = audio_minutes_per_day
    if storage_mb is not None:
        user.storage_bytes = storage_mb * MIB


def describe_quotas(quotas: Quotas) -> str:
    def one(label: str, quota: Quota, scale: int = 1, unit: str = "") -> str:
        value = "unlimited" if quota.allowed is None else f"{quota.allowed // scale}{unit}"
        return f"{label} {value} ({'own' if quota.own else 'default'})"

    return ", ".join(
        [
            one("active jobs", quotas.active_jobs),
            one("audio minutes per day", quotas.audio_minutes_per_day),
            one("storage", quotas.storage_bytes, MIB, " MB"),
        ]
    )

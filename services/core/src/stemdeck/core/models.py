"""Database rows: a Job (with its source audio) and its Stems, and who owns them: Users,
their OIDC Identities, sign-in Sessions, ApiTokens and Invites; the AudioUsage ledger;
Batches of jobs; WebhookEndpoints, CallbackSecrets and the WebhookDeliveries sent to them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from stemdeck.core.states import JobStatus, Stage


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_job_id() -> str:
    return uuid.uuid4().hex


def new_id() -> str:
    return uuid.uuid4().hex


# The built-in admin, made by migration 0005: `STEMDECK_AUTH=none` acts as it, jobs from
# before accounts belong to it, and the settings' first admin is this row (see
# core/accounts/first_admin.py). Its address until then can never be a real one.
LOCAL_ADMIN_ID = "0" * 31 + "1"
LOCAL_ADMIN_EMAIL = "local-admin@stemdeck.invalid"


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps in UTC everywhere: SQLite stores them without a zone, so restore it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_job_id)
    # Who may see the job; no default, so every way of making a job has to say.
    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", name="fk_jobs_owner_id_users"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.queued, index=True)
    stage: Mapped[str] = mapped_column(String(80), default=Stage.waiting)
    # The model at work while separating (``demucs:htdemucs``), else empty.
    stage_detail: Mapped[str | None] = mapped_column(String(80), default=None)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Stable reason of a failure (``url_forbidden``, ``timeout``, ``worker_lost`` …).
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Gain applied to every stem (dB; below 0 when loud input was turned down).
    output_gain_db: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Tempo, beats, downbeats and key, written with the stems (stemdeck.worker.music);
    # None before a job completes, for jobs older than the column, or when it failed.
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    strategy: Mapped[str] = mapped_column(String(100))
    formats: Mapped[list[str]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    source_name: Mapped[str] = mapped_column(String(255))
    # A URL job has no stored source until the ingest task has downloaded it.
    source_url: Mapped[str | None] = mapped_column(Text, default=None)
    source_title: Mapped[str | None] = mapped_column(String(255), default=None)
    source_key: Mapped[str | None] = mapped_column(String(255))
    source_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    source_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    source_format: Mapped[str | None] = mapped_column(String(32))
    source_duration_s: Mapped[float | None] = mapped_column(Float)
    source_sample_rate: Mapped[int | None] = mapped_column(Integer)
    source_channels: Mapped[int | None] = mapped_column(Integer)

    # Where to POST the job's job.completed / job.failed (signed with the owner's
    # CallbackSecret); None: no callback.
    callback_url: Mapped[str | None] = mapped_column(Text, default=None)
    # The batch the job was sent in; SET NULL: a job outlives its batch's row.
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("batches.id", name="fk_jobs_batch_id_batches", ondelete="SET NULL"),
        default=None,
        index=True,
    )

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written by the worker while an attempt runs; the reconciler re-queues jobs whose
    # heartbeat stopped (the worker died).
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    stems: Mapped[list[Stem]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        order_by="Stem.position",
        lazy="selectin",
    )


class Stem(Base):
    __tablename__ = "stems"
    __table_args__ = (UniqueConstraint("job_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    lufs: Mapped[float | None] = mapped_column(Float)
    peak_dbfs: Mapped[float | None] = mapped_column(Float)
    formats: Mapped[list[str]] = mapped_column(JSON)
    keys: Mapped[dict[str, str]] = mapped_column(JSON)
    sizes: Mapped[dict[str, int]] = mapped_column(JSON)
    waveform_key: Mapped[str] = mapped_column(String(255))
    waveform_png_key: Mapped[str] = mapped_column(String(255))

    job: Mapped[Job] = relationship(back_populates="stems")


def copy_stem(stem: Stem, job_id: str | None = None) -> Stem:
    """A new row with the same values (and file keys), for another job or another try."""
    copy = Stem(
        **{
            column.key: getattr(stem, column.key)
            for column in Stem.__table__.columns
            if column.key not in {"id", "job_id"}
        }
    )
    if job_id is not None:
        copy.job_id = job_id
    return copy


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="ck_users_email_lower"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Lower-cased by the code that stores it, and checked by the database.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # argon2id; None: no password sign-in (OIDC only, or the built-in admin unclaimed).
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Quotas of this user; None: the settings' defaults.
    max_active_jobs: Mapped[int | None] = mapped_column(Integer, default=None)
    audio_minutes_per_day: Mapped[int | None] = mapped_column(Integer, default=None)
    storage_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)


class Identity(Base):
    """An OIDC account (issuer, subject) that signs in as a user."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInSession(Base):
    """A signed-in browser. The cookie holds a random id; this row only its SHA-256."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The absolute end (created_at + the lifetime); the idle end follows last_seen_at.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)


class ApiToken(Base):
    """A script's `Authorization: Bearer sdk_…`; only the token's SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # "sdk_" and the next 8 characters, shown to tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Invite(Base):
    """An admin's invite link: a row, not a signed token, so it can be listed and revoked.
    The link holds a random token; this row only its SHA-256."""

    __tablename__ = "invites"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Lower-cased, as users.email: the account it makes has this address.
    email: Mapped[str] = mapped_column(String(320))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # SET NULL: an invite outlives a deleted admin; who sent it is only for display.
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class AudioUsage(Base):
    """Seconds of source audio counted toward a user's minutes per rolling day: written in
    the transaction that accepts the job (or stores a URL job's download), and kept when
    the job is cancelled or deleted, so deleting and sending again never gives minutes
    back. The reconciler prunes rows older than a day."""

    __tablename__ = "audio_usage"
    __table_args__ = (Index("ix_audio_usage_user_id_counted_at", "user_id", "counted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Which job it was, for a person reading the table: no foreign key, as the count
    # outlives the job.
    job_id: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float)
    counted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Batch(Base):
    """Several songs sent at once (a list of URLs, or several files) with one strategy
    and one set of formats; its jobs point at it."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    strategy: Mapped[str] = mapped_column(String(100))
    formats: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    """A URL a user registered to hear of their jobs' events, signed with its own secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    # Standard Webhooks' "whsec_" + base64 key: kept as is, as every delivery signs with it.
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a delivery ran out of tries; cleared by the next one that succeeds.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)


class CallbackSecret(Base):
    """The secret that signs deliveries to a job's own ``callback_url``, one per user."""

    __tablename__ = "callback_secrets"

    owner_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one receiver: the outbox row its sender claims, tries, and keeps as
    the delivery log (the last try's answer) for a bounded time. Its id is the
    ``webhook-id`` every try of it carries, so receivers can deduplicate."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # None: a delivery to a job's callback_url.
    endpoint_id: Mapped[str | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), default=None, index=True
    )
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # No foreign key: the log outlives the job.
    job_id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(32))
    # The signed body, fixed at the first try so every try sends the same bytes.
    payload: Mapped[str | None] = mapped_column(Text, default=None)
    # pending (to send, at next_attempt_at), delivered, or failed (out of tries)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    # A sender's claim: another leaves the row alone until then (a sender that died).
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    # The last moment a retry may be scheduled: the first try of a run of tries (a new
    # delivery's, or a redelivery's) plus STEMDECK_WEBHOOK_RETRY_WINDOW_S.
    retry_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    # The start of the receiver's answer, or why there was none (refused, timed out).
    last_response: Mapped[str | None] = mapped_column(Text, default=None)

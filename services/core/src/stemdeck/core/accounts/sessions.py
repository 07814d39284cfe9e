"""Signed-in browsers, kept on the server: the cookie holds a random id, the row its SHA-256.

A session ends at the first of: its absolute end (``expires_at``, set when it starts),
``STEMDECK_SESSION_IDLE_HOURS`` without a request, sign-out, or its user disabled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stemdeck.core.accounts.tokens import digest, new_session_id
from stemdeck.core.models import SignInSession, User, utcnow
from stemdeck.core.settings import Settings

# last_seen_at (and a token's last_used_at) is written at most this often: a page's burst
# of requests (stems, waveforms, events) must not become a burst of writes.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        return cls(
            idle=timedelta(hours=settings.session_idle_hours),
            lifetime=timedelta(days=settings.session_lifetime_days),
        )


def start_session(
    session: Session,
    user: User,
    limits: SessionLimits,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
) -> str:
    """A new session of ``user``; returns the id for the cookie (the row keeps its hash).

    Always a new id: signing in never reuses one a browser already had (fixation)."""
    secret = new_session_id()
    now = utcnow()
    session.add(
        SignInSession(
            id_hash=secret.digest,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + limits.lifetime,
            user_agent=user_agent[:255] if user_agent else None,
            ip=ip[:45] if ip else None,
        )
    )
    return secret.value


def signed_in_user(
    session: Session, session_id: str, limits: SessionLimits, now: datetime | None = None
) -> User | None:
    """The enabled user a live session belongs to; an ended session's row is removed."""
    found = session_user(session, session_id, limits, now)
    return found[0] if found is not None else None


def session_user(
    session: Session, session_id: str, limits: SessionLimits, now: datetime | None = None
) -> tuple[User, datetime] | None:
    """The enabled user a live session belongs to, and when the session ends unless used
    again (its idle end, or its absolute end if sooner); an ended session's row is
    removed. One read by the primary key; a write at most every TOUCH_EVERY."""
    now = now or utcnow()
    found = session.execute(
        select(SignInSession, User)
        .join(User, User.id == SignInSession.user_id)
        .where(SignInSession.id_hash == digest(session_id))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= now or row.last_seen_at + limits.idle <= now or user.disabled_at:
        session.delete(row)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return user, min(row.expires_at, row.last_seen_at + limits.idle)


def end_session(session: Session, session_id: str) -> None:
    session.execute(delete(SignInSession).where(SignInSession.id_hash == digest(session_id)))


# A session's handle in the API: the first 16 hex characters (64 bits) of the stored
# SHA-256. The hash is one-way, so neither it nor a prefix can be turned back into the
# cookie; 64 bits tell one user's few sessions apart, and every lookup by handle is
# within that user's own sessions. Only a prefix, so the API never hands out the row's
# whole key: a handle seen in a screenshot or a log names a session, and nothing more.
HANDLE_LENGTH = 16
_HANDLE = re.compile(rf"[0-9a-f]{{{HANDLE_LENGTH}}}")


def session_handle(row: SignInSession) -> str:
    return row.id_hash[:HANDLE_LENGTH]


def live_sessions(
    session: Session, user_id: str, limits: SessionLimits, now: datetime | None = None
) -> list[SignInSession]:
    """The user's sessions that have not ended (absolute end, idle end), newest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(SignInSession)
            .where(
                SignInSession.user_id == user_id,
                SignInSession.expires_at > now,
                SignInSession.last_seen_at > now - limits.idle,
            )
            .order_by(SignInSession.created_at.desc(), SignInSession.id_hash)
        )
    )


def end_session_by_handle(session: Session, user_id: str, handle: str) -> bool:
    """End the session of ``user_id`` that ``handle`` names; False when none of theirs does
    (another user's session is never touched)."""
    if not _HANDLE.fullmatch(handle):
        return False  # not a handle this server made: no database write
    ended = session.execute(
        delete(SignInSession).where(
            SignInSession.user_id == user_id,
            SignInSession.id_hash.startswith(handle, autoescape=True),
        )
    )
    return bool(ended.rowcount)  # type: ignore[attr-defined]


def end_user_sessions(session: Session, user_id: str, keep: str | None = None) -> int:
    """End every session of ``user_id`` but the one whose id (the cookie) is ``keep``;
    how many ended."""
    ending = delete(SignInSession).where(SignInSession.user_id == user_id)
    if keep is not None:
        ending = ending.where(SignInSession.id_hash != digest(keep))
    ended = session.execute(ending)
    return int(ended.rowcount)  # type: ignore[attr-defined]

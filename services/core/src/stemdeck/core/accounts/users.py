"""Users: adding, finding, listing and disabling them. Callers hold the session, so a
refusal (an AccountError) leaves the database as it was."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.passwords import PasswordRefused, hash_password, verify_password
from stemdeck.core.accounts.quotas import set_quotas
from stemdeck.core.accounts.sessions import end_user_sessions
from stemdeck.core.models import LOCAL_ADMIN_ID, ApiToken, User, utcnow

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 320


def normalize_email(value: str) -> str:
    """The form every email is stored and looked up in: trimmed, lower-cased."""
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise AccountError(f"{value!r} is not an email address; give one like ada@example.com")
    return email


def find_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise AccountError(
            f"no account has the email {email.strip().lower()}; "
            "`stemdeck users list` shows them, `stemdeck users add` makes one"
        )
    return user


def add_user(session: Session, email: str, password: str, is_admin: bool = False) -> User:
    """A new user who signs in with ``password``."""
    address = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise AccountError(f"{address} already has an account; `stemdeck users list` shows it")
    try:
        password_hash = hash_password(password)
    except PasswordRefused as refused:
        raise AccountError(str(refused)) from None
    user = User(email=address, password_hash=password_hash, is_admin=is_admin)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # added by someone else since the check above
        raise AccountError(f"{address} already has an account") from None
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.email)))


def disable_user(session: Session, user: User) -> tuple[int, int]:
    """Disable ``user`` and, in the same transaction, end every session of theirs and
    revoke every token: (sessions ended, tokens revoked)."""
    if user.id == LOCAL_ADMIN_ID:
        raise AccountError(
            f"{user.email} is the first admin (STEMDECK_ADMIN_EMAIL), who cannot be "
            "disabled: nobody could manage Stemdeck. Give STEMDECK_ADMIN_EMAIL another "
            "address and run `stemdeck migrate` to hand the role on"
        )
    now = utcnow()
    if user.disabled_at is None:
        user.disabled_at = now
    ended = end_user_sessions(session, user.id)
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return ended, revoked.rowcount  # type: ignore[attr-defined]


def ensure_password_changeable(user: User) -> None:
    """AccountError for the first admin: ensure_first_admin re-applies
    STEMDECK_ADMIN_PASSWORD on every `stemdeck migrate`, and would silently undo a
    change made anywhere else (and end the sessions signed in with it)."""
    if user.id == LOCAL_ADMIN_ID:
        raise AccountError(
            f"{user.email} is the first admin: their password is the server's "
            "STEMDECK_ADMIN_PASSWORD, which `stemdeck migrate` applies again, overwriting "
            "a change made here. Change STEMDECK_ADMIN_PASSWORD and run `stemdeck migrate`"
        )


def change_password(
    session: Session, user: User, current: str, new: str, keep_session: str | None = None
) -> bool:
    """Give ``user`` the password ``new`` if ``current`` is theirs, and end every other
    session of theirs (whoever else knew the old password is signed out), keeping the
    one whose id is ``keep_session``. False, changing nothing, when ``current`` is wrong;
    PasswordRefused when ``new`` may not be set; AccountError for the first admin."""
    ensure_password_changeable(user)
    if not verify_password(user.password_hash, current):
        return False
    user.password_hash = hash_password(new)
    end_user_sessions(session, user.id, keep=keep_session)
    return True


def _refuse_lockout(user: User, actor_id: str, change: str) -> None:
    """AccountError when ``change`` (disabling, or taking the admin role) would shut out
    the admin making it, or the first admin, whose role comes from the settings."""
    if user.id == LOCAL_ADMIN_ID:
        raise AccountError(
            f"{user.email} is the first admin (STEMDECK_ADMIN_EMAIL), whose role comes from "
            "the server's settings: they stay an enabled admin, and `stemdeck migrate` would "
            "undo a change made here. Give STEMDECK_ADMIN_EMAIL another address to hand the "
            "role on"
        )
    if user.id == actor_id:
        raise AccountError(
            f"you cannot {change} yourself: you could lock every admin out. Ask another "
            "admin to do it"
        )


def set_admin(user: User, is_admin: bool, actor_id: str) -> None:
    """Give or take ``user``'s admin role; taking it from oneself or the first admin is
    refused (AccountError)."""
    if not is_admin and user.is_admin:
        _refuse_lockout(user, actor_id, "take the admin role from")
    user.is_admin = is_admin


def set_disabled(session: Session, user: User, disabled: bool, actor_id: str) -> None:
    """Disable ``user`` (ending their sessions and tokens: disable_user) or enable them
    again; disabling oneself or the first admin is refused (AccountError)."""
    if not disabled:
        user.disabled_at = None
        return
    _refuse_lockout(user, actor_id, "disable")
    disable_user(session, user)


# PATCH /api/admin/users/{id}'s quota names → the user's columns; None: the default.
QUOTA_FIELDS = {
    "active_jobs": "max_active_jobs",
    "audio_minutes_per_day": "audio_minutes_per_day",
    "storage_mb": "storage_bytes",
}


def set_user_quotas(user: User, changes: Mapping[str, int | None]) -> None:
    """Set the quotas named in ``changes`` (QUOTA_FIELDS' keys): a number is the user's own
    limit (0: unlimited), checked as `stemdeck users quota` checks it; None puts that one
    back to the settings' default. AccountError, changing nothing, for a value out of range."""
    set_quotas(
        user,
        active_jobs=changes.get("active_jobs"),
        audio_minutes_per_day=changes.get("audio_minutes_per_day"),
        storage_mb=changes.get("storage_mb"),
    )
    for name, value in changes.items():
        if value is None:
            setattr(user, QUOTA_FIELDS[name], None)

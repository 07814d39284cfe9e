"""Issuing API tokens: the value is returned once; the row keeps its SHA-256."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.sessions import TOUCH_EVERY
from stemdeck.core.accounts.tokens import Scope, digest, new_api_token, parse_scopes
from stemdeck.core.models import ApiToken, User, utcnow

MAX_NAME_LENGTH = 100
MAX_EXPIRES_DAYS = 3650


def issue_api_token(
    session: Session,
    user: User,
    scopes: Iterable[str],
    name: str,
    expires_days: int | None = None,
) -> str:
    """Store a new token of ``user`` and return its value (shown once, kept nowhere)."""
    value, _ = create_api_token(session, user, scopes, name, expires_days)
    return value


def create_api_token(
    session: Session,
    user: User,
    scopes: Iterable[str],
    name: str,
    expires_days: int | None = None,
) -> tuple[str, ApiToken]:
    """Store a new token of ``user``: its value (shown once, kept nowhere) and its row,
    flushed so it has its id. An AccountError says what to change, and stores nothing."""
    try:
        granted = parse_scopes(scopes)
    except ValueError as error:
        raise AccountError(str(error)) from None
    label = name.strip()
    if not label or len(label) > MAX_NAME_LENGTH:
        raise AccountError(f"a token's name is 1 to {MAX_NAME_LENGTH} characters; got {name!r}")
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise AccountError(
            f"--expires-days must be 1 to {MAX_EXPIRES_DAYS} (or left out: no expiry); "
            f"got {expires_days}"
        )
    if user.disabled_at is not None:
        raise AccountError(f"{user.email} is disabled; a disabled user gets no tokens")
    if Scope.admin in granted and not user.is_admin:
        raise AccountError(
            f"{user.email} is not an admin, so a token of theirs cannot have the admin scope"
        )
    token = new_api_token()
    now = utcnow()
    row = ApiToken(
        user_id=user.id,
        name=label,
        prefix=token.shown_prefix,
        token_hash=token.digest,
        scopes=[scope.value for scope in granted],
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.flush()
    return token.value, row


def user_api_tokens(session: Session, user_id: str) -> list[ApiToken]:
    """The user's tokens not revoked (expired ones too, to be seen and revoked), newest
    first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id)
        )
    )


def revoke_api_token(session: Session, user_id: str, token_id: str) -> bool:
    """Revoke the user's token ``token_id``; False when no unrevoked token of theirs has
    that id (another user's token is never touched). The row stays, for the record."""
    revoked = session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            ApiToken.user_id == user_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return bool(revoked.rowcount)  # type: ignore[attr-defined]


def token_user(
    session: Session, token: str, now: datetime | None = None
) -> tuple[User, ApiToken] | None:
    """The enabled user and the live (not revoked, not expired) token a value names."""
    now = now or utcnow()
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    expired = row.expires_at is not None and row.expires_at <= now
    if row.revoked_at is not None or expired or user.disabled_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return user, row

"""Issuing API tokens: the value is returned once; the row keeps its SHA-256."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
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
    session.add(
        ApiToken(
            user_id=user.id,
            name=label,
            prefix=token.shown_prefix,
            token_hash=token.digest,
            scopes=[scope.value for scope in granted],
            created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
        )
    )
    return token.value


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

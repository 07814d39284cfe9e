"""Password sign-in: which user an email and password prove, told apart from nothing
else. An unknown email, a wrong password, an account without a password and a
disabled account all do one argon2 verification and give the same None."""

from __future__ import annotations

from contextlib import suppress

from sqlalchemy import select
from sqlalchemy.orm import Session

from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.passwords import (
    PasswordRefused,
    hash_password,
    needs_rehash,
    verify_password,
)
from stemdeck.core.accounts.users import normalize_email
from stemdeck.core.models import User


def password_user(session: Session, email: str, password: str) -> User | None:
    """The enabled user whose email and password these are, else None (same work)."""
    try:
        address = normalize_email(email)
    except AccountError:
        address = None  # cannot be anyone's; still verified below, for the time it takes
    user = session.scalar(select(User).where(User.email == address)) if address else None
    stored = user.password_hash if user is not None else None
    # Always one verification: against the dummy hash when there is no stored one.
    if not verify_password(stored, password):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if stored is not None and needs_rehash(stored):
        # A password set before today's rules (too short) still signs in, unchanged.
        with suppress(PasswordRefused):
            user.password_hash = hash_password(password)
    return user

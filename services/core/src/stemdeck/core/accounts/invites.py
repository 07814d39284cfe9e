"""Invite links: an admin names an email and a role; whoever opens the link before it
expires sets a password and has that account.

The link carries 256 random bits; the database keeps only their SHA-256 (as for
sessions and API tokens), in a row, so an admin can list invites and revoke one, and
an invite works once. Callers hold the session: a refusal leaves the database as it was.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.passwords import check_new_password
from stemdeck.core.accounts.tokens import SECRET_BYTES, digest
from stemdeck.core.accounts.users import add_user, normalize_email
from stemdeck.core.models import Invite, User, utcnow

MAX_INVITE_HOURS = 30 * 24
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_INVITE_TOKEN_LENGTH = 128


class InviteInvalid(AccountError):
    """The token is unknown, used, revoked or expired."""


class EmailTaken(AccountError):
    """The invited email has an account already."""


def _refuse_taken(session: Session, address: str) -> None:
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise EmailTaken(f"{address} already has an account")


def create_invite(
    session: Session, email: str, is_admin: bool, expires_hours: int, created_by: str | None
) -> tuple[str, Invite]:
    """A new invite for ``email``: (the token, shown once, and its row)."""
    address = normalize_email(email)
    if not 1 <= expires_hours <= MAX_INVITE_HOURS:
        raise AccountError(
            f"an invite lasts from 1 to {MAX_INVITE_HOURS} hours; got {expires_hours}"
        )
    _refuse_taken(session, address)
    token = secrets.token_urlsafe(SECRET_BYTES)
    row = Invite(
        email=address,
        is_admin=is_admin,
        token_hash=digest(token),
        created_by=created_by,
        expires_at=utcnow() + timedelta(hours=expires_hours),
    )
    session.add(row)
    session.flush()
    return token, row


def open_invites(session: Session) -> list[Invite]:
    """Invites neither used nor expired, newest first."""
    return list(
        session.scalars(
            select(Invite)
            .where(Invite.used_at.is_(None), Invite.expires_at > utcnow())
            .order_by(Invite.created_at.desc())
        )
    )


def revoke_invite(session: Session, invite_id: str) -> bool:
    """Delete an unused invite (its link stops working); False when there is none."""
    result = session.execute(delete(Invite).where(Invite.id == invite_id, Invite.used_at.is_(None)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def accept_invite(session: Session, token: str, password: str) -> User:
    """The account the invite behind ``token`` promised, with ``password``; the invite is
    used up. InviteInvalid for a token that no longer works, PasswordRefused for an
    unfit password, EmailTaken when the email has an account meanwhile."""
    now = utcnow()
    row = session.scalar(
        # Locked, so two tabs accepting at once cannot both make the account.
        select(Invite).where(Invite.token_hash == digest(token)).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise InviteInvalid(
            "this invite link is not valid: it was used, revoked or has expired, or it is "
            "mistyped. Ask the admin who sent it for a new link"
        )
    check_new_password(password)  # its own refusal, before add_user folds it in
    _refuse_taken(session, row.email)
    try:
        user = add_user(session, row.email, password, row.is_admin)
    except AccountError as error:  # only a race is left: made since the check above
        raise EmailTaken(str(error)) from None
    row.used_at = now
    return user

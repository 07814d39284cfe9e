"""Which user a verified OpenID Connect sign-in is, or why it is refused.

The ID token has been verified by then (signature, iss, aud, exp, nonce: the API's
auth/oidc.py); here only its claims decide. An identity is (issuer, subject): it stays
the same user when the email at the provider changes. An email counts, for the
allowlist or for finding an account made by an admin, only when the provider says it
verified it: anyone can type any address into an account at most providers.

Callers hold the session: a refusal leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.users import normalize_email
from stemdeck.core.models import Identity, User


class Refusal(StrEnum):
    """Why someone who proved who they are at the provider still may not sign in."""

    # No verified email, and no account linked to this identity.
    email_unverified = "email_unverified"
    # A verified email that is neither on the allowlist nor an account's.
    not_allowed = "not_allowed"
    account_disabled = "account_disabled"
    # Another sign-in of the same person made the account or link at the same moment.
    conflict = "conflict"


class OidcRefused(AccountError):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class OidcClaims:
    issuer: str
    subject: str
    # Lower-cased; None when the provider sent none or did not verify it.
    verified_email: str | None

    @classmethod
    def of(cls, issuer: str, claims: Mapping[str, object]) -> OidcClaims:
        """From a verified ID token's claims (and the userinfo ones, already merged)."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ValueError("the ID token has no subject")
        return cls(issuer, subject, _verified_email(claims))


def _verified_email(claims: Mapping[str, object]) -> str | None:
    verified = claims.get("email_verified")
    # A few providers (Amazon Cognito) send the JSON string "true" instead of true.
    if verified is not True and not (isinstance(verified, str) and verified.lower() == "true"):
        return None
    email = claims.get("email")
    if not isinstance(email, str):
        return None
    try:
        return normalize_email(email)
    except AccountError:
        return None


@dataclass(frozen=True)
class AllowList:
    emails: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def of(cls, emails: Sequence[str], domains: Sequence[str]) -> AllowList:
        return cls(frozenset(e.lower() for e in emails), frozenset(d.lower() for d in domains))

    def allows(self, email: str) -> bool:
        return email in self.emails or email.rsplit("@", 1)[-1] in self.domains


def oidc_user(session: Session, claims: OidcClaims, allowed: AllowList) -> User:
    """The user this identity signs in as: the one linked to it; else, on a verified
    email, the account with that email (now linked) or a new one when the allowlist
    has the email. OidcRefused otherwise, or when that user is disabled."""
    user = session.scalar(
        select(User)
        .join(Identity, Identity.user_id == User.id)
        .where(Identity.issuer == claims.issuer, Identity.subject == claims.subject)
    )
    if user is None:
        try:
            user = _by_email(session, claims, allowed)
            session.add(Identity(issuer=claims.issuer, subject=claims.subject, user_id=user.id))
            session.flush()
        except IntegrityError:  # two tabs finishing the same first sign-in at once
            raise OidcRefused(Refusal.conflict) from None
    if user.disabled_at is not None:
        raise OidcRefused(Refusal.account_disabled)
    return user


def _by_email(session: Session, claims: OidcClaims, allowed: AllowList) -> User:
    email = claims.verified_email
    if email is None:
        raise OidcRefused(Refusal.email_unverified)
    user = session.scalar(select(User).where(User.email == email))
    if user is not None:
        return user
    if not allowed.allows(email):
        raise OidcRefused(Refusal.not_allowed)
    # No password: this account signs in with the provider only (an admin can invite
    # or set one later).
    user = User(email=email, password_hash=None, is_admin=False)
    session.add(user)
    session.flush()
    return user

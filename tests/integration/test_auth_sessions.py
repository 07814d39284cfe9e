"""Sessions, API token lookup and password sign-in in core, on the real database."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import select

from stemdeck.core.accounts import passwords
from stemdeck.core.accounts.api_tokens import issue_api_token, token_user
from stemdeck.core.accounts.sessions import (
    TOUCH_EVERY,
    SessionLimits,
    end_session,
    signed_in_user,
    start_session,
)
from stemdeck.core.accounts.signin import password_user
from stemdeck.core.accounts.tokens import digest, looks_like_session_id
from stemdeck.core.accounts.users import add_user, disable_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import ApiToken, SignInSession, User, utcnow

PASSWORD = "correct horse battery"
LIMITS = SessionLimits(idle=timedelta(hours=2), lifetime=timedelta(days=1))


def make_user(url: str, email: str = "ada@example.com", is_admin: bool = False) -> str:
    with session_scope(url) as session:
        return add_user(session, email, PASSWORD, is_admin=is_admin).id


def start(url: str, user_id: str, **extra: str) -> str:
    with session_scope(url) as session:
        user = session.get(User, user_id)
        assert user is not None
        return start_session(session, user, LIMITS, **extra)


def lookup(url: str, session_id: str, after: timedelta = timedelta(0)) -> User | None:
    with session_scope(url) as session:
        user = signed_in_user(session, session_id, LIMITS, now=utcnow() + after)
        if user is not None:
            session.expunge(user)
        return user


def row(url: str, session_id: str) -> SignInSession | None:
    with session_scope(url) as session:
        found = session.get(SignInSession, digest(session_id))
        if found is not None:
            session.expunge(found)
        return found


# --- sessions ------------------------------------------------------------------------


def test_a_started_session_finds_its_user_and_keeps_only_the_ids_hash(
    clean_database: str,
) -> None:
    user_id = make_user(clean_database)
    session_id = start(clean_database, user_id, user_agent="x" * 400, ip="203.0.113.9")
    assert looks_like_session_id(session_id)
    found = lookup(clean_database, session_id)
    assert found is not None and found.id == user_id
    stored = row(clean_database, session_id)
    assert stored is not None
    assert stored.id_hash == digest(session_id) != session_id
    assert stored.expires_at - stored.created_at == LIMITS.lifetime
    assert stored.user_agent == "x" * 255 and stored.ip == "203.0.113.9"


def test_every_start_makes_a_new_id(clean_database: str) -> None:
    user_id = make_user(clean_database)
    ids = {start(clean_database, user_id) for _ in range(5)}
    assert len(ids) == 5


def test_an_unknown_or_tampered_id_finds_nobody(clean_database: str) -> None:
    user_id = make_user(clean_database)
    session_id = start(clean_database, user_id)
    tampered = session_id[:-1] + ("A" if session_id[-1] != "A" else "B")
    assert lookup(clean_database, tampered) is None
    assert lookup(clean_database, "") is None
    assert lookup(clean_database, session_id) is not None  # the real one still works


def test_a_session_idle_too_long_ends_and_its_row_goes(clean_database: str) -> None:
    session_id = start(clean_database, make_user(clean_database))
    assert lookup(clean_database, session_id, after=LIMITS.idle - timedelta(minutes=1))
    assert lookup(clean_database, session_id, after=LIMITS.idle * 2) is None
    assert row(clean_database, session_id) is None


def test_use_keeps_a_session_alive_until_its_absolute_end(clean_database: str) -> None:
    """GIVEN a session used every hour (never idle) THEN it still ends at its lifetime."""
    session_id = start(clean_database, make_user(clean_database))
    hour = timedelta(hours=1)
    for hours in range(1, 24):
        assert lookup(clean_database, session_id, after=hour * hours), f"ended at {hours} h"
    assert lookup(clean_database, session_id, after=LIMITS.lifetime) is None
    assert row(clean_database, session_id) is None


def test_last_seen_is_written_at_most_once_a_minute(clean_database: str) -> None:
    session_id = start(clean_database, make_user(clean_database))
    first = row(clean_database, session_id)
    assert first is not None
    lookup(clean_database, session_id, after=TOUCH_EVERY / 2)
    unchanged = row(clean_database, session_id)
    assert unchanged is not None and unchanged.last_seen_at == first.last_seen_at
    lookup(clean_database, session_id, after=TOUCH_EVERY * 2)
    touched = row(clean_database, session_id)
    assert touched is not None and touched.last_seen_at > first.last_seen_at


def test_a_disabled_users_session_ends(clean_database: str) -> None:
    user_id = make_user(clean_database)
    session_id = start(clean_database, user_id)
    with session_scope(clean_database) as session:
        # Disabled by hand (not disable_user, which deletes the rows itself).
        session.get_one(User, user_id).disabled_at = utcnow()
    assert lookup(clean_database, session_id) is None
    assert row(clean_database, session_id) is None


def test_sign_out_ends_only_that_session(clean_database: str) -> None:
    user_id = make_user(clean_database)
    kept, ended = start(clean_database, user_id), start(clean_database, user_id)
    with session_scope(clean_database) as session:
        end_session(session, ended)
        end_session(session, "never-issued")  # nothing to end: no error
    assert lookup(clean_database, ended) is None
    assert lookup(clean_database, kept) is not None


# --- API tokens ----------------------------------------------------------------------


def make_token(url: str, user_id: str, expires_days: int | None = None) -> str:
    with session_scope(url) as session:
        user = session.get_one(User, user_id)
        return issue_api_token(session, user, ["jobs:read"], "test", expires_days)


def lookup_token(url: str, token: str, after: timedelta = timedelta(0)) -> ApiToken | None:
    with session_scope(url) as session:
        found = token_user(session, token, now=utcnow() + after)
        if found is None:
            return None
        session.expunge(found[1])
        return found[1]


def test_a_live_token_finds_its_user_and_records_its_use_at_most_once_a_minute(
    clean_database: str,
) -> None:
    user_id = make_user(clean_database)
    token = make_token(clean_database, user_id)
    with session_scope(clean_database) as session:
        found = token_user(session, token)
        assert found is not None
        user, first = found
        assert user.id == user_id and first.scopes == ["jobs:read"]
        first_used = first.last_used_at
    assert first_used is not None
    again = lookup_token(clean_database, token, after=TOUCH_EVERY / 2)
    assert again is not None and again.last_used_at == first_used
    later = lookup_token(clean_database, token, after=TOUCH_EVERY * 2)
    assert later is not None and later.last_used_at and later.last_used_at > first_used


def test_a_revoked_expired_or_disabled_users_token_finds_nobody(clean_database: str) -> None:
    user_id = make_user(clean_database)
    revoked = make_token(clean_database, user_id)
    with session_scope(clean_database) as session:
        token_row = session.scalars(
            select(ApiToken).where(ApiToken.token_hash == digest(revoked))
        ).one()
        token_row.revoked_at = utcnow()
    assert lookup_token(clean_database, revoked) is None

    expiring = make_token(clean_database, user_id, expires_days=1)
    assert lookup_token(clean_database, expiring, after=timedelta(hours=23)) is not None
    assert lookup_token(clean_database, expiring, after=timedelta(days=1)) is None

    live = make_token(clean_database, user_id)
    assert lookup_token(clean_database, live) is not None
    with session_scope(clean_database) as session:
        session.get_one(User, user_id).disabled_at = utcnow()
    assert lookup_token(clean_database, live) is None
    assert lookup_token(clean_database, "sdk_" + "A" * 43) is None


def test_disable_user_ends_sessions_and_tokens_at_once(clean_database: str) -> None:
    user_id = make_user(clean_database)
    session_id, token = start(clean_database, user_id), make_token(clean_database, user_id)
    with session_scope(clean_database) as session:
        assert disable_user(session, session.get_one(User, user_id)) == (1, 1)
    assert lookup(clean_database, session_id) is None
    assert lookup_token(clean_database, token) is None


# --- password sign-in ----------------------------------------------------------------


def sign_in(url: str, email: str, password: str) -> str | None:
    with session_scope(url) as session:
        user = password_user(session, email, password)
        return user.id if user else None


def test_the_right_password_signs_in_whatever_the_emails_case(clean_database: str) -> None:
    user_id = make_user(clean_database)
    assert sign_in(clean_database, "  Ada@Example.COM ", PASSWORD) == user_id


def test_every_refusal_costs_one_argon2_verification(
    clean_database: str, argon2_verifications: list[str]
) -> None:
    """GIVEN an enabled user, a disabled one and an account without a password WHEN
    sign-in is refused for a wrong password, an unknown or malformed email, a disabled
    user or a missing password THEN each refusal did exactly one argon2 verification,
    so none answers sooner than the others."""
    make_user(clean_database)
    disabled = make_user(clean_database, "bob@example.com")
    with session_scope(clean_database) as session:
        disable_user(session, session.get_one(User, disabled))
    # The built-in admin of a clean database has no password.
    cases = [
        ("ada@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
        ("not an email", PASSWORD),
        ("bob@example.com", PASSWORD),
        ("local-admin@stemdeck.invalid", PASSWORD),
    ]
    for email, password in cases:
        before = len(argon2_verifications)
        assert sign_in(clean_database, email, password) is None, email
        assert len(argon2_verifications) == before + 1, email


def test_a_weak_old_hash_is_replaced_on_sign_in(clean_database: str) -> None:
    user_id = make_user(clean_database)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with session_scope(clean_database) as session:
        session.get_one(User, user_id).password_hash = weak
    assert sign_in(clean_database, "ada@example.com", PASSWORD) == user_id
    with session_scope(clean_database) as session:
        rehashed = session.get_one(User, user_id).password_hash
    assert rehashed and rehashed != weak and passwords.verify_password(rehashed, PASSWORD)

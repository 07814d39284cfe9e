"""Accounts in the database: the first admin from settings, and what disabling ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.first_admin import ensure_first_admin
from stemdeck.core.accounts.passwords import verify_password
from stemdeck.core.accounts.tokens import digest, new_session_id
from stemdeck.core.accounts.users import add_user, disable_user, find_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, ApiToken, SignInSession, User, utcnow

PASSWORD = "the first admin's password"


def admin(url: str) -> User:
    with session_scope(url) as session:
        user = session.get(User, LOCAL_ADMIN_ID)
        assert user is not None
        return user


def sign_in(url: str, user_id: str) -> str:
    """A session row as sign-in will store it (only the id's hash)."""
    secret = new_session_id()
    now = utcnow()
    with session_scope(url) as session:
        session.add(
            SignInSession(
                id_hash=secret.digest,
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(days=30),
            )
        )
    return secret.value


def count(url: str, model: type[SignInSession] | type[ApiToken], user_id: str) -> int:
    with session_scope(url) as session:
        return (
            session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id))
            or 0
        )


def test_the_first_admin_is_the_built_in_row_with_the_settings_password(
    clean_database: str,
) -> None:
    assert admin(clean_database).password_hash is None  # as the migration made it
    said = ensure_first_admin(clean_database, "Admin@Example.com", PASSWORD)
    assert said == "first admin admin@example.com: email, password"
    first = admin(clean_database)
    assert (first.email, first.is_admin, first.disabled_at) == ("admin@example.com", True, None)
    assert first.password_hash and first.password_hash.startswith("$argon2id$")
    assert verify_password(first.password_hash, PASSWORD)

    again = ensure_first_admin(clean_database, "admin@example.com", PASSWORD)
    assert again == "first admin admin@example.com: nothing to change"
    assert admin(clean_database).password_hash == first.password_hash


def test_a_changed_admin_password_replaces_the_hash_and_ends_the_admins_sessions(
    clean_database: str,
) -> None:
    ensure_first_admin(clean_database, "admin@example.com", PASSWORD)
    session_id = sign_in(clean_database, LOCAL_ADMIN_ID)
    said = ensure_first_admin(clean_database, "admin@example.com", "a brand new password")
    assert said.endswith(": password")
    assert verify_password(admin(clean_database).password_hash, "a brand new password")
    assert not verify_password(admin(clean_database).password_hash, PASSWORD)
    assert count(clean_database, SignInSession, LOCAL_ADMIN_ID) == 0, session_id


def test_a_changed_admin_email_renames_the_same_account(clean_database: str) -> None:
    ensure_first_admin(clean_database, "admin@example.com", PASSWORD)
    ensure_first_admin(clean_database, "boss@example.com", PASSWORD)
    with session_scope(clean_database) as session:
        assert session.scalars(select(User.email)).all() == ["boss@example.com"]


def test_an_admin_email_taken_by_another_account_is_refused_changing_nothing(
    clean_database: str,
) -> None:
    with session_scope(clean_database) as session:
        add_user(session, "ada@example.com", "ada's own password")
    with pytest.raises(AccountError, match=r"STEMDECK_ADMIN_EMAIL: ada@example\.com already"):
        ensure_first_admin(clean_database, "ada@example.com", PASSWORD)
    assert admin(clean_database).password_hash is None


def test_disabling_a_user_ends_their_sessions_and_revokes_their_tokens_at_once(
    clean_database: str,
) -> None:
    with session_scope(clean_database) as session:
        ada = add_user(session, "ada@example.com", "ada's own password")
        bob = add_user(session, "bob@example.com", "bob's own password")
        tokens = [issue_api_token(session, ada, ["jobs:read"], f"t{n}") for n in range(2)]
        kept = issue_api_token(session, bob, ["jobs:read"], "bob's")
    for user in (ada, bob):
        sign_in(clean_database, user.id)
    with session_scope(clean_database) as session:
        ended, revoked = disable_user(session, find_user(session, "ADA@example.com"))
    assert (ended, revoked) == (1, 2)
    with session_scope(clean_database) as session:
        rows = {row.token_hash: row for row in session.scalars(select(ApiToken))}
        assert find_user(session, "ada@example.com").disabled_at is not None
        assert find_user(session, "bob@example.com").disabled_at is None
    assert all(rows[digest(token)].revoked_at is not None for token in tokens)
    assert rows[digest(kept)].revoked_at is None
    assert count(clean_database, SignInSession, ada.id) == 0
    assert count(clean_database, SignInSession, bob.id) == 1


def test_the_first_admin_cannot_be_disabled(clean_database: str) -> None:
    ensure_first_admin(clean_database, "admin@example.com", PASSWORD)
    with (
        pytest.raises(AccountError, match="is the first admin"),
        session_scope(clean_database) as session,
    ):
        disable_user(session, find_user(session, "admin@example.com"))
    assert admin(clean_database).disabled_at is None

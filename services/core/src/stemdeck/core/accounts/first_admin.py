"""The first admin comes from settings, never from whoever signs in first.

Migration 0005 made one built-in admin row (LOCAL_ADMIN_ID) and gave it every job
that existed; `STEMDECK_AUTH=none` acts as that row. `stemdeck migrate` and
`stemdeck up` call ``ensure_first_admin`` right after the migrations, which makes
that same row the settings' first admin: STEMDECK_ADMIN_EMAIL, an admin, enabled,
with the argon2 hash of STEMDECK_ADMIN_PASSWORD. So the jobs from before accounts,
and those made in `none` mode, belong to the first admin.

The settings stay the truth for this account: a changed STEMDECK_ADMIN_EMAIL
renames it, and a changed STEMDECK_ADMIN_PASSWORD (one that no longer verifies
against the stored hash) replaces the hash and ends the admin's sessions, so a lost
admin password is recovered by changing the setting and running `stemdeck migrate`.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from stemdeck.core.accounts.errors import AccountError
from stemdeck.core.accounts.passwords import hash_password, needs_rehash, verify_password
from stemdeck.core.accounts.users import normalize_email
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, SignInSession, User


def ensure_first_admin(database_url: str, email: str, password: str) -> str:
    """Make the built-in admin row the settings' admin; say what changed."""
    email = normalize_email(email)
    with session_scope(database_url) as session:
        admin = session.get(User, LOCAL_ADMIN_ID, with_for_update=True)
        if admin is None:  # deleted by hand: the jobs' owner must exist again
            admin = User(id=LOCAL_ADMIN_ID, email=email, is_admin=True)
            session.add(admin)
        changes = []
        if admin.email != email:
            holder = session.scalar(select(User.id).where(User.email == email))
            if holder is not None:
                raise AccountError(
                    f"STEMDECK_ADMIN_EMAIL: {email} already belongs to another account "
                    "(made by `stemdeck users add`); choose another address for the first admin"
                )
            admin.email = email
            changes.append("email")
        if not admin.is_admin or admin.disabled_at is not None:
            admin.is_admin, admin.disabled_at = True, None
            changes.append("role")
        current = admin.password_hash
        if not verify_password(current, password):
            admin.password_hash = hash_password(password)
            # A new password shuts out whoever signed in with the old one.
            session.execute(delete(SignInSession).where(SignInSession.user_id == admin.id))
            changes.append("password")
        elif current and needs_rehash(current):
            admin.password_hash = hash_password(password)
    done = ", ".join(changes) if changes else "nothing to change"
    return f"first admin {email}: {done}"

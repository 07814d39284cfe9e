"""`stemdeck users`, `stemdeck tokens` and the first admin of `stemdeck migrate`, run as
users run them: real processes on a real database, real exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from stemdeck.core import migrate
from stemdeck.core.accounts.passwords import verify_password
from stemdeck.core.accounts.tokens import digest
from stemdeck.core.db import session_scope
from stemdeck.core.models import ApiToken, Job, SignInSession, User, utcnow
from stemdeck.core.settings import Settings
from tests.integration.stack import settings_env

ADA_PASSWORD = "ada's long password"


def stemdeck(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stemdeck.core.cli", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return settings_env(settings)


@pytest.fixture
def ada(env: dict[str, str]) -> str:
    added = stemdeck(env, "users", "add", "Ada@Example.com", "--password-stdin", stdin=ADA_PASSWORD)
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added ada@example.com as a user\n"
    return "ada@example.com"


def accounts(url: str) -> dict[str, Any]:
    """Everything the commands may change, to compare before and after."""
    with session_scope(url) as session:
        return {
            "users": [
                (u.email, u.is_admin, u.disabled_at, u.password_hash)
                for u in session.scalars(select(User).order_by(User.email))
            ],
            "tokens": [
                (t.user_id, t.token_hash, t.scopes, t.revoked_at)
                for t in session.scalars(select(ApiToken).order_by(ApiToken.token_hash))
            ],
            "sessions": session.scalars(select(SignInSession.id_hash)).all(),
        }


def test_users_are_added_listed_and_given_a_token_printed_alone(
    env: dict[str, str], settings: Settings, ada: str
) -> None:
    admin = stemdeck(
        env,
        "users",
        "add",
        "root@example.com",
        "--admin",
        "--password-stdin",
        stdin="root's long password\n",
    )
    assert admin.returncode == 0 and admin.stdout == "added root@example.com as an admin\n"

    listed = stemdeck(env, "users", "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line.split()[1:3] for line in listed.stdout.splitlines()}
    assert lines["ada@example.com"] == ["user", "active"]
    assert lines["root@example.com"] == ["admin", "active"]

    created = stemdeck(
        env,
        "tokens",
        "create",
        "ADA@example.com",
        "--scope",
        "jobs:read",
        "--scope",
        "jobs:write",
        "--name",
        "laptop",
        "--expires-days",
        "30",
    )
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"sdk_[A-Za-z0-9_-]{43}\n", created.stdout), created.stdout
    token = created.stdout.strip()
    assert token not in created.stderr

    url = settings.effective_database_url
    with session_scope(url) as session:
        (row,) = session.scalars(select(ApiToken)).all()
        user = session.scalars(select(User).where(User.email == ada)).one()
        values = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert row.token_hash == digest(token) and row.user_id == user.id
    assert (row.name, row.prefix, row.scopes) == ("laptop", token[:12], ["jobs:read", "jobs:write"])
    assert row.expires_at is not None
    assert abs(row.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=5)
    assert not any(token in value for value in values), "only the token's hash is stored"
    assert verify_password(user.password_hash, ADA_PASSWORD)


def test_disabling_a_user_ends_their_sessions_and_tokens_at_once(
    env: dict[str, str], settings: Settings, ada: str
) -> None:
    url = settings.effective_database_url
    for _ in range(2):
        made = stemdeck(env, "tokens", "create", ada, "--scope", "jobs:read")
        assert made.returncode == 0, made.stderr
    with session_scope(url) as session:
        user = session.scalars(select(User).where(User.email == ada)).one()
        now = utcnow()
        session.add(
            SignInSession(
                id_hash="0" * 64,
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(days=1),
            )
        )

    disabled = stemdeck(env, "users", "disable", ada)
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout == f"disabled {ada}: ended 1 session(s), revoked 2 token(s)\n"
    after = accounts(url)
    assert after["sessions"] == []
    assert all(revoked is not None for *_, revoked in after["tokens"])
    assert [u[2] is not None for u in after["users"] if u[0] == ada] == [True]
    listed = stemdeck(env, "users", "list")
    assert re.search(rf"^{re.escape(ada)} +user +disabled ", listed.stdout, re.MULTILINE)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "not-an-email", "--password-stdin"], "long enough pw", "not an email"),
        (["users", "add", "ADA@example.com", "--password-stdin"], "long enough pw", "already has"),
        (["users", "add", "bob@example.com", "--password-stdin"], "", "the password is empty"),
        (["users", "add", "bob@example.com", "--password-stdin"], "\n", "the password is empty"),
        (["users", "add", "bob@example.com", "--password-stdin"], "short\n", "at least 12"),
        (["users", "add", "bob@example.com"], None, "pipe it in with --password-stdin"),
        (["users", "disable", "nobody@example.com"], None, "no account has the email"),
        (["tokens", "create", "nobody@example.com", "--scope", "jobs:read"], None, "no account"),
        (["tokens", "create", "ada@example.com", "--scope", "jobs:delete"], None, "unknown scope"),
        (["tokens", "create", "ada@example.com"], None, "at least one scope; choose from"),
        (["tokens", "create", "ada@example.com", "--scope", "admin"], None, "not an admin"),
        (
            ["tokens", "create", "ada@example.com", "--scope", "jobs:read", "--expires-days", "0"],
            None,
            "--expires-days must be 1 to 3650",
        ),
        (
            ["tokens", "create", "ada@example.com", "--scope", "jobs:read", "--name", " "],
            None,
            "name is 1 to 100 characters",
        ),
    ],
)
def test_bad_input_exits_non_zero_saying_what_to_do_and_changes_nothing(
    env: dict[str, str],
    settings: Settings,
    ada: str,
    args: list[str],
    stdin: str | None,
    message: str,
) -> None:
    before = accounts(settings.effective_database_url)
    result = stemdeck(env, *args, stdin=stdin)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert accounts(settings.effective_database_url) == before


def test_a_disabled_user_gets_no_token(env: dict[str, str], ada: str) -> None:
    assert stemdeck(env, "users", "disable", ada).returncode == 0
    refused = stemdeck(env, "tokens", "create", ada, "--scope", "jobs:read")
    assert refused.returncode == 2 and "is disabled" in refused.stderr
    assert refused.stdout == ""


def _sqlite_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return settings_env(
        Settings(_env_file=None, data_dir=data),  # type: ignore[call-arg]
        STEMDECK_DATABASE_URL=f"sqlite:///{data / 'stemdeck.db'}",
        **extra,
    )


def test_migrate_gives_earlier_jobs_to_the_settings_admin(tmp_path: Path) -> None:
    """GIVEN a database at 0004 with a job WHEN `stemdeck migrate` runs with accounts THEN
    the job's owner is the settings' admin, who signs in with the settings' password; an
    example password is refused naming the variable, changing nothing."""
    admin = {
        "STEMDECK_AUTH": "accounts",
        "STEMDECK_ADMIN_EMAIL": "root@example.com",
        "STEMDECK_ADMIN_PASSWORD": "root's long password",
    }
    env = _sqlite_env(tmp_path, **admin)
    url = env["STEMDECK_DATABASE_URL"]
    migrate.upgrade(url, "0004")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (id, status, stage, progress, notes, output_gain_db, strategy,"
                " formats, attempts, source_name, created_at, updated_at) VALUES ('old',"
                " 'completed', 'done', 1, '[]', 0, 's', '[\"flac\"]', 1, 'n', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()

    refused = stemdeck({**env, "STEMDECK_ADMIN_PASSWORD": "change-me-admin"}, "migrate")
    assert refused.returncode == 2
    assert "STEMDECK_ADMIN_PASSWORD: still holds the example secret" in refused.stderr
    assert not migrate.is_current(url)

    migrated = stemdeck(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "first admin root@example.com: email, password" in migrated.stdout
    with session_scope(url) as session:
        job = session.get(Job, "old")
        assert job is not None
        owner = session.get(User, job.owner_id)
        assert owner is not None
        assert (owner.email, owner.is_admin) == ("root@example.com", True)
        assert verify_password(owner.password_hash, "root's long password")
    again = stemdeck(env, "migrate")
    assert "first admin root@example.com: nothing to change" in again.stdout


def test_account_commands_want_a_migrated_database(tmp_path: Path) -> None:
    env = _sqlite_env(tmp_path)
    missing = stemdeck(env, "users", "list")
    assert missing.returncode == 2 and "run `stemdeck migrate` first" in missing.stderr
    assert not (tmp_path / "data" / "stemdeck.db").exists(), "nothing is created"
    migrate.upgrade(env["STEMDECK_DATABASE_URL"], "0004")
    old = stemdeck(env, "users", "list")
    assert old.returncode == 2 and "not up to date: run `stemdeck migrate`" in old.stderr

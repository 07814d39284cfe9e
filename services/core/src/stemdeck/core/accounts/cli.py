"""`stemdeck users` and `stemdeck tokens`: accounts managed on the server.

They need only the database. Heavy imports (SQLAlchemy sessions, argon2, which
hashes a dummy password when loaded) wait inside the commands, so starting the
script for a healthcheck stays cheap. Each command runs in one transaction: a
refusal changes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stemdeck.core.cli_common import die, settings_or_die

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from stemdeck.core.models import User

users_app = typer.Typer(help="Accounts: add, list and disable users.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens for scripts (Authorization: Bearer sdk_…).", no_args_is_help=True
)


def _migrated_database_url() -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from stemdeck.core import migrate

    url = settings_or_die().effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        die(f"there is no database at {parsed.database} yet: run `stemdeck migrate` first")
    try:
        current = migrate.is_current(url)
    except SQLAlchemyError as error:
        die(
            f"the database cannot be reached ({type(error).__name__}); check STEMDECK_DATABASE_URL",
            code=1,
        )
    if not current:
        die("the database is not up to date: run `stemdeck migrate` first")
    return url


@contextmanager
def _accounts() -> Iterator[Session]:
    """A transaction on the migrated database; an AccountError rolls it back and stops
    the command with its message."""
    from stemdeck.core.accounts.errors import AccountError
    from stemdeck.core.db import session_scope

    url = _migrated_database_url()
    try:
        with session_scope(url) as session:
            yield session
    except AccountError as error:
        die(str(error))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, as `echo "$PASSWORD" | …` sends it; only the line ending is dropped.
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        die("no password: pipe it in with --password-stdin, or run this in a terminal to type it")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="the user's email address (their sign-in name)")],
    admin: Annotated[bool, typer.Option("--admin", help="may manage users and every job")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin's first line")
    ] = False,
) -> None:
    """Add a user who signs in with a password (at least 12 characters)."""
    from stemdeck.core.accounts.users import add_user

    password = _read_password(password_stdin)
    with _accounts() as session:
        user = add_user(session, email, password, is_admin=admin)
        address, role = user.email, "an admin" if admin else "a user"
    typer.echo(f"added {address} as {role}")


def _describe(user: User) -> str:
    from stemdeck.core.models import LOCAL_ADMIN_EMAIL, LOCAL_ADMIN_ID

    role = "admin" if user.is_admin else "user"
    if user.id == LOCAL_ADMIN_ID:
        role = "first admin"
    state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
    note = (
        "  (built in; STEMDECK_ADMIN_EMAIL not set yet)" if user.email == LOCAL_ADMIN_EMAIL else ""
    )
    return f"{user.email:<40} {role:<12} {state:<20} added {user.created_at:%Y-%m-%d}{note}"


@users_app.command("list")
def list_() -> None:
    """List every user: email, role, whether active, when added."""
    from stemdeck.core.accounts.users import list_users

    with _accounts() as session:
        lines = [_describe(user) for user in list_users(session)]
    typer.echo("\n".join(lines))


@users_app.command("disable")
def disable(email: Annotated[str, typer.Argument(help="the user's email address")]) -> None:
    """Disable a user: they cannot sign in, and all their sessions and tokens end now."""
    from stemdeck.core.accounts.users import disable_user, find_user

    with _accounts() as session:
        user = find_user(session, email)
        ended, revoked = disable_user(session, user)
        address = user.email
    typer.echo(f"disabled {address}: ended {ended} session(s), revoked {revoked} token(s)")


@tokens_app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="whose token it is")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="jobs:read, jobs:write or admin; repeat for more"),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="to tell your tokens apart")] = "cli",
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", help="days it works (default: no expiry)")
    ] = None,
) -> None:
    """Create an API token and print it, alone, on stdout: it is shown this once."""
    from stemdeck.core.accounts.api_tokens import issue_api_token
    from stemdeck.core.accounts.users import find_user

    with _accounts() as session:
        user = find_user(session, email)
        # No --scope at all is refused there too, with the scopes to choose from.
        token = issue_api_token(session, user, scope or [], name, expires_days)
        address = user.email
    typer.echo(f"a token for {address}, shown only now:", err=True)
    typer.echo(token)


@users_app.command("quota")
def quota(
    email: Annotated[str, typer.Argument(help="the user's email address")],
    active_jobs: Annotated[
        int | None, typer.Option("--active-jobs", help="jobs queued or running at once")
    ] = None,
    audio_minutes_per_day: Annotated[
        int | None,
        typer.Option("--audio-minutes-per-day", help="minutes of audio in any 24 hours"),
    ] = None,
    storage_mb: Annotated[
        int | None, typer.Option("--storage-mb", help="MB stored: sources and stems")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="back to the server's STEMDECK_QUOTA_* defaults")
    ] = False,
) -> None:
    """Show a user's quotas, or give them their own (0: unlimited); --default restores
    the server's. Applies under STEMDECK_AUTH=accounts."""
    from stemdeck.core.accounts.quotas import describe_quotas, quotas_of, set_quotas
    from stemdeck.core.accounts.users import find_user

    settings = settings_or_die()
    with _accounts() as session:
        user = find_user(session, email)
        set_quotas(user, active_jobs, audio_minutes_per_day, storage_mb, default)
        line = f"{user.email}: {describe_quotas(quotas_of(user, settings))}"
    typer.echo(line)

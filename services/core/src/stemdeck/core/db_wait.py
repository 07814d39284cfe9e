"""Waiting for the database at start-up, for a bounded time.

In Compose, `stemdeck migrate` starts beside a Postgres that may still be creating its
volume: until it listens on TCP, connections are refused, and a migrate that gave up at
once would stop the whole stack. So connection errors are retried until
STEMDECK_DB_WAIT_S has passed.

A server that answers and refuses the login (wrong password, unknown role or database,
no pg_hba.conf entry) is not retried: Postgres's image initialises its volume with a
server that listens only on its Unix socket, and opens TCP once the password and
POSTGRES_DB exist, so over TCP such a refusal does not go away by waiting. Waiting would
only hide the real message for a minute. Any other answer ("the database system is
starting up", "too many clients", or a refusal in a translated message) is retried.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

# The longest one connection attempt may take (a host that drops packets never refuses).
CONNECT_TIMEOUT_S = 5
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 2.0

# Refusals a server gives to a login that waiting will not change, and what to check.
_PASSWORD_HINT = (
    "check the user and password in STEMDECK_DATABASE_URL (in Compose, POSTGRES_PASSWORD: "
    "Postgres takes it only when its volume is first created, so changing it in .env "
    "later does not change the database's password)"
)
REFUSALS = [
    (re.compile(r"password authentication failed"), _PASSWORD_HINT),
    (re.compile(r'role ".*" does not exist'), "check the user in STEMDECK_DATABASE_URL"),
    (
        re.compile(r'database ".*" does not exist'),
        "check the database name in STEMDECK_DATABASE_URL (Compose's Postgres creates "
        "POSTGRES_DB only with a new volume); create it, or point the URL at one that exists",
    ),
    (
        re.compile(r"no pg_hba\.conf entry"),
        "allow this client in the server's pg_hba.conf, or check the host, user and "
        "database in STEMDECK_DATABASE_URL",
    ),
]


class DatabaseUnreachable(Exception):
    """The database did not answer in time, or refused the login; the message says what to check."""


def where(url: str) -> str:
    """host:port of ``url`` (never its password)."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def _reason(error: OperationalError) -> str:
    """The driver's first line without its "connection to server … failed:" preamble."""
    line = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else str(error)
    return line.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()


def _refusal_hint(reason: str) -> str | None:
    return next((hint for pattern, hint in REFUSALS if pattern.match(reason)), None)


def _connect_once(url: str, timeout_s: float) -> OperationalError | None:
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": max(2, int(timeout_s))}
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except OperationalError as error:
        return error
    finally:
        engine.dispose()


def wait_for_database(
    url: str,
    wait_s: float,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once ``url`` accepts a connection; retry connection errors for ``wait_s``
    seconds, saying each retry; raise DatabaseUnreachable with what to check."""
    if make_url(url).get_backend_name() != "postgresql":
        return  # SQLite: a file, nothing to wait for
    target, deadline, delay = where(url), clock() + wait_s, FIRST_DELAY_S
    while True:
        error = _connect_once(url, min(CONNECT_TIMEOUT_S, max(deadline - clock(), 0)))
        if error is None:
            return
        reason = _reason(error)
        hint = _refusal_hint(reason)
        if hint is not None:
            raise DatabaseUnreachable(
                f"the database at {target} refused the connection: {reason}; {hint}"
            )
        left = deadline - clock()
        if left <= 0:
            raise DatabaseUnreachable(
                f"the database at {target} was not reachable within {wait_s:g} s "
                f"(STEMDECK_DB_WAIT_S): {reason}. Check that Postgres runs and listens on "
                "that host and port (the host and port of STEMDECK_DATABASE_URL); in "
                "Compose, that the postgres service is healthy (`docker compose ps`, "
                "`docker compose logs postgres`); raise STEMDECK_DB_WAIT_S for a slow start"
            )
        say(f"database not reachable yet at {target} ({reason}); retrying for {left:.0f} s more")
        sleep(min(delay, left))
        delay = min(delay * 2, MAX_DELAY_S)

"""`stemdeck migrate` waits for a database that is not listening yet (Compose starts it
beside a Postgres still creating its volume), for STEMDECK_DB_WAIT_S, and no longer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from stemdeck.core import migrate
from tests.conftest import TEST_DATABASE_URL
from tests.integration.own_postgres import own_postgres
from tests.integration.stack import free_port
from tests.waiting import wait_until


def migrate_env(tmp_path: Path, database_url: str, wait_s: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    env.update(
        STEMDECK_DATABASE_URL=database_url,
        STEMDECK_DB_WAIT_S=wait_s,
        STEMDECK_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def run_migrate(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stemdeck.core.cli", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no .env of the checkout
        timeout=120,
        check=False,
    )


def test_migrate_waits_for_postgres_to_start_listening(tmp_path: Path) -> None:
    """GIVEN a Postgres cluster that is not started (its port refuses) WHEN migrate runs
    THEN it says it retries, and once the server starts it migrates and exits 0."""
    with own_postgres(start=False) as server:
        stderr = tmp_path / "migrate.err"
        with stderr.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stemdeck.core.cli", "migrate"],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=migrate_env(tmp_path, server.url, "300"),
                cwd=tmp_path,
            )
        try:
            waiting = f"database not reachable yet at 127.0.0.1:{server.port} (Connection refused)"
            wait_until(
                lambda: waiting in stderr.read_text() or proc.poll() is not None,
                60,
                lambda: f"no retry line; stderr: {stderr.read_text()}",
            )
            assert proc.poll() is None, stderr.read_text()
            server.start()
            out, _ = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = stderr.read_text().splitlines()
        assert proc.returncode == 0, lines
        assert "database is up to date" in out
        assert lines and all(
            line.startswith(f"database not reachable yet at 127.0.0.1:{server.port} (")
            and line.endswith(" s more")
            for line in lines
        ), lines
        assert migrate.is_current(server.url)


def test_migrate_gives_up_after_the_wait_saying_what_to_check(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://postgres:secret-pw@127.0.0.1:{port}/stemdeck"
    result = run_migrate(tmp_path, migrate_env(tmp_path, url, "1"))

    assert result.returncode == 1
    assert f"database not reachable yet at 127.0.0.1:{port} (Connection refused)" in result.stderr
    assert (
        f"the database at 127.0.0.1:{port} was not reachable within 1 s (STEMDECK_DB_WAIT_S)"
        in result.stderr
    )
    assert "docker compose logs postgres" in result.stderr
    assert "secret-pw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_does_not_wait_for_a_login_the_server_refuses(tmp_path: Path) -> None:
    """A server that answers and refuses (unknown user or database) fails at once: waiting
    would only hide the message."""
    server = make_url(TEST_DATABASE_URL)
    no_role = server.set(username="no_such_role", database="postgres")
    no_db = server.set(database="no_such_db")
    unknown_role = run_migrate(tmp_path, migrate_env(tmp_path, no_role.render_as_string(), "300"))
    unknown_db = run_migrate(tmp_path, migrate_env(tmp_path, no_db.render_as_string(), "300"))

    assert unknown_role.returncode == 1
    assert 'refused the connection: role "no_such_role" does not exist' in unknown_role.stderr
    assert "check the user in STEMDECK_DATABASE_URL" in unknown_role.stderr
    assert unknown_db.returncode == 1
    assert 'database "no_such_db" does not exist' in unknown_db.stderr
    for result in (unknown_role, unknown_db):
        assert "retrying" not in result.stderr

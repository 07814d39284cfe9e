"""Fixtures shared by every test: real Postgres and Redis, each test from a clean state.

`make test` starts Postgres and Redis when they are absent (scripts/services.sh)
and points these at them; override with STEMDECK_TEST_DATABASE_URL / _REDIS_URL.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stemdeck.core import migrate
from stemdeck.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def _shared_audio() -> Path:
    """The songs with ground-truth stems, kept beside the checkout (never copied into it)."""
    candidates = [
        os.environ.get("STEMDECK_TEST_AUDIO_DIR"),
        REPO.parent / "shared" / "audio",
        "/work/shared/audio",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return REPO.parent / "shared" / "audio"


SHARED_AUDIO = _shared_audio()
SONGS = ("Music_Delta__80s_Rock", "The_Easton_Ellises__Falcon_69")

TEST_DATABASE_URL = os.environ.get(
    "STEMDECK_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/stemdeck_test"
)
TEST_REDIS_URL = os.environ.get("STEMDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named in ``url`` (connecting to `postgres`)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url() -> str:
    recreate_postgres_database(TEST_DATABASE_URL)
    migrate.upgrade(TEST_DATABASE_URL)
    return TEST_DATABASE_URL


@pytest.fixture
def clean_database(database_url: str) -> str:
    """No jobs and no accounts but the built-in admin, as migration 0005 left it."""
    from stemdeck.core.models import LOCAL_ADMIN_EMAIL, LOCAL_ADMIN_ID

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE stems, jobs, sessions, api_tokens, identities, invites,"
                " audio_usage, batches, webhook_endpoints, webhook_deliveries,"
                " callback_secrets RESTART IDENTITY CASCADE"
            )
        )
        connection.execute(text("DELETE FROM users WHERE id != :id"), {"id": LOCAL_ADMIN_ID})
        connection.execute(
            text(
                "UPDATE users SET email = :email, password_hash = NULL, is_admin = true,"
                " disabled_at = NULL WHERE id = :id"
            ),
            {"email": LOCAL_ADMIN_EMAIL, "id": LOCAL_ADMIN_ID},
        )
    engine.dispose()
    return database_url


@pytest.fixture
def redis_url() -> Iterator[str]:
    connection = Redis.from_url(TEST_REDIS_URL)
    connection.flushdb()
    yield TEST_REDIS_URL
    connection.flushdb()
    connection.close()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer STEMDECK_* variable or .env file leaks into a test."""
    for name in list(os.environ):
        if name.startswith("STEMDECK_") and not name.startswith("STEMDECK_TEST_"):
            monkeypatch.delenv(name)
    # TestClient calls itself "testserver"; tests of the Host check itself unset this.
    monkeypatch.setenv("STEMDECK_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    # Weights come from a closed port on loopback, as on a machine without network: no
    # test reaches the real download hosts (readiness checks them, workers fetch there).
    monkeypatch.setenv("STEMDECK_MODEL_MIRROR", "http://127.0.0.1:1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_settings(clean_database: str, redis_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": clean_database,
            "redis_url": redis_url,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One S3-compatible server for the session; each test gets its own bucket."""
    from tests.s3server import running_s3_server

    with running_s3_server(tmp_path_factory.mktemp("s3") / "moto.log") as server:
        yield server.endpoint


def s3_values(endpoint: str, bucket: str | None = None) -> dict[str, Any]:
    """Settings for an S3 store at ``endpoint`` with a fresh bucket (not created yet)."""
    from tests.s3server import ACCESS_KEY, SECRET_KEY

    return {
        "storage": "s3",
        "s3_endpoint": endpoint,
        "s3_bucket": bucket or f"stemdeck-{uuid.uuid4().hex[:12]}",
        "s3_access_key": ACCESS_KEY,
        "s3_secret_key": SECRET_KEY,
    }


@pytest.fixture
def s3_settings(make_settings: Callable[..., Settings], s3_endpoint: str) -> Settings:
    return make_settings(**s3_values(s3_endpoint))


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    assert SHARED_AUDIO.is_dir(), f"the test songs are missing: {SHARED_AUDIO}"
    return SHARED_AUDIO


@pytest.fixture
def argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hash of every argon2 verification made while the test runs, in order:
    counted work, which proves what a wall clock on a shared machine cannot."""
    from stemdeck.core.accounts import passwords

    calls: list[str] = []
    real = passwords._hasher

    class CountingHasher:
        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return real.verify(stored, password)

        def check_needs_rehash(self, stored: str) -> bool:
            return real.check_needs_rehash(stored)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    return calls


class _OneByteSource(BaseHTTPRequestHandler):
    """A weights source that answers every GET with one byte, as a range check expects."""

    def do_GET(self) -> None:
        self.send_response(206)
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"w")

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def one_byte_source() -> Iterator[str]:
    """The URL of a live weights source (or mirror) on 127.0.0.1, until the block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _OneByteSource)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def weights_source() -> Iterator[str]:
    with one_byte_source() as url:
        yield url

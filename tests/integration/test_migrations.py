"""Migrations build, tear down and rebuild the schema on both databases, and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from stemdeck.core import migrate
from stemdeck.core.models import Base
from tests.conftest import TEST_DATABASE_URL, recreate_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url = TEST_DATABASE_URL.rsplit("/", 1)[0] + "/stemdeck_migrations_test"
    recreate_postgres_database(url)
    return url


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


TABLES_AT_0008 = {
    "jobs",
    "stems",
    "users",
    "identities",
    "sessions",
    "api_tokens",
    "invites",
    "audio_usage",
}
# 0009: batches and webhooks.
ALL_TABLES = TABLES_AT_0008 | {
    "batches",
    "webhook_endpoints",
    "callback_secrets",
    "webhook_deliveries",
}


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert tables(empty_database) == ALL_TABLES
    assert migrate.is_current(empty_database)

    migrate.downgrade(empty_database, "base")
    assert tables(empty_database) == set()
    assert not migrate.is_current(empty_database)

    migrate.upgrade(empty_database)
    assert tables(empty_database) == ALL_TABLES


def test_migrated_schema_matches_the_models(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    engine = create_engine(empty_database)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == [], (
        "models changed without a migration: run alembic revision --autogenerate"
    )


def test_timestamps_come_back_in_utc(empty_database: str) -> None:
    from datetime import UTC

    from stemdeck.core.db import session_scope
    from stemdeck.core.models import LOCAL_ADMIN_ID, Job

    migrate.upgrade(empty_database)
    with session_scope(empty_database) as session:
        session.add(
            Job(
                id="a" * 32,
                owner_id=LOCAL_ADMIN_ID,
                strategy="s",
                formats=["flac"],
                source_name="n",
                source_key="k",
                source_sha256="0" * 64,
                source_size_bytes=1,
                source_format="wav",
                source_duration_s=1.0,
                source_sample_rate=44100,
                source_channels=2,
            )
        )
    with session_scope(empty_database) as session:
        job = session.get(Job, "a" * 32)
        assert job is not None
        assert job.created_at.tzinfo is not None
        assert job.created_at.utcoffset() == UTC.utcoffset(None)


def test_0003_keeps_existing_jobs_and_its_downgrade_drops_only_url_jobs(
    empty_database: str,
) -> None:
    """GIVEN a database at 0002 with an uploaded job WHEN upgraded to 0003 THEN the job is kept
    and URL jobs without a source can be stored; downgrading removes just those."""
    from sqlalchemy import text

    migrate.upgrade(empty_database, "0002")
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (id, status, stage, progress, notes, output_gain_db, strategy,"
                " formats, attempts, source_name, source_key, source_sha256, source_size_bytes,"
                " source_format, source_duration_s, source_sample_rate, source_channels,"
                " created_at, updated_at) VALUES ('u', 'completed', 'done', 1, '[]', 0, 's',"
                " '[\"flac\"]', 1, 'n', 'k', 'h', 1, 'wav', 1.0, 44100, 2,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    migrate.upgrade(empty_database, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (id, status, stage, progress, notes, output_gain_db, strategy,"
                " formats, attempts, source_name, source_url, created_at, updated_at) VALUES"
                " ('v', 'queued', 'waiting', 0, '[]', 0, 's', '[\"flac\"]', 0, 'n',"
                " 'https://example.com/a.mp3', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        kept = connection.execute(text("SELECT id, source_url FROM jobs ORDER BY id")).all()
    assert [tuple(row) for row in kept] == [("u", None), ("v", "https://example.com/a.mp3")]

    migrate.downgrade(empty_database, "0002")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id FROM jobs")).scalars().all() == ["u"]
    engine.dispose()


def test_0004_moves_the_model_out_of_the_stage_and_back(empty_database: str) -> None:
    """GIVEN jobs at 0003 whose stage names a model WHEN upgraded THEN the stage is one word
    and the model is in stage_detail; downgrading puts the text back together."""
    from sqlalchemy import text

    migrate.upgrade(empty_database, "0003")
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        for job_id, stage in (("a", "separating: demucs:htdemucs"), ("b", "encoding")):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, status, stage, progress, notes, output_gain_db,"
                    " strategy, formats, attempts, source_name, created_at, updated_at) VALUES"
                    " (:id, 'running', :stage, 0.5, '[]', 0, 's', '[\"flac\"]', 1, 'n',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": job_id, "stage": stage},
            )
    query = text("SELECT id, stage, stage_detail FROM jobs ORDER BY id")

    migrate.upgrade(empty_database, "0004")
    with engine.begin() as connection:
        rows = [tuple(row) for row in connection.execute(query)]
    assert rows == [("a", "separating", "demucs:htdemucs"), ("b", "encoding", None)]

    migrate.downgrade(empty_database, "0003")
    with engine.begin() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT id, stage FROM jobs"))]
    assert sorted(rows) == [("a", "separating: demucs:htdemucs"), ("b", "encoding")]
    engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_0005_gives_existing_jobs_to_the_first_admin_and_its_downgrade_drops_accounts(
    empty_database: str,
) -> None:
    """GIVEN jobs at 0004 WHEN upgraded to 0005 and the settings' first admin is ensured (as
    `stemdeck migrate` does) THEN those jobs belong to that admin, who signs in with the
    settings' password; downgrading to 0004 drops the accounts and keeps the jobs."""
    from sqlalchemy import text

    from stemdeck.core.accounts.first_admin import ensure_first_admin
    from stemdeck.core.accounts.passwords import verify_password

    migrate.upgrade(empty_database, "0004")
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        for job_id in ("a", "b"):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, status, stage, progress, notes, output_gain_db,"
                    " strategy, formats, attempts, source_name, created_at, updated_at) VALUES"
                    " (:id, 'completed', 'done', 1, '[]', 0, 's', '[\"flac\"]', 1, 'n',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": job_id},
            )

    migrate.upgrade(empty_database, "0005")
    ensure_first_admin(empty_database, "Admin@Example.com", "the first admin's password")
    owners = text(
        "SELECT jobs.id, users.email, users.is_admin, users.password_hash FROM jobs"
        " JOIN users ON users.id = jobs.owner_id ORDER BY jobs.id"
    )
    with engine.begin() as connection:
        rows = connection.execute(owners).all()
        user_count = connection.execute(text("SELECT count(*) FROM users")).scalar()
    assert [(row[0], row[1], bool(row[2])) for row in rows] == [
        ("a", "admin@example.com", True),
        ("b", "admin@example.com", True),
    ]
    assert user_count == 1
    assert verify_password(rows[0][3], "the first admin's password")

    migrate.downgrade(empty_database, "0004")
    assert tables(empty_database) == {"jobs", "stems"}
    assert "owner_id" not in _columns(empty_database, "jobs")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id FROM jobs ORDER BY id")).scalars().all() == [
            "a",
            "b",
        ]
    engine.dispose()
    migrate.upgrade(empty_database)  # and up again, on what the downgrade left
    assert tables(empty_database) == ALL_TABLES


def test_0005_refuses_a_job_without_an_owner_and_an_email_in_capitals(
    empty_database: str,
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    migrate.upgrade(empty_database)
    engine = create_engine(empty_database)
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO jobs (id, status, stage, progress, notes, output_gain_db,"
                    " strategy, formats, attempts, source_name, created_at, updated_at) VALUES"
                    " ('x', 'queued', 'waiting', 0, '[]', 0, 's', '[\"flac\"]', 0, 'n',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, is_admin, created_at)"
                    " VALUES ('u', 'Ada@Example.com', false, CURRENT_TIMESTAMP)"
                )
            )
    finally:
        engine.dispose()


def test_0006_adds_invites_and_its_downgrade_keeps_the_users(empty_database: str) -> None:
    """GIVEN a database at 0005 WHEN upgraded to 0006 THEN invites can be stored, one per
    token hash; downgrading drops only the invites table."""
    from sqlalchemy import exc, text

    migrate.upgrade(empty_database, "0005")
    assert "invites" not in tables(empty_database)
    migrate.upgrade(empty_database, "0006")
    engine = create_engine(empty_database)
    insert = text(
        "INSERT INTO invites (id, email, is_admin, token_hash, created_by, created_at,"
        " expires_at) VALUES (:id, 'c@example.com', false, :hash, :by, CURRENT_TIMESTAMP,"
        " CURRENT_TIMESTAMP)"
    )
    with engine.begin() as connection:
        by = connection.execute(text("SELECT id FROM users")).scalar_one()
        connection.execute(insert, {"id": "a", "hash": "h" * 64, "by": by})
    with pytest.raises(exc.IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"id": "b", "hash": "h" * 64, "by": by})
    engine.dispose()
    migrate.downgrade(empty_database, "0005")
    assert tables(empty_database) == TABLES_AT_0008 - {"invites", "audio_usage"}


def test_0007_counts_the_last_days_jobs_in_the_ledger_and_its_downgrade_keeps_the_jobs(
    empty_database: str,
) -> None:
    """GIVEN jobs at 0006: one of 30 s made 2 hours ago, a URL job not downloaded yet and
    one of 600 s made 30 hours ago WHEN upgraded to 0007 THEN the ledger counts the 30 s
    at the time its job was made (what the day's minutes counted before), and every job
    is kept; downgrading to 0006 drops only the ledger."""
    from datetime import timedelta

    from sqlalchemy import bindparam, select, text
    from sqlalchemy.types import DateTime

    from stemdeck.core.db import session_scope
    from stemdeck.core.models import LOCAL_ADMIN_ID, AudioUsage, utcnow

    migrate.upgrade(empty_database, "0006")
    engine = create_engine(empty_database)
    insert = text(
        "INSERT INTO jobs (id, owner_id, status, stage, progress, notes, output_gain_db,"
        " strategy, formats, attempts, source_name, source_duration_s, created_at,"
        " updated_at) VALUES (:id, :owner, 'completed', 'done', 1, '[]', 0, 's',"
        " '[\"flac\"]', 1, 'n', :seconds, :at, :at)"
    ).bindparams(bindparam("at", type_=DateTime(timezone=True)))
    now = utcnow()
    made = {"recent": now - timedelta(hours=2), "url": now, "old": now - timedelta(hours=30)}
    with engine.begin() as connection:
        for job_id, seconds in (("recent", 30.0), ("url", None), ("old", 600.0)):
            values = {"id": job_id, "owner": LOCAL_ADMIN_ID, "seconds": seconds}
            connection.execute(insert, {**values, "at": made[job_id]})

    migrate.upgrade(empty_database, "0007")
    with session_scope(empty_database) as session:
        counted = session.execute(
            select(AudioUsage.user_id, AudioUsage.job_id, AudioUsage.seconds, AudioUsage.counted_at)
        ).all()
    assert [tuple(row) for row in counted] == [(LOCAL_ADMIN_ID, "recent", 30.0, made["recent"])]
    job_ids = text("SELECT id FROM jobs ORDER BY id")
    with engine.begin() as connection:
        assert connection.execute(job_ids).scalars().all() == ["old", "recent", "url"]

    migrate.downgrade(empty_database, "0006")
    assert tables(empty_database) == TABLES_AT_0008 - {"audio_usage"}
    with engine.begin() as connection:
        assert connection.execute(job_ids).scalars().all() == ["old", "recent", "url"]
    engine.dispose()
    migrate.upgrade(empty_database)
    assert tables(empty_database) == ALL_TABLES


def test_0009_adds_batches_and_webhooks_and_its_downgrade_keeps_the_jobs(
    empty_database: str,
) -> None:
    """GIVEN a job at 0008 WHEN upgraded to 0009 THEN it has no callback or batch, a batch
    and a webhook delivery can be stored, and deleting the batch leaves its job (SET NULL);
    downgrading to 0008 drops only what 0009 added."""
    from sqlalchemy import text

    from stemdeck.core.models import LOCAL_ADMIN_ID

    migrate.upgrade(empty_database, "0008")
    engine = create_engine(empty_database)
    job = text(
        "INSERT INTO jobs (id, owner_id, status, stage, progress, notes, output_gain_db,"
        " strategy, formats, attempts, source_name, created_at, updated_at) VALUES"
        " ('a', :owner, 'completed', 'done', 1, '[]', 0, 's', '[\"flac\"]', 1, 'n',"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with engine.begin() as connection:
        connection.execute(job, {"owner": LOCAL_ADMIN_ID})
    migrate.upgrade(empty_database, "0009")
    with engine.begin() as connection:
        row = connection.execute(text("SELECT callback_url, batch_id FROM jobs")).one()
        assert tuple(row) == (None, None)
        connection.execute(
            text(
                "INSERT INTO batches (id, owner_id, strategy, formats, created_at)"
                " VALUES ('b', :owner, 's', '[\"flac\"]', CURRENT_TIMESTAMP)"
            ),
            {"owner": LOCAL_ADMIN_ID},
        )
        connection.execute(text("UPDATE jobs SET batch_id = 'b'"))
        connection.execute(
            text(
                "INSERT INTO webhook_deliveries (id, owner_id, job_id, url, event, status,"
                " attempts, created_at) VALUES ('msg_1', :owner, 'a', 'https://example.com/',"
                " 'job.completed', 'pending', 0, CURRENT_TIMESTAMP)"
            ),
            {"owner": LOCAL_ADMIN_ID},
        )
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.execute(text("PRAGMA foreign_keys = ON"))
            connection.execute(text("DELETE FROM batches"))
    else:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM batches"))
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id, batch_id FROM jobs")).one() == ("a", None)
    engine.dispose()
    migrate.downgrade(empty_database, "0008")
    assert tables(empty_database) == TABLES_AT_0008
    assert {"callback_url", "batch_id"}.isdisjoint(_columns(empty_database, "jobs"))
    migrate.upgrade(empty_database)
    assert tables(empty_database) == ALL_TABLES

"""Run Alembic migrations from code (``stemdeck migrate``, tests, the all-in-one run)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine


class MigrationsNotFound(Exception):
    pass


def migrations_dir() -> Path:
    """The repository's ``migrations/`` (also copied beside the code in images)."""
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / "migrations"
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationsNotFound(
        "cannot find the migrations/ folder; run this from the Stemdeck checkout"
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # configparser treats % as interpolation; URLs may hold %-escaped passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def is_current(url: str) -> bool:
    """Whether the database is at the newest revision."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision() == head
    finally:
        engine.dispose()

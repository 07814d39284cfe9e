"""Database engine and sessions (Postgres via psycopg 3, or SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    # sqlalchemy.create_engine looked up now, not at import: tracing (core/tracing.py)
    # may have wrapped it since, to trace this engine's statements.
    create_engine = sqlalchemy.create_engine
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL lets the API read while the worker writes progress; FKs are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@lru_cache
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(url: str) -> sessionmaker[Session]:
    return _sessionmaker(engine_for(url))


@lru_cache
def _sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # One per engine: each sessionmaker makes its own Session subclass, whose event
    # set-up cost a tenth of a status request when it was made per request.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A short unit of work: commit on success, roll back on error, always close."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def begin_writing(session: Session) -> None:
    """Make ``session``'s transaction a writer from here on, before it reads what it
    decides on, so two such transactions run one after the other.

    SQLite has one writer at a time but reads outside it (WAL): a check that reads and
    then writes could pass in two transactions at once. ``BEGIN IMMEDIATE`` takes the
    write lock first (the other waits, up to busy_timeout), and a read after it sees
    every commit before. Postgres needs row locks instead (``SELECT … FOR UPDATE``),
    taken by the caller; this does nothing there.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    # pysqlite opens a transaction only for a write; one already open holds the lock.
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

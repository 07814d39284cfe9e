"""Typed dependency aliases, so route signatures stay short: ``session: SessionDep``.

The dependencies that only hand over what the process holds are ``async def``:
FastAPI runs a plain ``def`` dependency in its threadpool, and each such hop (a
queue, a thread's wake-up, the GIL handed over and back) cost more than the status
route's own work. Only what blocks, a session's database work, goes to a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, Request
from redis import Redis
from sqlalchemy.orm import Session

from stemdeck.api.context import AppContext
from stemdeck.core.db import session_factory
from stemdeck.core.settings import Settings
from stemdeck.core.storage import Storage
from stemdeck.core.strategies import Strategy


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def _context(request: Request) -> AppContext:
    return get_context(request)


ContextDep = Annotated[AppContext, Depends(_context)]


async def _settings(context: ContextDep) -> Settings:
    return context.settings


async def _session(context: ContextDep) -> AsyncIterator[Session]:
    # Sync sessions, used by sync routes in the threadpool. Making one touches no
    # database (it connects on first use); closing hands its connection back, which
    # may talk to the database, so that goes to a thread, outside the shared pool's
    # limit as FastAPI does for its own: when every pooled thread is a route waiting
    # for a connection, the sessions holding them must still be able to close.
    session = session_factory(context.settings.effective_database_url)()
    try:
        yield session
    finally:
        await to_thread.run_sync(session.close, limiter=CapacityLimiter(1))


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    """A session for a route's reads done in a thread it hops to itself (an async route
    that answers most requests without the database)."""
    with session_factory(get_context(request).settings.effective_database_url)() as session:
        yield session


async def _storage(context: ContextDep) -> Storage:
    return context.storage


async def _redis(context: ContextDep) -> Redis:
    return context.redis


async def _strategies(context: ContextDep) -> dict[str, Strategy]:
    return context.strategies


SettingsDep = Annotated[Settings, Depends(_settings)]
# Closed as the route returns, not once the response is sent: its connection goes back
# to the pool before the body is serialized and written.
SessionDep = Annotated[Session, Depends(_session, scope="function")]
StorageDep = Annotated[Storage, Depends(_storage)]
RedisDep = Annotated[Redis, Depends(_redis)]
StrategiesDep = Annotated[dict[str, Strategy], Depends(_strategies)]

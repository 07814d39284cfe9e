"""Typed dependency aliases, so route signatures stay short: ``session: SessionDep``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

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


ContextDep = Annotated[AppContext, Depends(get_context)]


def _settings(context: ContextDep) -> Settings:
    return context.settings


def _session(context: ContextDep) -> Iterator[Session]:
    # Sync sessions: FastAPI runs sync dependencies and routes in its threadpool.
    session = session_factory(context.settings.effective_database_url)()
    try:
        yield session
    finally:
        session.close()


def _storage(context: ContextDep) -> Storage:
    return context.storage


def _redis(context: ContextDep) -> Redis:
    return context.redis


def _strategies(context: ContextDep) -> dict[str, Strategy]:
    return context.strategies


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[Session, Depends(_session)]
StorageDep = Annotated[Storage, Depends(_storage)]
RedisDep = Annotated[Redis, Depends(_redis)]
StrategiesDep = Annotated[dict[str, Strategy], Depends(_strategies)]

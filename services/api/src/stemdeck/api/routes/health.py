"""/health (the process answers) and /ready (its dependencies answer too)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import error_response
from stemdeck.api.schemas import ErrorPublic, HealthPublic, ReadyPublic
from stemdeck.core.db import engine_for

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health", name="health", summary="Liveness: the API process answers")
def health() -> HealthPublic:
    return HealthPublic(status="ok")


def _probe(check: Callable[[], object]) -> str | None:
    """None when the check passes, else what went wrong (one line)."""
    try:
        check()
    except Exception as error:
        return f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return None


@router.get(
    "/ready",
    name="ready",
    response_model=ReadyPublic,
    responses={503: {"model": ErrorPublic}},
    summary="Readiness: database, Redis and storage all answer",
)
def ready(context: ContextDep) -> ReadyPublic | JSONResponse:
    def database() -> None:
        with engine_for(context.settings.effective_database_url).connect() as connection:
            connection.execute(text("SELECT 1"))

    failures = {
        name: problem
        for name, check in (
            ("database", database),
            ("redis", context.redis.ping),
            ("storage", context.storage.check),
        )
        if (problem := _probe(check)) is not None
    }
    checks = {name: failures.get(name, "ok") for name in ("database", "redis", "storage")}
    if not failures:
        return ReadyPublic(status="ready", checks=checks)
    log.warning("not ready: %s", failures)
    down = ", ".join(failures)
    return error_response(
        503,
        "not_ready",
        f"Not ready: {down} cannot be reached ({'; '.join(failures.values())}). "
        "Start or fix it; this check passes once it answers.",
        checks=checks,
    )

"""/health (the process answers) and /ready (its dependencies answer too)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import error_response
from stemdeck.api.request_ids import request_id_of
from stemdeck.api.schemas import ErrorPublic, HealthPublic, ReadyPublic
from stemdeck.core.db import engine_for
from stemdeck.core.public_errors import with_ref

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health", name="health", summary="Liveness: the API process answers")
def health() -> HealthPublic:
    return HealthPublic(status="ok")


# What /ready says of a dependency that failed its check, in plain words. The
# exception's own text (addresses, paths, errno) goes only to the log, under the
# answer's error reference, the request's id.
UNAVAILABLE = "unavailable"


def _probe(check: Callable[[], object]) -> Exception | None:
    """None when the check passes, else what it raised."""
    try:
        check()
    except Exception as error:
        return error
    return None


@router.get(
    "/ready",
    name="ready",
    response_model=ReadyPublic,
    responses={503: {"model": ErrorPublic}},
    summary="Readiness: database, Redis and storage all answer",
)
def ready(context: ContextDep, request: Request) -> ReadyPublic | JSONResponse:
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
    checks = {
        name: UNAVAILABLE if name in failures else "ok" for name in ("database", "redis", "storage")
    }
    if not failures:
        return ReadyPublic(status="ready", checks=checks)
    ref = request_id_of(request.scope)
    for name, problem in failures.items():
        log.warning(
            "not ready, error reference %s: %s: %s: %s", ref, name, type(problem).__name__, problem
        )
    down = ", ".join(failures)
    verb = "is" if len(failures) == 1 else "are"
    return error_response(
        503,
        "not_ready",
        with_ref(
            f"Not ready: {down} {verb} unavailable. Start it, or check its address and "
            "credentials in the settings; this check passes once it answers.",
            ref,
        ),
        checks=checks,
        ref=ref,
    )

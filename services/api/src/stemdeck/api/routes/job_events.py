"""/api/jobs/{id}/events: the job as Server-Sent Events, pushed as it changes.

The stream subscribes to the job's Redis channel first, then sends the row as it
is, then re-reads and sends it each time a writer publishes a change (see
stemdeck.core.events). Between changes it sends a keep-alive comment every
STEMDECK_EVENTS_KEEPALIVE_S and re-reads the row once then, so a lost notice costs
one interval, not a stuck progress bar. It ends after a final status, or with a
``deleted`` event when the job is removed.

Sign-in is checked again at every re-read, not only when the stream opens: a
session signed out or expired, a token revoked or expired, or a user disabled ends
the stream with a ``signed_out`` event within one keep-alive interval.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis as AsyncRedis
from starlette.concurrency import run_in_threadpool

from stemdeck.api.auth.principal import JobsReader, Principal, current_principal
from stemdeck.api.context import AppContext
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import ApiError, job_not_found
from stemdeck.api.jobstore import load_job
from stemdeck.api.presenters import job_public
from stemdeck.api.schemas import SIGN_IN_ERRORS, ErrorPublic
from stemdeck.core.db import session_scope
from stemdeck.core.events import job_channel
from stemdeck.core.states import JobStatus

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=SIGN_IN_ERRORS)

SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["job", "deleted", "signed_out"]},
        "data": {"type": "string", "description": "JSON, as the description says"},
    },
    "required": ["event", "data"],
}

EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`event: job` with a JobPublic as `data` at once and on every change; "
        "`event: deleted` when the job is removed; `: keep-alive` comments in between "
        "(every STEMDECK_EVENTS_KEEPALIVE_S, 15 s by default). The stream ends after a final "
        "status (completed, failed, cancelled), or with `event: signed_out` and the error as "
        '`data` (`{"error": {"code", "message"}}`, as the 401 a request would get) once the '
        "sign-in it opened with is no longer valid: the session signed out or expired, the "
        "API token revoked or expired, or the user disabled. It is checked at every change "
        "and every keep-alive.",
        # Before OpenAPI 3.2 (itemSchema), an event stream's schema describes one event.
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    },
    404: {"model": ErrorPublic},
}


def _read(context: AppContext, request: Request, principal: Principal, job_id: str) -> str | None:
    """The job as JSON, or None when it no longer exists (or ``principal`` may not see it)."""
    with session_scope(context.settings.effective_database_url) as session:
        try:
            job = load_job(session, job_id, principal)
        except ApiError:
            return None
        return job_public(request, job).model_dump_json()


def _reread(context: AppContext, request: Request, job_id: str) -> str | ApiError | None:
    """As ``_read``, for whom the request signs in as now: the sign-in is checked again
    (its session or token may have ended, its user been disabled or lost admin since the
    stream opened). The ApiError that a new request would get when it no longer signs in."""
    try:
        principal = current_principal(request, context)
    except ApiError as error:
        return error
    return _read(context, request, principal, job_id)


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


async def _close(pubsub: Any, redis: AsyncRedis) -> None:
    # Shielded: a client that hangs up cancels the stream, and the subscription must
    # still be released. redis-py's PubSub.aclose has no annotations, hence Any.
    with anyio.CancelScope(shield=True):
        await pubsub.aclose()
        await redis.aclose()


async def _wait_for_notice(pubsub: Any, timeout_s: float) -> bool:
    """True when a notice came within ``timeout_s``; skips (un)subscribe confirmations,
    for which get_message answers None at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (left := deadline - loop.time()) > 0:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
        if message is not None:
            return True
    return False


async def _stream(
    context: AppContext,
    request: Request,
    job_id: str,
    first: str,
    pubsub: Any,
    redis: AsyncRedis,
) -> AsyncIterator[bytes]:
    keepalive_s = context.settings.events_keepalive_s
    try:
        body: str | ApiError | None = first
        last: str | None = None
        while isinstance(body, str):
            if body != last:
                yield _event("job", body)
                last = body
            if JobStatus(json.loads(body)["status"]).is_final:
                return
            if not await _wait_for_notice(pubsub, keepalive_s):
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
            # Writes come in bursts: one re-read answers every notice already waiting.
            while await pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
                pass
            body = await run_in_threadpool(_reread, context, request, job_id)
        if isinstance(body, ApiError):
            error = {"error": {"code": body.code, "message": body.message}}
            yield _event("signed_out", json.dumps(error))
            return
        yield _event("deleted", json.dumps({"id": job_id}))
    finally:
        await _close(pubsub, redis)


@router.get(
    "/{job_id}/events",
    name="job_events",
    summary="The job as Server-Sent Events, pushed as it changes",
    response_class=StreamingResponse,
    responses=EVENTS_DOC,
)
async def job_events(
    request: Request, context: ContextDep, principal: JobsReader, job_id: str
) -> StreamingResponse:
    redis = AsyncRedis.from_url(context.settings.require_redis_url(), socket_connect_timeout=5)
    pubsub = redis.pubsub()
    try:
        # Subscribe before the first read, so no change between the two is missed.
        await pubsub.subscribe(job_channel(job_id))
        first = await run_in_threadpool(_read, context, request, principal, job_id)
        if first is None:
            raise job_not_found(job_id)
    except BaseException:
        await _close(pubsub, redis)
        raise
    return StreamingResponse(
        _stream(context, request, job_id, first, pubsub, redis),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

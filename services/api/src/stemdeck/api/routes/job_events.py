"""/api/jobs/{id}/events: the job as Server-Sent Events, pushed as it changes.

The stream starts watching the job's notices first (stemdeck.core.events, through the
process's one Redis subscription: api/sse/hub.py), then sends the row as it is, then
re-reads and sends it each time a writer publishes a change. Between changes it sends
a keep-alive comment every STEMDECK_EVENTS_KEEPALIVE_S and re-reads the row once then,
so a lost notice costs one interval, not a stuck progress bar. It ends after a final
status, or with a ``deleted`` event when the job is removed. Streams of one job woken
by one notice re-read together (api/sse/batches.py), each still answered for its own
sign-in.

Sign-in is checked again at every re-read, not only when the stream opens: a
session signed out or expired, a token revoked or expired, or a user disabled ends
the stream with a ``signed_out`` event within one keep-alive interval.

Open streams are capped per process, in all and per user (api/sse/slots.py): past
either, 429 with Retry-After.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from stemdeck.api.auth.principal import JobsReader, Principal, current_principal
from stemdeck.api.context import AppContext
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import ApiError, job_not_found
from stemdeck.api.jobstore import load_job
from stemdeck.api.presenters import job_public
from stemdeck.api.schemas import SIGN_IN_ERRORS, ErrorPublic
from stemdeck.api.sse import EventStreams, Reread
from stemdeck.api.sse.hub import Inbox
from stemdeck.core.db import session_scope
from stemdeck.core.models import Job
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
    429: {
        "model": ErrorPublic,
        "description": "`too_many_streams`: this user already has "
        "STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT streams open (`limit`: "
        "`events_streams_per_client`), or the server STEMDECK_EVENTS_MAX_STREAMS (`limit`: "
        "`events_streams`). The error also gives `used` and `allowed`; `Retry-After` says "
        "when to try again. Close a stream, or poll GET /api/jobs/{id} meanwhile.",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    },
    503: {"model": ErrorPublic, "description": "Redis, which carries the changes, is down"},
}


def _read(context: AppContext, request: Request, principal: Principal, job_id: str) -> str | None:
    """The job as JSON, or None when it no longer exists (or ``principal`` may not see it)."""
    with session_scope(context.settings.effective_database_url) as session:
        try:
            job = load_job(session, job_id, principal)
        except ApiError:
            return None
        return job_public(request, job).model_dump_json()


def _reread_all(job_id: str, requests: Sequence[Request]) -> list[Reread]:
    """What each of these streams of ``job_id`` sends now, from one database session:
    each one's sign-in is checked again (its session or token may have ended, its user
    been disabled or lost admin since it opened): the ApiError a new request would get
    when it no longer signs in, else the job as it may see it (None: gone, or not its
    to see). The job is looked up once per principal and rendered once per base URL
    (the one part of the body a request changes)."""
    context: AppContext = requests[0].app.state.context
    visible: dict[Principal, Job | None] = {}
    bodies: dict[str, str] = {}
    answers: list[Reread] = []
    with session_scope(context.settings.effective_database_url) as session:
        for request in requests:
            try:
                principal = current_principal(request, context)
            except ApiError as error:
                answers.append(error)
                continue
            if principal not in visible:
                try:
                    visible[principal] = load_job(session, job_id, principal)
                except ApiError:
                    visible[principal] = None
            job = visible[principal]
            if job is None:
                answers.append(None)
                continue
            base = str(request.base_url)
            if base not in bodies:
                bodies[base] = job_public(request, job).model_dump_json()
            answers.append(bodies[base])
    return answers


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


@dataclass
class _Lease:
    """What an open stream holds: its slot and its inbox; given back once."""

    streams: EventStreams
    client: str
    inbox: Inbox | None = None

    def release(self) -> None:
        if self.inbox is not None:
            self.streams.hub.unwatch(self.inbox)
            self.inbox = None
        if self.client:
            self.streams.slots.give_back(self.client)
            self.client = ""


async def _stream(
    context: AppContext, request: Request, first: str, inbox: Inbox, lease: _Lease
) -> AsyncIterator[bytes]:
    keepalive_s = context.settings.events_keepalive_s
    rereads = context.streams.rereads
    try:
        body: Reread = first
        last: str | None = None
        while isinstance(body, str):
            if body != last:
                yield _event("job", body)
                last = body
            if JobStatus(json.loads(body)["status"]).is_final:
                return
            # A ring clears the bell: writes come in bursts, and one re-read answers
            # every notice that came before it.
            if not await inbox.wait(keepalive_s):
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
            body = await rereads.read(inbox.job_id, request, _reread_all)
        if isinstance(body, ApiError):
            error = {"error": {"code": body.code, "message": body.message}}
            yield _event("signed_out", json.dumps(error))
            return
        yield _event("deleted", json.dumps({"id": inbox.job_id}))
    finally:
        lease.release()


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
    streams = context.streams
    streams.slots.take(principal.user_id)
    lease = _Lease(streams, principal.user_id)
    try:
        # Watch before the first read, so no change between the two is missed.
        inbox = lease.inbox = await streams.hub.watch(job_id)
        first = await run_in_threadpool(_read, context, request, principal, job_id)
        if first is None:
            raise job_not_found(job_id)
    except BaseException:
        lease.release()
        raise
    return StreamingResponse(
        _stream(context, request, first, inbox, lease),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

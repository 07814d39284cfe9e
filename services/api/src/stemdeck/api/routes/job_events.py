"""/api/jobs/{id}/events: the job as Server-Sent Events, pushed as it changes.

The stream starts watching the job's notices first (stemdeck.core.events, through the
process's one Redis subscription: api/sse/hub.py), then sends the row as it is, then
re-reads and sends it each time a writer publishes a change. Between changes it sends
a keep-alive comment every STEMDECK_EVENTS_KEEPALIVE_S and re-reads the row once then,
so a lost notice costs one interval, not a stuck progress bar. It ends after a final
status, or with a ``deleted`` event when the job is removed. The streams' reads go
through one thread, in batches (api/sse/batches.py): those of one job woken by one
notice share one read, each still answered for its own sign-in.

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
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from stemdeck.api.auth.principal import JobsReader, Principal, current_principal
from stemdeck.api.context import AppContext
from stemdeck.api.deps import ContextDep
from stemdeck.api.errors import ApiError, job_not_found
from stemdeck.api.jobstore import load_job
from stemdeck.api.presenters import job_public
from stemdeck.api.schemas import SIGN_IN_ERRORS, ErrorPublic, JobPublic
from stemdeck.api.sse import EventStreams, Reread, Snapshot, StreamRead
from stemdeck.api.sse.hub import Inbox
from stemdeck.api.standings import NO_STANDING, job_standings
from stemdeck.core.db import session_scope
from stemdeck.core.models import Job

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


def read_for_streams(reads: Sequence[StreamRead]) -> list[Reread]:
    """What each of these streams sends now (api/sse/batches.py runs this, in its one
    thread, for every stream that asked at once). Each one's sign-in is checked again
    (its session or token may have ended, its user been disabled or lost admin since
    it opened): the ApiError a new request would get when it no longer signs in; else
    the job as JSON, or None when it is gone or not this principal's to see. One
    session and one look at the queue for them all; each job is looked up once per
    principal and rendered once per base URL (the one part of a body a request changes)."""
    context: AppContext = reads[0].request.app.state.context
    principals = [_principal_now(read.request, context) for read in reads]
    with session_scope(context.settings.effective_database_url) as session:
        visible: dict[tuple[str, Principal], Job | None] = {}
        for read, principal in zip(reads, principals, strict=True):
            if isinstance(principal, Principal) and (read.job_id, principal) not in visible:
                visible[read.job_id, principal] = _visible(session, read.job_id, principal)
        jobs = {job.id: job for job in visible.values() if job is not None}
        standings = job_standings(reads[0].request, list(jobs.values()), session)
        bodies: dict[tuple[str, str], Snapshot] = {}
        answers: list[Reread] = []
        for read, principal in zip(reads, principals, strict=True):
            if isinstance(principal, ApiError):
                answers.append(principal)
                continue
            job = visible[read.job_id, principal]
            if job is None:
                answers.append(None)
                continue
            key = (job.id, str(read.request.base_url))
            if key not in bodies:
                standing = standings.get(job.id, NO_STANDING)
                bodies[key] = _snapshot(job_public(read.request, job, standing))
            answers.append(bodies[key])
    return answers


def _principal_now(request: Request, context: AppContext) -> Principal | ApiError:
    try:
        return current_principal(request, context)
    except ApiError as error:
        return error


def _visible(session: Session, job_id: str, principal: Principal) -> Job | None:
    try:
        return load_job(session, job_id, principal)
    except ApiError:
        return None


def _snapshot(job: JobPublic) -> Snapshot:
    body = job.model_dump_json()
    return Snapshot(body, _event("job", body), job.status.is_final)


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


class _EventStream(StreamingResponse):
    """Gives the stream's lease back once the response ends, however it ends: also when
    the client hangs up before the body starts, and the body's generator never runs."""

    def __init__(self, body: AsyncIterator[bytes], lease: _Lease) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.lease.release()


async def _stream(
    context: AppContext, request: Request, first: Snapshot, inbox: Inbox
) -> AsyncIterator[bytes]:
    keepalive_s = context.settings.events_keepalive_s
    reads = context.streams.reads
    body: Reread = first
    last: str | None = None
    while isinstance(body, Snapshot):
        if body.json != last:
            yield body.event
            last = body.json
        if body.final:
            return
        # A ring clears the bell: writes come in bursts, and one re-read answers
        # every notice that came before it.
        if not await inbox.wait(keepalive_s):
            if await request.is_disconnected():
                return
            yield b": keep-alive\n\n"
        body = await reads.read(StreamRead(inbox.job_id, request))
    if isinstance(body, ApiError):
        error = {"error": {"code": body.code, "message": body.message}}
        yield _event("signed_out", json.dumps(error))
        return
    yield _event("deleted", json.dumps({"id": inbox.job_id}))


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
        first = await streams.reads.read(StreamRead(job_id, request))
        if isinstance(first, ApiError):
            raise first
        if first is None:
            raise job_not_found(job_id)
    except BaseException:
        lease.release()
        raise
    return _EventStream(_stream(context, request, first, inbox), lease)

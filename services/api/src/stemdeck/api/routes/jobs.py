"""/api/jobs: create (upload), list, read, cancel, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from stemdeck.api import idempotency
from stemdeck.api.auth.principal import JobsReader, JobsWriter, Principal
from stemdeck.api.bodies import (
    PageKey,
    base_url,
    body_marks,
    encode,
    finished,
    job_bodies,
    marks_before_reading,
    page_marks,
)
from stemdeck.api.deps import ContextDep, SessionDep, read_session
from stemdeck.api.errors import ApiError
from stemdeck.api.intake import Accepted, create_job_from_upload
from stemdeck.api.jobstore import (
    cancel_job,
    check_owner,
    delete_job,
    job_page,
    job_version,
    list_owner,
    list_scope,
    load_job,
    load_jobs,
)
from stemdeck.api.presenters import job_public
from stemdeck.api.schemas import SIGN_IN_ERRORS, ErrorPublic, JobPublic, JobsPublic
from stemdeck.api.standings import NO_STANDING, job_standings, standing_of
from stemdeck.api.url_intake import JobCreateFromUrl, create_job_from_url, media_type
from stemdeck.core.formats import FORMATS

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=SIGN_IN_ERRORS)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic}}
# Far past any real list, and inside every database's OFFSET (Postgres takes a 64-bit
# one and fails past it); a 32-bit int, so any client can send it.
MAX_OFFSET = 2**31 - 1

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_CHARS,
        "pattern": "^[!-~]+$",
    },
    "description": "Makes a retry safe: the same key with the same request (within "
    "STEMDECK_IDEMPOTENCY_TTL_S, per user) answers 200 with what the first made, never a "
    "second one; with a different request, 409 idempotency_key_reused.",
}
CALLBACK_URL_FIELD: dict[str, Any] = {
    "type": "string",
    "description": "A public http(s) URL sent the job, signed, once it completes or fails",
}

# The body is parsed by hand (streamed to storage), so describe it for /docs here.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "strategy": {
                            "type": "string",
                            "description": "A name from GET /api/strategies (default: the "
                            "server's STEMDECK_DEFAULT_STRATEGY)",
                        },
                        "formats": {
                            "type": "string",
                            "description": "Comma-separated or repeated; any of "
                            + ", ".join(FORMATS),
                        },
                        "callback_url": CALLBACK_URL_FIELD,
                    },
                }
            },
            "application/json": {"schema": JobCreateFromUrl.model_json_schema()},
        },
    },
    "parameters": [IDEMPOTENCY_KEY_PARAMETER],
}
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": JobPublic,
        "description": "The job an earlier request with the same "
        "Idempotency-Key made (header Idempotent-Replayed: true)",
    },
    **{status: {"model": ErrorPublic} for status in (400, 409, 413, 415, 422, 429, 503)},
}


async def create_job_from_request(
    request: Request, context: ContextDep, owner: Principal
) -> Accepted:
    """JSON bodies name a URL to fetch; multipart ones carry an upload; nothing else
    is taken (a text/plain body holding JSON is refused: see url_intake.require_json)."""
    if media_type(request) == "application/json":
        return await create_job_from_url(request, context, owner)
    if media_type(request) == "multipart/form-data":
        return await create_job_from_upload(request, context, owner)
    raise ApiError(
        415,
        "unsupported_content_type",
        "Send the upload as multipart/form-data with the audio in a field named 'file' "
        "(curl -F file=@song.mp3 …), or a URL to fetch as JSON with "
        "'Content-Type: application/json' (curl -H 'Content-Type: application/json' "
        """-d '{"url": "…"}' …).""",
    )


@router.post(
    "",
    status_code=202,
    name="create_job",
    summary="Upload a song, or send a URL to fetch it from, and queue its separation",
    openapi_extra=UPLOAD_BODY,
    responses=UPLOAD_ERRORS,
)
async def create_job(
    request: Request, response: Response, context: ContextDep, principal: JobsWriter
) -> JobPublic:
    accepted = await create_job_from_request(request, context, principal)
    job = accepted.job
    # Its place in line reads Redis and the database: in a thread, never on the event
    # loop, where a wait for a pooled connection would stop every request, the ones
    # about to give their connection back included.
    standing = await run_in_threadpool(standing_of, request, job)
    body = job_public(request, job, standing)
    response.headers["Location"] = body.url
    if accepted.replayed:
        response.status_code = 200
        response.headers[idempotency.REPLAYED_HEADER] = "true"
    return body


@router.get(
    "",
    name="list_jobs",
    summary="Your jobs, newest first (an admin's: everyone's, or one owner's with ?owner=)",
    response_model=JobsPublic,
    responses={422: {"model": ErrorPublic}},
)
async def list_jobs(
    request: Request,
    principal: JobsReader,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    owner: Annotated[
        str | None,
        Query(
            max_length=320,
            description="Admins only: the jobs of the user with this id or email",
        ),
    ] = None,
) -> Response:
    key = (list_scope(principal, owner), limit, offset, base_url(request))
    body = await job_bodies(request).answer_page(key)
    if body is None:
        body = await run_in_threadpool(read_page, request, principal, owner, key)
    return Response(body, media_type="application/json")


def read_page(request: Request, principal: Principal, owner: str | None, key: PageKey) -> bytes:
    """A page as GET /api/jobs answers it, from the bodies kept of its finished jobs and
    the rest read whole; kept in turn (api/bodies.py)."""
    scope, limit, offset, base = key
    bodies = job_bodies(request)
    marks = marks_before_reading(request, page_marks(scope, live=True))
    with read_session(request) as session:
        owner_id = list_owner(session, principal, owner)
        page, count = job_page(session, owner_id, limit, offset)
        kept: dict[str, bytes | None] = {}
        for row in page:
            found = bodies.matching(row.id, base, (row.updated_at, row.status))
            kept[row.id] = found.body if found is not None else None
        jobs = load_jobs(session, [job_id for job_id, body in kept.items() if body is None])
        standings = job_standings(request, list(jobs.values()), session)  # the unfinished
    for job in jobs.values():
        kept[job.id] = body = encode(job_public(request, job, standings.get(job.id, NO_STANDING)))
        bodies.keep(job.id, base, (job.updated_at, job.status), job.owner_id, body, None)
    # A job deleted between the two reads is left out, as if listed a moment later.
    data = b",".join(body for body in kept.values() if body is not None)
    tail = f'],"count":{count},"limit":{limit},"offset":{offset}}}'.encode()
    body = b'{"data":[' + data + tail
    live = not all(finished(row.status) for row in page)
    bodies.keep_page(key, live, body, marks)
    return body


@router.get(
    "/{job_id}",
    name="read_job",
    response_model=JobPublic,
    responses=NOT_FOUND,
    summary="One job and its stems",
)
async def read_job(request: Request, principal: JobsReader, job_id: str) -> Response:
    kept = await job_bodies(request).answer(job_id, base_url(request))
    if kept is not None:
        check_owner(job_id, kept.owner_id, principal)
        body = kept.body
    else:
        body = await run_in_threadpool(read_body, request, principal, job_id)
    return Response(body, media_type="application/json")


def read_body(request: Request, principal: Principal, job_id: str) -> bytes:
    """The job's body as GET /api/jobs/{id} answers it; kept (api/bodies.py)."""
    bodies, base = job_bodies(request), base_url(request)
    marks = marks_before_reading(request, body_marks(job_id, final=False))
    with read_session(request) as session:
        # Only a finished job whose body is kept is worth the light read first; any
        # other is read whole at once.
        if bodies.holds(job_id, base):
            version = job_version(session, job_id, principal)
            kept = bodies.matching(job_id, base, version)
            if kept is not None:
                bodies.keep(job_id, base, version, kept.owner_id, kept.body, marks)
                return kept.body
        job = load_job(session, job_id, principal)
        body = encode(job_public(request, job, standing_of(request, job, session)))
    bodies.keep(job.id, base, (job.updated_at, job.status), job.owner_id, body, marks)
    return body


@router.delete(
    "/{job_id}",
    status_code=204,
    name="delete_job",
    responses=NOT_FOUND,
    summary="Cancel a job that has not finished (it answers 'cancelled' for a while), "
    "or delete a finished one; its files go at once",
)
def remove_job(
    session: SessionDep, context: ContextDep, principal: JobsWriter, job_id: str
) -> None:
    delete_job(context, load_job(session, job_id, principal))


@router.post(
    "/{job_id}/cancel",
    name="cancel_job",
    responses={404: {"model": ErrorPublic}, 409: {"model": ErrorPublic}},
    summary="Cancel a job that has not finished; it answers 'cancelled' for a while",
)
def cancel(
    request: Request, session: SessionDep, context: ContextDep, principal: JobsWriter, job_id: str
) -> JobPublic:
    job = load_job(session, job_id, principal)
    if not cancel_job(context, job):
        session.refresh(job)
        raise ApiError(
            409,
            "job_finished",
            f"Job {job_id} has already {job.status}, so there is nothing to cancel. "
            f"DELETE /api/jobs/{job_id} removes it.",
        )
    session.refresh(job)
    return job_public(request, job)

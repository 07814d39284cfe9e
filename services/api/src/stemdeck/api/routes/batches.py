"""/api/batches: several songs sent at once; create, list, read, zip, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from stemdeck.api import idempotency
from stemdeck.api.auth.principal import JobsReader, JobsWriter, Principal
from stemdeck.api.batch_intake import (
    BatchAccepted,
    BatchCreateFromUrls,
    create_batch_from_upload,
    create_batch_from_urls,
)
from stemdeck.api.batchstore import (
    batch_jobs,
    batch_page,
    batch_public,
    delete_batch,
    load_batch,
    zip_entries,
)
from stemdeck.api.deps import ContextDep, SessionDep, read_session
from stemdeck.api.errors import ApiError
from stemdeck.api.filenames import content_disposition
from stemdeck.api.routes.jobs import CALLBACK_URL_FIELD, IDEMPOTENCY_KEY_PARAMETER, MAX_OFFSET
from stemdeck.api.schemas import SIGN_IN_ERRORS, BatchesPublic, BatchPublic, ErrorPublic
from stemdeck.api.url_intake import media_type
from stemdeck.api.zipstream import zip_chunks
from stemdeck.core.formats import FORMATS

router = APIRouter(prefix="/batches", tags=["batches"], responses=SIGN_IN_ERRORS)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic}}
# The upload is parsed by hand (streamed to storage), so describe it for /docs here.
CREATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": BatchCreateFromUrls.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Several fields named 'file', one song each",
                        },
                        "strategy": {"type": "string"},
                        "formats": {
                            "type": "string",
                            "description": "Comma-separated or repeated; any of "
                            + ", ".join(FORMATS),
                        },
                        "callback_url": CALLBACK_URL_FIELD,
                    },
                }
            },
        },
    },
    "parameters": [IDEMPOTENCY_KEY_PARAMETER],
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": BatchPublic,
        "description": "The batch an earlier request with the same Idempotency-Key made "
        "(header Idempotent-Replayed: true)",
    },
    **{status: {"model": ErrorPublic} for status in (400, 409, 413, 415, 422, 429, 503)},
}


async def create_from_request(
    request: Request, context: ContextDep, owner: Principal
) -> BatchAccepted:
    if media_type(request) == "application/json":
        return await create_batch_from_urls(request, context, owner)
    if media_type(request) == "multipart/form-data":
        return await create_batch_from_upload(request, context, owner)
    raise ApiError(
        415,
        "unsupported_content_type",
        "Send a batch as JSON with 'Content-Type: application/json' and a list of URLs "
        """({"urls": ["…", "…"]}), or as multipart/form-data with one field named 'file' """
        "per song (curl -F file=@one.mp3 -F file=@two.mp3 …).",
    )


def read_one(request: Request, principal: Principal, batch_id: str) -> BatchPublic:
    with read_session(request) as session:
        batch = load_batch(session, batch_id, principal)
        jobs = batch_jobs(session, [batch.id])[batch.id]
        return batch_public(request, session, batch, jobs)


@router.post(
    "",
    status_code=202,
    name="create_batch",
    summary="Send several songs at once (URLs as JSON, or files), one job each",
    openapi_extra=CREATE_BODY,
    responses=CREATE_ERRORS,
)
async def create_batch(
    request: Request, response: Response, context: ContextDep, principal: JobsWriter
) -> BatchPublic:
    accepted = await create_from_request(request, context, principal)
    body = await run_in_threadpool(read_one, request, principal, accepted.batch_id)
    response.headers["Location"] = body.url
    if accepted.replayed:
        response.status_code = 200
        response.headers[idempotency.REPLAYED_HEADER] = "true"
    return body


@router.get("", name="list_batches", summary="Your batches, newest first")
def list_batches(
    request: Request,
    session: SessionDep,
    principal: JobsReader,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> BatchesPublic:
    page, count = batch_page(session, principal.user_id, limit, offset)
    jobs = batch_jobs(session, [batch.id for batch in page])
    data = [batch_public(request, session, batch, jobs[batch.id]) for batch in page]
    return BatchesPublic(data=data, count=count, limit=limit, offset=offset)


@router.get(
    "/{batch_id}",
    name="read_batch",
    responses=NOT_FOUND,
    summary="One batch: its status, progress and jobs",
)
def read_batch(request: Request, principal: JobsReader, batch_id: str) -> BatchPublic:
    return read_one(request, principal, batch_id)


@router.get(
    "/{batch_id}/zip",
    name="batch_zip",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}},
        404: {"model": ErrorPublic},
        409: {"model": ErrorPublic},
    },
    summary="Every completed job's stems, a folder per song, as one zip (streamed)",
)
def batch_zip(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    principal: JobsReader,
    batch_id: str,
) -> StreamingResponse:
    batch = load_batch(session, batch_id, principal)
    body = batch_public(request, session, batch, jobs := batch_jobs(session, [batch.id])[batch.id])
    if body.zip_url is None:
        raise ApiError(
            409,
            "batch_not_finished",
            f"Batch {batch.id} is {body.status}; its zip is ready once every job has finished "
            "and one completed. Poll GET /api/batches/{id} until zip_url is set.",
        )
    # Sizes are read now, while the request can still fail cleanly with an error body.
    entries = zip_entries(context.storage, jobs)
    modified = max(job.finished_at or job.updated_at for job in jobs)
    return StreamingResponse(
        zip_chunks(context.storage, entries, modified),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(f"batch {batch.id[:8]} - stems.zip")},
    )


@router.delete(
    "/{batch_id}",
    status_code=204,
    name="delete_batch",
    responses=NOT_FOUND,
    summary="Cancel the batch's unfinished jobs, delete its finished ones, then the batch",
)
def remove_batch(
    session: SessionDep, context: ContextDep, principal: JobsWriter, batch_id: str
) -> None:
    load_batch(session, batch_id, principal)
    delete_batch(context, batch_id)

"""The older "Stem Splitter" REST API, as thin adapters over the /api routes' logic."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from stemdeck.api.auth.principal import JobsReader, JobsWriter
from stemdeck.api.delivery import redirect_to_file, stem_ref
from stemdeck.api.deps import ContextDep, SessionDep
from stemdeck.api.intake import create_job_from_upload
from stemdeck.api.jobstore import delete_job, load_job
from stemdeck.api.presenters import job_public
from stemdeck.api.routes.jobs import UPLOAD_BODY, UPLOAD_ERRORS
from stemdeck.api.routes.stems import REDIRECT_RESPONSES
from stemdeck.api.schemas import (
    SIGN_IN_ERRORS,
    CompatDeletedPublic,
    CompatStatusPublic,
    CompatUploadPublic,
    ErrorPublic,
)
from stemdeck.api.standings import standing_of
from stemdeck.api.url_intake import JobCreateFromUrl, create_job_from_url

router = APIRouter(tags=["compat (Stem Splitter API)"], responses=SIGN_IN_ERRORS)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorPublic}}


@router.post(
    "/upload",
    status_code=202,
    name="compat_upload",
    openapi_extra=UPLOAD_BODY,
    responses=UPLOAD_ERRORS,
    summary="Upload a song (same as POST /api/jobs)",
)
async def upload(
    request: Request, response: Response, context: ContextDep, principal: JobsWriter
) -> CompatUploadPublic:
    job = (await create_job_from_upload(request, context, principal)).job
    status_url = str(request.url_for("compat_status", job_id=job.id))
    response.headers["Location"] = str(request.url_for("read_job", job_id=job.id))
    return CompatUploadPublic(job_id=job.id, status=job.status, status_url=status_url)


@router.post(
    "/submit-url",
    status_code=202,
    name="compat_submit_url",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": JobCreateFromUrl.model_json_schema()}},
        }
    },
    responses=UPLOAD_ERRORS,
    summary="Fetch a song from a URL (same as POST /api/jobs with a JSON body)",
)
async def submit_url(
    request: Request, response: Response, context: ContextDep, principal: JobsWriter
) -> CompatUploadPublic:
    job = (await create_job_from_url(request, context, principal)).job
    status_url = str(request.url_for("compat_status", job_id=job.id))
    response.headers["Location"] = str(request.url_for("read_job", job_id=job.id))
    return CompatUploadPublic(job_id=job.id, status=job.status, status_url=status_url)


@router.get(
    "/status/{job_id}", name="compat_status", responses=NOT_FOUND, summary="A job's progress"
)
def status(
    request: Request, session: SessionDep, principal: JobsReader, job_id: str
) -> CompatStatusPublic:
    row = load_job(session, job_id, principal)
    job = job_public(request, row, standing_of(request, row, session))
    return CompatStatusPublic(
        job_id=job.id,
        status=job.status,
        # The older API's stage was one text: "separating: demucs:htdemucs".
        stage=f"{job.stage}: {job.stage_detail}" if job.stage_detail else job.stage,
        progress=job.progress,
        eta_seconds=job.eta_seconds,
        error=job.error,
        stems=[stem.name for stem in job.stems],
        downloads={
            stem.name: str(request.url_for("compat_download", job_id=job.id, stem=stem.name))
            for stem in job.stems
        },
    )


@router.get(
    "/download/{job_id}/{stem}",
    name="compat_download",
    responses=REDIRECT_RESPONSES,
    summary="Download one stem (the job's first format unless ?format= says otherwise)",
    status_code=307,
    response_class=Response,
)
def download(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    principal: JobsReader,
    job_id: str,
    stem: str,
    format: Annotated[str | None, Query(description="A format the job stored")] = None,
) -> Response:
    job = load_job(session, job_id, principal)
    return redirect_to_file(request, context, job, stem_ref(job, stem, format, download=True))


@router.delete("/job/{job_id}", name="compat_delete", responses=NOT_FOUND, summary="Delete a job")
def delete(
    session: SessionDep, context: ContextDep, principal: JobsWriter, job_id: str
) -> CompatDeletedPublic:
    delete_job(context, load_job(session, job_id, principal))
    return CompatDeletedPublic(job_id=job_id, deleted=True)

"""Stem audio and waveform peaks (each a redirect to a short-lived URL), and all stems
as one zip."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from stemdeck.api.auth.principal import JobsReader
from stemdeck.api.delivery import redirect_to_file, serve_zip, stem_ref, waveform_ref
from stemdeck.api.deps import ContextDep, SessionDep, StorageDep
from stemdeck.api.jobstore import load_job
from stemdeck.api.schemas import SIGN_IN_ERRORS, ErrorPublic

router = APIRouter(prefix="/jobs/{job_id}", tags=["stems"], responses=SIGN_IN_ERRORS)

# Both stores alike: a URL that works without credentials for STEMDECK_LINK_TTL_S.
REDIRECT_RESPONSES: dict[int | str, dict[str, Any]] = {
    307: {
        "description": "Redirect (Location) to a short-lived URL for the file: presigned on "
        "the S3 store, else a signed /api/files/{token} link. It serves HTTP Range."
    },
    404: {"model": ErrorPublic},
}


@router.get(
    "/stems/{stem}.{fmt}",
    name="stem_audio",
    status_code=307,
    response_class=Response,
    responses=REDIRECT_RESPONSES,
    summary="A stem's audio: a redirect to a short-lived URL that supports HTTP Range",
)
def stem_audio(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    principal: JobsReader,
    job_id: str,
    stem: str,
    fmt: str,
    download: Annotated[bool, Query(description="Send as an attachment")] = False,
) -> Response:
    job = load_job(session, job_id, principal)
    return redirect_to_file(request, context, job, stem_ref(job, stem, fmt, download))


@router.get(
    "/stems.zip",
    name="stems_zip",
    responses={
        200: {"content": {"application/zip": {}}},
        404: {"model": ErrorPublic},
        409: {"model": ErrorPublic},
    },
    summary="Every stem in every stored format, as one zip (streamed)",
)
def stems_zip(
    session: SessionDep, storage: StorageDep, principal: JobsReader, job_id: str
) -> Response:
    return serve_zip(storage, load_job(session, job_id, principal))


@router.get(
    "/waveforms/{stem}.{kind}",
    name="waveform",
    status_code=307,
    response_class=Response,
    responses=REDIRECT_RESPONSES,
    summary="Waveform peaks of a stem, as JSON or as a PNG image: a redirect as for audio",
)
def waveform(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    principal: JobsReader,
    job_id: str,
    stem: str,
    kind: str,
) -> Response:
    job = load_job(session, job_id, principal)
    return redirect_to_file(request, context, job, waveform_ref(job, stem, kind))

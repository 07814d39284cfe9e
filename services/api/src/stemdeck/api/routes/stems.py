"""Stem audio (HTTP Range), all stems as one zip, and waveform peaks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from stemdeck.api.auth.principal import JobsReader
from stemdeck.api.delivery import serve_object, serve_stem, serve_zip
from stemdeck.api.deps import SessionDep, StorageDep
from stemdeck.api.errors import ApiError
from stemdeck.api.jobstore import find_stem, load_job
from stemdeck.api.schemas import SIGN_IN_ERRORS, ErrorPublic

router = APIRouter(prefix="/jobs/{job_id}", tags=["stems"], responses=SIGN_IN_ERRORS)

AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"audio/*": {}}, "description": "The whole file"},
    206: {"description": "The requested byte range"},
    307: {"description": "Redirect to a presigned URL on the object store"},
    404: {"model": ErrorPublic},
    416: {"model": ErrorPublic},
}
WAVEFORM_TYPES = {"json": "application/json", "png": "image/png"}


@router.get(
    "/stems/{stem}.{fmt}",
    name="stem_audio",
    responses=AUDIO_RESPONSES,
    summary="A stem's audio; supports HTTP Range for seeking",
)
def stem_audio(
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    principal: JobsReader,
    job_id: str,
    stem: str,
    fmt: str,
    download: Annotated[bool, Query(description="Send as an attachment")] = False,
) -> Response:
    job = load_job(session, job_id, principal)
    return serve_stem(storage, request.headers, job, stem, fmt, download)


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
    responses={404: {"model": ErrorPublic}},
    summary="Waveform peaks of a stem, as JSON or as a PNG image",
)
def waveform(
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    principal: JobsReader,
    job_id: str,
    stem: str,
    kind: str,
) -> Response:
    job = load_job(session, job_id, principal)
    found = find_stem(job, stem)
    if kind not in WAVEFORM_TYPES:
        raise ApiError(404, "not_found", "Waveforms come as .json or .png.")
    key = found.waveform_key if kind == "json" else found.waveform_png_key
    return serve_object(storage, key, WAVEFORM_TYPES[kind], request.headers)

"""Signed file links: what a stem or waveform URL redirects to when the store does not
presign (links.py). The link itself is the credential, for STEMDECK_LINK_TTL_S."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from stemdeck.api.delivery import resolve, serve_file
from stemdeck.api.deps import SessionDep, SettingsDep, StorageDep
from stemdeck.api.errors import ApiError
from stemdeck.api.links import read_link
from stemdeck.api.schemas import ErrorPublic
from stemdeck.core.models import Job

router = APIRouter(prefix="/files", tags=["stems"])

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"audio/*": {}, "application/json": {}, "image/png": {}},
        "description": "The whole file, with a strong ETag and an immutable Cache-Control",
    },
    206: {"description": "The requested byte range (If-Range permitting), same ETag"},
    304: {"description": "Not modified: If-None-Match named the file's ETag"},
    403: {"model": ErrorPublic, "description": "Not a link this server made (link_invalid)"},
    404: {"model": ErrorPublic, "description": "The job or file is gone"},
    410: {"model": ErrorPublic, "description": "The link has expired (link_expired)"},
    416: {"model": ErrorPublic},
}


@router.get(
    "/{token}",
    name="file_link",
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="A file by its short-lived signed link (no sign-in); supports HTTP Range",
)
def file_link(
    request: Request, session: SessionDep, settings: SettingsDep, storage: StorageDep, token: str
) -> Response:
    ref = read_link(settings, token)
    # The signature says someone allowed to see this job asked for the link: no owner check.
    job = session.get(Job, ref.job_id)
    if job is None:
        raise ApiError(
            404,
            "file_gone",
            "The job this link was made for has been deleted, and its files with it.",
        )
    return serve_file(storage, resolve(job, ref), request.headers)

"""Sending stored files: byte ranges for players, attachments for downloads, presigned redirects."""

from __future__ import annotations

from pathlib import PurePath

from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import Headers

from stemdeck.api.errors import ApiError, error_response
from stemdeck.api.filenames import content_disposition
from stemdeck.api.jobstore import find_stem, stem_key
from stemdeck.api.ranges import RangeNotSatisfiableError, parse_range
from stemdeck.api.zipstream import EMPTY_PART, ZipEntry, entry_name, zip_chunks
from stemdeck.core.formats import FORMATS, download_filename
from stemdeck.core.models import Job
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import Storage


def serve_object(
    storage: Storage,
    key: str,
    media_type: str,
    request_headers: Headers,
    download_name: str | None = None,
) -> Response:
    """The object at ``key``, honouring a single Range; a redirect if the store can serve it."""
    disposition = content_disposition(download_name) if download_name is not None else "inline"
    presigned = storage.presigned_url(key, media_type=media_type, disposition=disposition)
    if presigned is not None:
        return RedirectResponse(presigned, status_code=307)
    size = storage.size(key)
    headers = {"Accept-Ranges": "bytes"}
    if download_name is not None:
        headers["Content-Disposition"] = disposition
    try:
        wanted = parse_range(request_headers.get("range"), size)
    except RangeNotSatisfiableError:
        return error_response(
            416,
            "range_not_satisfiable",
            f"The requested range lies outside the file ({size} bytes).",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(storage.iter_range(key), media_type=media_type, headers=headers)
    headers["Content-Length"] = str(wanted.length)
    headers["Content-Range"] = wanted.content_range(size)
    return StreamingResponse(
        storage.iter_range(key, wanted.start, wanted.length),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )


def known_format(format_id: str) -> str:
    if format_id not in FORMATS:
        raise ApiError(
            404,
            "format_not_found",
            f"Unknown format {format_id!r}; stems come as {', '.join(FORMATS)}.",
        )
    return format_id


def serve_stem(
    storage: Storage,
    request_headers: Headers,
    job: Job,
    stem_name: str,
    format_id: str | None,
    download: bool,
) -> Response:
    """One stem's audio; ``format_id=None`` picks the first format the job asked for.
    ``job`` comes from jobstore.load_job, which checked who may see it."""
    stem = find_stem(job, stem_name)
    if format_id is None:
        format_id = next((f for f in job.formats if f in stem.keys), None) or next(
            iter(stem.keys), ""
        )
    key = stem_key(job, stem, known_format(format_id))
    return serve_object(
        storage,
        key,
        FORMATS[format_id].media_type,
        request_headers,
        download_name=download_filename(stem.name, format_id) if download else None,
    )


def _archive_base(job: Job) -> str:
    """The zip's one folder, named after the song: one safe path part, whatever the name
    (rows written before titles were cleaned may hold "..", say)."""
    base = entry_name(PurePath(job.source_name).stem)
    return "stems" if base == EMPTY_PART else base


def serve_zip(storage: Storage, job: Job) -> StreamingResponse:
    if job.status != JobStatus.completed:
        raise ApiError(
            409,
            "job_not_completed",
            f"Job {job.id} is {job.status}; the zip is ready once it is completed. "
            "Poll GET /api/jobs/{id} until status is 'completed'.",
        )
    base = _archive_base(job)
    # Sizes are read now, while the request can still fail cleanly with an error body.
    entries = [
        ZipEntry(f"{base}/{download_filename(stem.name, fmt)}", key, storage.size(key))
        for stem in job.stems
        for fmt, key in stem.keys.items()
    ]
    modified = job.finished_at or job.updated_at
    return StreamingResponse(
        zip_chunks(storage, entries, modified),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(f"{base} - stems.zip")},
    )

"""Sending stored files: a redirect to a short-lived URL, byte ranges and attachments
from that URL, and the zip.

The authenticated stem and waveform routes check who may see the job, then answer
307 to a URL that needs no credentials for STEMDECK_LINK_TTL_S: the store's presigned
URL for the job's own files, else a signed link (links.py) that ``serve_file`` answers.

Either way the file comes with a strong ETag and a year-long immutable Cache-Control:
a stem or waveform never changes once its job has completed (conditional.py says what
the tag is made of). Downloads are named after the song (filenames.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import Headers
from starlette.requests import Request

from stemdeck.api.conditional import entity_tag, none_match, range_applies
from stemdeck.api.context import AppContext
from stemdeck.api.errors import ApiError, error_response
from stemdeck.api.filenames import content_disposition, song_title, stem_filename, zip_filename
from stemdeck.api.jobstore import find_stem, stem_key
from stemdeck.api.links import WAVEFORM_PART, FileRef, sign_link
from stemdeck.api.ranges import RangeNotSatisfiableError, parse_range
from stemdeck.api.zipstream import ZipEntry, entry_name, zip_chunks
from stemdeck.core.formats import FORMATS
from stemdeck.core.models import Job
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import Storage, keys

WAVEFORM_TYPES = {"json": "application/json", "png": "image/png"}
# A year, and "immutable": a browser neither refetches nor revalidates while it keeps
# the file. "private", not "public": the URL is a per-user credential (a signed link or
# a presigned URL) that expires, and a job's files are deleted with it; a shared cache
# (a proxy, a CDN) would go on handing them to anyone with the URL after both. The
# user's own browser keeping a copy of their own song is what is wanted.
IMMUTABLE = "private, max-age=31536000, immutable"


@dataclass(frozen=True)
class StoredFile:
    key: str
    media_type: str
    download_name: str | None  # None: inline, for a player

    @property
    def disposition(self) -> str:
        return content_disposition(self.download_name) if self.download_name else "inline"


def known_format(format_id: str) -> str:
    if format_id not in FORMATS:
        raise ApiError(
            404,
            "format_not_found",
            f"Unknown format {format_id!r}; stems come as {', '.join(FORMATS)}.",
        )
    return format_id


def stem_ref(job: Job, stem_name: str, format_id: str | None, download: bool) -> FileRef:
    """One stem's audio; ``format_id=None`` picks the first format the job asked for."""
    stem = find_stem(job, stem_name)
    if format_id is None:
        format_id = next((f for f in job.formats if f in stem.keys), None) or next(
            iter(stem.keys), ""
        )
    return FileRef(job.id, stem.name, format_id, download)


def waveform_ref(job: Job, stem_name: str, kind: str) -> FileRef:
    find_stem(job, stem_name)
    if kind not in WAVEFORM_TYPES:
        raise ApiError(404, "not_found", "Waveforms come as .json or .png.")
    return FileRef(job.id, stem_name, f"{WAVEFORM_PART}{kind}")


def resolve(job: Job, ref: FileRef) -> StoredFile:
    """Where the file ``ref`` names is stored; 404 for a stem, format or kind it lacks."""
    stem = find_stem(job, ref.stem)
    if ref.part.startswith(WAVEFORM_PART):
        kind = ref.part.removeprefix(WAVEFORM_PART)
        if kind not in WAVEFORM_TYPES:
            raise ApiError(404, "not_found", "Waveforms come as .json or .png.")
        key = stem.waveform_key if kind == "json" else stem.waveform_png_key
        return StoredFile(key, WAVEFORM_TYPES[kind], None)
    key = stem_key(job, stem, known_format(ref.part))
    name = stem_filename(song_title(job), stem.name, ref.part) if ref.download else None
    return StoredFile(key, FORMATS[ref.part].media_type, name)


def redirect_to_file(request: Request, context: AppContext, job: Job, ref: FileRef) -> Response:
    """307 to a short-lived URL for the file. ``job`` comes from jobstore.load_job, which
    checked who may see it."""
    found = resolve(job, ref)
    url = None
    # A presigned URL shows its storage key, and a dedup twin's key names the twin's job
    # (maybe another user's): only the job's own files are presigned, others go by link.
    if found.key.startswith(keys.job_prefix(job.id)):
        url = context.storage.presigned_url(
            found.key,
            media_type=found.media_type,
            disposition=found.disposition,
            cache_control=IMMUTABLE,
            # The address this request came to, where the bucket is served there too
            # and the API answers to that host by name; else the store's public URL.
            origin=context.link_origins.for_request(
                request.url.scheme, request.headers.get("host", "")
            ),
        )
    if url is None:
        url = str(request.url_for("file_link", token=sign_link(context.settings, ref)))
    # Not kept by any cache: the URL stops working long before the stem does.
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})


def serve_file(storage: Storage, found: StoredFile, request_headers: Headers) -> Response:
    """The file, inline or as an attachment, honouring If-None-Match (304) and a single
    Range (206), which If-Range may turn back into the whole file."""
    info = storage.info(found.key)
    size, etag = info.size, entity_tag(found.key, info)
    validators = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if none_match(request_headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=validators)
    headers = {
        **validators,
        "Accept-Ranges": "bytes",
        "Content-Disposition": found.disposition,
        "X-Content-Type-Options": "nosniff",
    }
    asked = request_headers.get("range")
    if not range_applies(request_headers.get("if-range"), etag):
        asked = None  # the client's partial copy is of other bytes: it needs them all
    try:
        wanted = parse_range(asked, size)
    except RangeNotSatisfiableError:
        return error_response(
            416,
            "range_not_satisfiable",
            f"The requested range lies outside the file ({size} bytes).",
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            storage.iter_range(found.key), media_type=found.media_type, headers=headers
        )
    headers["Content-Length"] = str(wanted.length)
    headers["Content-Range"] = wanted.content_range(size)
    return StreamingResponse(
        storage.iter_range(found.key, wanted.start, wanted.length),
        status_code=206,
        media_type=found.media_type,
        headers=headers,
    )


def stem_entries(storage: Storage, job: Job, folder: str) -> list[ZipEntry]:
    """Every stored stem file of ``job`` as "<folder>/<title> - <stem>.<ext>". Sizes are
    read now, while the request can still fail cleanly with an error body."""
    title = song_title(job)
    return [
        ZipEntry(entry_name(folder, stem_filename(title, stem.name, fmt)), key, storage.size(key))
        for stem in job.stems
        for fmt, key in stem.keys.items()
    ]


def serve_zip(storage: Storage, job: Job) -> StreamingResponse:
    if job.status != JobStatus.completed:
        raise ApiError(
            409,
            "job_not_completed",
            f"Job {job.id} is {job.status}; the zip is ready once it is completed. "
            "Poll GET /api/jobs/{id} until status is 'completed'.",
        )
    title = song_title(job)
    # One folder named after the song, as the files in it are; entry_name checks both.
    entries = stem_entries(storage, job, title or "stems")
    modified = job.finished_at or job.updated_at
    return StreamingResponse(
        zip_chunks(storage, entries, modified),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(zip_filename(title))},
    )

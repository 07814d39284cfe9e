"""Streaming multipart upload: body chunks go straight to storage, never whole into memory.

Starlette's ``request.form()`` spools the whole body before a route sees it, so a
500 MB upload would be read in full before it could be refused. Here
python-multipart's push parser is fed ``request.stream()`` chunk by chunk; the
file part is sniffed, hashed, counted and written through a storage writer as it
arrives, and the upload stops the moment it passes the limit.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from stemdeck.api.errors import ApiError, refusal_status
from stemdeck.api.request_metrics import record_upload
from stemdeck.core.names import display_name
from stemdeck.core.probe import UNREADABLE, PointerFileError
from stemdeck.core.sniff import SNIFF_BYTES, pointer_kind, sniff_extension
from stemdeck.core.storage import ObjectWriter, Storage, keys

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD = "file"
TEXT_FIELDS = frozenset({"strategy", "formats"})
# Room for the multipart boundaries, part headers and the small text fields.
FORM_OVERHEAD_BYTES = 64 * 1024
MAX_FIELD_BYTES = 4 * 1024
MAX_PARTS = 32
# RFC 2046 allows 70 characters; some clients use more. python-multipart's own cap.
MAX_BOUNDARY_CHARS = 256
# Per part: browsers and curl send two or three headers (Content-Disposition,
# Content-Type), each well under 1 KB even with a long UTF-8 file name.
MAX_PART_HEADERS = 8
MAX_PART_HEADER_BYTES = 4096
# Bytes gathered before one write to storage: fewer thread hops, bounded memory.
FLUSH_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    key: str
    extension: str
    display_name: str
    sha256: str
    size_bytes: int


@dataclass
class ReceivedForm:
    fields: dict[str, list[str]]
    file: ReceivedFile | None


def too_large(limit_bytes: int) -> ApiError:
    return ApiError(
        413,
        "file_too_large",
        f"The upload is larger than this server accepts ({limit_bytes // (1024 * 1024)} MB). "
        "Upload a shorter or compressed file (FLAC or MP3), or ask the admin to raise "
        "STEMDECK_MAX_UPLOAD_MB.",
    )


def _bad_form(message: str) -> ApiError:
    return ApiError(
        400, "invalid_form", message + " Send multipart/form-data with the audio in 'file'."
    )


def check_content_length(request: Request, max_file_bytes: int) -> None:
    """Refuse before reading a byte when the client already says the body is too big."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes + FORM_OVERHEAD_BYTES:
        raise too_large(max_file_bytes)


def multipart_boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(
            415,
            "unsupported_content_type",
            "Send the upload as multipart/form-data with the audio in a field named 'file' "
            '(for example: curl -F file=@song.mp3 …), or JSON {"url": "…"} to fetch it.',
        )
    if len(boundary) > MAX_BOUNDARY_CHARS:
        raise _bad_form(
            f"The multipart boundary is {len(boundary)} characters long; this server takes "
            f"at most {MAX_BOUNDARY_CHARS} (RFC 2046 asks for 70 or fewer). Let your HTTP "
            "client choose the boundary."
        )
    return boundary


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    headers: dict[bytes, bytes] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)


class _FormState:
    """Fed by the parser's callbacks; holds no I/O so the callbacks never block the loop."""

    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, list[str]] = {}
        self.part = _Part()
        self.parts = 0
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.file_started = False
        self.file_done = False
        self.file_name: str | None = None
        self.file_bytes = 0
        self.pending = bytearray()  # file bytes received but not yet written
        self.ended = False

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _bad_form(f"The form has more than {MAX_PARTS} fields.")
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition"))
        self.part.name = options.get(b"name", b"").decode("latin-1")
        raw_filename = options.get(b"filename")
        if raw_filename is not None:
            # Browsers send UTF-8 names raw inside the quotes.
            try:
                self.part.filename = raw_filename.decode("utf-8")
            except UnicodeDecodeError:
                self.part.filename = raw_filename.decode("latin-1")
        if self.part.name == FILE_FIELD:
            if self.file_started:
                raise _bad_form("Send one file per job.")
            self.file_started = True
            self.file_name = self.part.filename

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.name == FILE_FIELD:
            self.file_bytes += end - start
            if self.file_bytes > self.max_file_bytes:
                raise too_large(self.max_file_bytes)
            self.pending += data[start:end]
        elif self.part.name in TEXT_FIELDS:
            self.part.data += data[start:end]
            if len(self.part.data) > MAX_FIELD_BYTES:
                raise _bad_form(f"The field {self.part.name!r} is too long.")
        # Other fields are ignored: older clients send extras we have no use for.

    def on_part_end(self) -> None:
        if self.part.name == FILE_FIELD:
            self.file_done = True
        elif self.part.name in TEXT_FIELDS:
            try:
                value = self.part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad_form(f"The field {self.part.name!r} is not UTF-8 text.") from None
            self.fields.setdefault(self.part.name, []).append(value)

    def on_end(self) -> None:
        self.ended = True


class _SourceSink:
    """Sniffs the first bytes, then hashes and writes the rest through one storage writer."""

    def __init__(self, storage: Storage, job_id: str) -> None:
        self.storage = storage
        self.job_id = job_id
        self.writer: ObjectWriter | None = None
        self.key = ""
        self.extension = ""
        self.hasher = hashlib.sha256()

    async def take(self, state: _FormState) -> None:
        if self.writer is None:
            if len(state.pending) < SNIFF_BYTES and not (state.file_done and state.pending):
                return
            head = bytes(state.pending[:SNIFF_BYTES])
            if (kind := pointer_kind(head)) is not None:
                refused = PointerFileError(kind)
                raise ApiError(refusal_status(refused.code), refused.code, refused.message)
            extension = sniff_extension(head)
            if extension is None:
                raise ApiError(415, "unsupported_media", UNREADABLE)
            self.extension = extension
            self.key = keys.source(self.job_id, extension)
            self.writer = await run_in_threadpool(self.storage.writer, self.key)
        if len(state.pending) >= FLUSH_BYTES or (state.file_done and state.pending):
            data = bytes(state.pending)
            state.pending.clear()
            await run_in_threadpool(self._write, self.writer, data)

    def _write(self, writer: ObjectWriter, data: bytes) -> None:
        self.hasher.update(data)
        writer.write(data)

    async def abort(self) -> None:
        if self.writer is not None:
            # Shielded: a cancelled request must still not leave a half-written file.
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self.writer.abort)


async def receive_form(
    request: Request, storage: Storage, job_id: str, max_file_bytes: int
) -> ReceivedForm:
    """Read the multipart body, storing the ``file`` part under ``jobs/{job_id}/source.*``.

    On any error the partial file is aborted and the error re-raised; the caller
    removes whatever else it stored for the job.
    """
    check_content_length(request, max_file_bytes)
    boundary = multipart_boundary(request)
    state = _FormState(max_file_bytes)
    parser = MultipartParser(
        boundary,
        state.callbacks(),
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_BYTES,
    )
    sink = _SourceSink(storage, job_id)
    body_limit = max_file_bytes + FORM_OVERHEAD_BYTES
    received = 0
    started = time.perf_counter()
    try:
        async with aclosing(request.stream()) as chunks:
            async for chunk in chunks:
                received += len(chunk)
                if received > body_limit:
                    raise too_large(max_file_bytes)
                try:
                    parser.write(chunk)
                except MultipartParseError as error:
                    raise _bad_form(f"The form data is malformed ({error}).") from None
                if state.file_started:
                    await sink.take(state)
        parser.finalize()
        if not state.ended:
            raise _bad_form("The form data ends before its closing boundary.")
        if not state.file_started:
            return ReceivedForm(fields=state.fields, file=None)
        if state.file_bytes == 0:
            raise ApiError(
                400, "empty_file", "The file is empty. Choose an audio file with sound in it."
            )
        await sink.take(state)
        assert sink.writer is not None
        await run_in_threadpool(sink.writer.commit)
    except BaseException:
        await sink.abort()
        raise
    record_upload(state.file_bytes, time.perf_counter() - started)
    return ReceivedForm(
        fields=state.fields,
        file=ReceivedFile(
            key=sink.key,
            extension=sink.extension,
            display_name=display_name(state.file_name),
            sha256=sink.hasher.hexdigest(),
            size_bytes=state.file_bytes,
        ),
    )

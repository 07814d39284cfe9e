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
TEXT_FIELDS = frozenset({"strategy", "formats", "callback_url"})
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
    files: list[ReceivedFile]

    @property
    def file(self) -> ReceivedFile | None:
        """The first file: all a single job's form may carry."""
        return self.files[0] if self.files else None


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


def body_limit(max_file_bytes: int, max_files: int) -> int:
    """The most bytes a form may have: every file at its limit, and room for the rest."""
    return max_file_bytes * max_files + FORM_OVERHEAD_BYTES


def check_content_length(request: Request, max_file_bytes: int, max_files: int = 1) -> None:
    """Refuse before reading a byte when the client already says the body is too big."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit(max_file_bytes, max_files):
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


@dataclass
class _FilePart:
    """One ``file`` part as it arrives: bytes received but not yet written wait in
    ``pending``."""

    name: str | None
    size: int = 0
    pending: bytearray = field(default_factory=bytearray)
    done: bool = False


class _FormState:
    """Fed by the parser's callbacks; holds no I/O so the callbacks never block the loop."""

    def __init__(self, max_file_bytes: int, max_files: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        # Every file part needs its headers; past the files, room for the text fields.
        self.max_parts = max(MAX_PARTS, max_files + MAX_PARTS // 2)
        self.fields: dict[str, list[str]] = {}
        self.part = _Part()
        self.parts = 0
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.files: list[_FilePart] = []
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
        if self.parts > self.max_parts:
            raise _bad_form(f"The form has more than {self.max_parts} fields.")
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
            if len(self.files) >= self.max_files:
                raise _bad_form(
                    "Send one file per job."
                    if self.max_files == 1
                    else f"A batch takes at most {self.max_files} files "
                    "(STEMDECK_BATCH_MAX_ITEMS); send the rest in another batch."
                )
            self.files.append(_FilePart(self.part.filename))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.name == FILE_FIELD:
            current = self.files[-1]
            current.size += end - start
            if current.size > self.max_file_bytes:
                raise too_large(self.max_file_bytes)
            current.pending += data[start:end]
        elif self.part.name in TEXT_FIELDS:
            self.part.data += data[start:end]
            if len(self.part.data) > MAX_FIELD_BYTES:
                raise _bad_form(f"The field {self.part.name!r} is too long.")
        # Other fields are ignored: older clients send extras we have no use for.

    def on_part_end(self) -> None:
        if self.part.name == FILE_FIELD:
            self.files[-1].done = True
        elif self.part.name in TEXT_FIELDS:
            try:
                value = self.part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad_form(f"The field {self.part.name!r} is not UTF-8 text.") from None
            self.fields.setdefault(self.part.name, []).append(value)

    def on_end(self) -> None:
        self.ended = True


class _SourceSink:
    """Sniffs the first bytes of one file, then hashes and writes the rest through one
    storage writer, committed once the file's part has ended."""

    def __init__(self, storage: Storage, job_id: str) -> None:
        self.storage = storage
        self.job_id = job_id
        self.writer: ObjectWriter | None = None
        self.committed = False
        self.key = ""
        self.extension = ""
        self.hasher = hashlib.sha256()

    async def take(self, part: _FilePart) -> None:
        if self.committed:
            return
        if self.writer is None:
            if len(part.pending) < SNIFF_BYTES and not (part.done and part.pending):
                return
            head = bytes(part.pending[:SNIFF_BYTES])
            if (kind := pointer_kind(head)) is not None:
                refused = PointerFileError(kind)
                raise ApiError(refusal_status(refused.code), refused.code, refused.message)
            extension = sniff_extension(head)
            if extension is None:
                raise ApiError(415, "unsupported_media", UNREADABLE)
            self.extension = extension
            self.key = keys.source(self.job_id, extension)
            self.writer = await run_in_threadpool(self.storage.writer, self.key)
        if len(part.pending) >= FLUSH_BYTES or (part.done and part.pending):
            data = bytes(part.pending)
            part.pending.clear()
            await run_in_threadpool(self._write, self.writer, data)
        if part.done and not part.pending:
            await run_in_threadpool(self.writer.commit)
            self.committed = True

    def _write(self, writer: ObjectWriter, data: bytes) -> None:
        self.hasher.update(data)
        writer.write(data)

    def received(self, part: _FilePart) -> ReceivedFile:
        return ReceivedFile(
            key=self.key,
            extension=self.extension,
            display_name=display_name(part.name),
            sha256=self.hasher.hexdigest(),
            size_bytes=part.size,
        )

    async def abort(self) -> None:
        if self.writer is not None and not self.committed:
            # Shielded: a cancelled request must still not leave a half-written file.
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(self.writer.abort)


async def receive_form(
    request: Request, storage: Storage, job_ids: list[str], max_file_bytes: int
) -> ReceivedForm:
    """Read the multipart body, storing its ``file`` parts, the n-th under
    ``jobs/{job_ids[n]}/source.*``: at most one file per id, each within ``max_file_bytes``.

    On any error the partial files are aborted and the error re-raised; the caller
    removes whatever else it stored for the jobs (a file already complete included).
    """
    check_content_length(request, max_file_bytes, len(job_ids))
    boundary = multipart_boundary(request)
    state = _FormState(max_file_bytes, len(job_ids))
    parser = MultipartParser(
        boundary,
        state.callbacks(),
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_BYTES,
    )
    sinks: list[_SourceSink] = []
    limit = body_limit(max_file_bytes, len(job_ids))
    received = 0
    started = time.perf_counter()
    try:
        async with aclosing(request.stream()) as chunks:
            async for chunk in chunks:
                received += len(chunk)
                if received > limit:
                    raise too_large(max_file_bytes)
                try:
                    parser.write(chunk)
                except MultipartParseError as error:
                    raise _bad_form(f"The form data is malformed ({error}).") from None
                await _drain(state, sinks, storage, job_ids)
        parser.finalize()
        if not state.ended:
            raise _bad_form("The form data ends before its closing boundary.")
        if any(part.size == 0 for part in state.files):
            raise ApiError(
                400, "empty_file", "The file is empty. Choose an audio file with sound in it."
            )
        await _drain(state, sinks, storage, job_ids)
    except BaseException:
        for sink in sinks:
            await sink.abort()
        raise
    record_upload(sum(part.size for part in state.files), time.perf_counter() - started)
    return ReceivedForm(
        fields=state.fields,
        files=[sink.received(part) for sink, part in zip(sinks, state.files, strict=True)],
    )


async def _drain(
    state: _FormState, sinks: list[_SourceSink], storage: Storage, job_ids: list[str]
) -> None:
    """Write what the parser gathered of each file part (a chunk may end one, start the
    next); one sink, and so one job id, per file."""
    while len(sinks) < len(state.files):
        sinks.append(_SourceSink(storage, job_ids[len(sinks)]))
    for sink, part in zip(sinks, state.files, strict=True):
        await sink.take(part)

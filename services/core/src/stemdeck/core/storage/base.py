"""The interface every store implements, the key layout, and the store's errors.

Keys are relative paths (``jobs/{job_id}/stems/vocals.flac``); ``keys`` below
builds them so every process agrees on the layout.
"""

from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 1024 * 1024


class StorageError(Exception):
    """The store could not do what was asked (missing key, store down)."""


class NotFound(StorageError):
    pass


class keys:  # noqa: N801 - a namespace of key builders, read as `keys.source(...)`
    @staticmethod
    def job_prefix(job_id: str) -> str:
        return f"jobs/{job_id}/"

    @staticmethod
    def source(job_id: str, extension: str) -> str:
        return f"jobs/{job_id}/source.{extension}"

    @staticmethod
    def stem(job_id: str, stem: str, format_id: str) -> str:
        return f"jobs/{job_id}/stems/{stem}.{format_id}"

    @staticmethod
    def stems_prefix(job_id: str) -> str:
        return f"jobs/{job_id}/stems/"

    @staticmethod
    def waveforms_prefix(job_id: str) -> str:
        return f"jobs/{job_id}/waveforms/"

    @staticmethod
    def waveform(job_id: str, stem: str, kind: str) -> str:
        return f"jobs/{job_id}/waveforms/{stem}.{kind}"

    @staticmethod
    def metadata(job_id: str) -> str:
        return f"jobs/{job_id}/metadata.json"


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows of one stored object."""

    size: int
    # Changes whenever the bytes under the key are replaced: the store's own record of
    # the write (the local file's inode and mtime, S3's ETag), not the job's row, so even
    # a late write by a superseded attempt shows.
    version: str


class ObjectWriter(ABC):
    """A write in progress: nothing is visible under the key until ``commit``."""

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class Storage(ABC):
    @abstractmethod
    def writer(self, key: str) -> ObjectWriter: ...

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None: ...

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def info(self, key: str) -> ObjectInfo:
        """The object's size and version; NotFound when there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def iter_range(
        self, key: str, start: int = 0, length: int | None = None
    ) -> Iterator[bytes]: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    @abstractmethod
    def check(self) -> None:
        """Make the store ready (create its bucket or folder); StorageError if it cannot be used."""

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A local file holding the object, for tools that need a path (ffmpeg)."""
        scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"stemdeck-{uuid.uuid4().hex}"
        try:
            with scratch.open("wb") as out:
                for chunk in self.iter_range(key):
                    out.write(chunk)
            yield scratch
        finally:
            scratch.unlink(missing_ok=True)

    def read_bytes(self, key: str) -> bytes:
        return b"".join(self.iter_range(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        writer = self.writer(key)
        try:
            writer.write(data)
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    def presigned_url(
        self,
        key: str,
        *,
        media_type: str,
        disposition: str,
        cache_control: str | None = None,
        origin: str | None = None,
    ) -> str | None:
        """A URL clients may fetch directly, or None when the API must serve it.

        ``disposition`` is the Content-Disposition the fetch should answer with
        (an attachment with its file name, or ``inline`` for a player), and
        ``cache_control`` its Cache-Control, if any. ``origin`` (scheme://host[:port])
        is where the URL should point when not the store's public URL: an address the
        caller knows serves the store too.
        """
        return None

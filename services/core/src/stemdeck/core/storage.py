"""Where job files live: a small interface, and the local-filesystem store.

Keys are relative paths (``jobs/{job_id}/stems/vocals.flac``); ``keys`` below
builds them so every process agrees on the layout.
"""

from __future__ import annotations

import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from stemdeck.core.settings import Settings, StorageKind

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
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def iter_range(
        self, key: str, start: int = 0, length: int | None = None
    ) -> Iterator[bytes]: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None: ...

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError if the store cannot be used right now."""

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

    def presigned_url(self, key: str, *, download_name: str | None = None) -> str | None:
        """A URL clients may fetch directly, or None when the API must serve it."""
        return None


class _LocalWriter(ObjectWriter):
    def __init__(self, final: Path, staging: Path) -> None:
        self._final = final
        self._staging = staging
        staging.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = staging.open("wb")

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.close()
        self._final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._staging, self._final)

    def abort(self) -> None:
        self._file.close()
        self._staging.unlink(missing_ok=True)


class LocalStorage(Storage):
    """Files under one root; writes land in ``.staging`` and are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._staging = self.root / ".staging"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root or key.startswith("."):
            raise StorageError(f"refusing key outside the store: {key!r}")
        return path

    def writer(self, key: str) -> ObjectWriter:
        return _LocalWriter(self._path(key), self._staging / uuid.uuid4().hex)

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = self._staging / uuid.uuid4().hex
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, staging)
        os.replace(staging, target)

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFound(key) from None
        return self._read(handle, start, length)

    @staticmethod
    def _read(handle: BinaryIO, start: int, length: int | None) -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                chunk = handle.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(key)
        yield path

    def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)

    def check(self) -> None:
        try:
            self._staging.mkdir(parents=True, exist_ok=True)
            probe = self._staging / f"ready-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as error:
            raise StorageError(f"local storage at {self.root} is not writable: {error}") from error


def make_storage(settings: Settings) -> Storage:
    if settings.storage is StorageKind.local:
        return LocalStorage(settings.storage_root)
    raise StorageError(f"unsupported storage {settings.storage}")  # pragma: no cover

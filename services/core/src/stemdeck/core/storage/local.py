"""The local-filesystem store: files under one root, for the all-in-one run."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from stemdeck.core.storage.base import (
    CHUNK_SIZE,
    NotFound,
    ObjectInfo,
    ObjectWriter,
    Storage,
    StorageError,
)


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

    def info(self, key: str) -> ObjectInfo:
        try:
            found = self._path(key).stat()
        except FileNotFoundError:
            raise NotFound(key) from None
        # Every write renames a new file into place, made while the old one still holds
        # its inode: a rewrite always changes the version, even within one mtime tick.
        return ObjectInfo(found.st_size, f"{found.st_ino}-{found.st_mtime_ns}")

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

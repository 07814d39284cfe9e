"""Where job files live: one interface, a local-filesystem store and an S3-compatible one."""

from __future__ import annotations

import logging

from stemdeck.core.settings import Settings, StorageKind
from stemdeck.core.storage.base import (
    CHUNK_SIZE,
    NotFound,
    ObjectInfo,
    ObjectWriter,
    Storage,
    StorageError,
    keys,
)
from stemdeck.core.storage.local import LocalStorage

__all__ = [
    "CHUNK_SIZE",
    "LocalStorage",
    "NotFound",
    "ObjectInfo",
    "ObjectWriter",
    "Storage",
    "StorageError",
    "keys",
    "make_storage",
    "prepared_storage",
]

log = logging.getLogger(__name__)


def make_storage(settings: Settings) -> Storage:
    """The configured store; connects to nothing yet (``check`` does)."""
    if settings.storage is StorageKind.s3:
        from stemdeck.core.storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    return LocalStorage(settings.storage_root)


def prepared_storage(settings: Settings) -> Storage:
    """The store with its bucket made if missing. A store that is down is only logged:
    /ready reports it (and makes the bucket once the store answers), jobs fail saying so."""
    storage = make_storage(settings)
    try:
        storage.check()
    except StorageError as error:
        log.warning("storage is not ready yet: %s", error)
    return storage

"""An S3-compatible store (MinIO, Cloudflare R2, AWS S3) through the ``minio`` client.

Writes stream: a writer sends each full part as a multipart-upload part, so
an upload never sits whole in memory, and nothing is visible under the key
until ``commit`` completes the upload. Clients fetch stems by presigned GET
URLs, signed for ``STEMDECK_S3_PUBLIC_URL`` when browsers reach the store at
another address than the workers do, or for an origin the API vouches for (the
address a request came to, api/link_origin.py), with one presigner kept per origin.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from stemdeck.core.settings import Settings
from stemdeck.core.storage.base import (
    CHUNK_SIZE,
    NotFound,
    ObjectInfo,
    ObjectWriter,
    Storage,
    StorageError,
)

log = logging.getLogger(__name__)

# S3 wants every part but the last to be at least 5 MiB; 8 MiB keeps requests few.
PART_SIZE = 8 * 1024 * 1024
_MISSING_KEY_CODES = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}
_BUCKET_MADE_CODES = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}
# Presigners kept for origins other than the public URL (each address the web port is
# opened at: a LAN IP, a host name): a few per deployment, bounded all the same.
MAX_ORIGIN_PRESIGNERS = 16
T = TypeVar("T")


def _client(url: str, settings: Settings, http: urllib3.PoolManager | None) -> Minio:
    parts = urlsplit(url)
    return Minio(
        parts.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=parts.scheme == "https",
        # A region set here means presigning never asks the store for it.
        region=settings.s3_region,
        http_client=http,
    )


def _http_pool() -> urllib3.PoolManager:
    # minio's own pool waits minutes on a store that is down; /ready must answer in seconds.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=3, read=60),
        retries=urllib3.Retry(
            total=2,
            backoff_factor=0.2,
            status_forcelist=[500, 502, 503, 504],
            # The last answer goes to minio, which reads the store's error code from it
            # (SlowDown, InternalError) rather than a bare "too many retries".
            raise_on_status=False,
            redirect=False,
        ),
        maxsize=16,
    )


class S3Storage(Storage):
    def __init__(
        self,
        client: Minio,
        bucket: str,
        *,
        endpoint: str,
        presigner: Minio | None = None,
        presign_ttl_s: int = 900,
        make_presigner: Callable[[str], Minio] | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.endpoint = endpoint
        self.presigner = presigner or client
        self.presign_ttl = timedelta(seconds=presign_ttl_s)
        self._make_presigner = make_presigner
        self._origin_presigners: OrderedDict[str, Minio] = OrderedDict()
        self._presigners_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        client = _client(settings.s3_endpoint, settings, _http_pool())
        presigner = (
            _client(settings.s3_public_url, settings, None) if settings.s3_public_url else None
        )
        return cls(
            client,
            settings.s3_bucket,
            endpoint=settings.s3_endpoint,
            presigner=presigner,
            presign_ttl_s=settings.link_ttl_s,
            make_presigner=lambda origin: _client(origin, settings, None),
        )

    def presigner_for(self, origin: str | None) -> Minio:
        """The client that signs for ``origin`` (scheme://host[:port]), made once per origin
        and kept for the most recent few; None: the public URL's. The caller vouches for
        ``origin``: it must be an address the store is served at, never a raw Host header."""
        if origin is None or self._make_presigner is None:
            return self.presigner
        with self._presigners_lock:
            presigner = self._origin_presigners.get(origin)
            if presigner is None:
                presigner = self._origin_presigners[origin] = self._make_presigner(origin)
                if len(self._origin_presigners) > MAX_ORIGIN_PRESIGNERS:
                    self._origin_presigners.popitem(last=False)
            self._origin_presigners.move_to_end(origin)
            return presigner

    def _call(self, key: str, action: Callable[[], T]) -> T:
        """Run one client call, turning the client's errors into the store's own."""
        try:
            return action()
        except S3Error as error:
            if error.code in _MISSING_KEY_CODES:
                raise NotFound(key) from None
            raise StorageError(self._describe(error)) from error
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as error:
            raise StorageError(self._describe(error)) from error

    def _describe(self, error: Exception) -> str:
        if isinstance(error, S3Error):
            what = f"{error.code}: {error.message}"
        else:
            what = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        return f"the S3 store at {self.endpoint} (bucket {self.bucket!r}) failed: {what}"

    def writer(self, key: str) -> ObjectWriter:
        return _S3Writer(self, key)

    def put_file(self, key: str, path: Path) -> None:
        self._call(key, lambda: self.client.fput_object(self.bucket, key, str(path)))

    def size(self, key: str) -> int:
        stat = self._call(key, lambda: self.client.stat_object(self.bucket, key))
        return int(stat.size or 0)

    def info(self, key: str) -> ObjectInfo:
        stat = self._call(key, lambda: self.client.stat_object(self.bucket, key))
        # The store's ETag changes with the bytes; its write time stands in if it has none.
        version = stat.etag or (stat.last_modified.isoformat() if stat.last_modified else "")
        return ObjectInfo(int(stat.size or 0), version)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFound:
            return False
        return True

    def iter_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        if length == 0:
            return iter(())
        # Opened now, so a missing key raises here rather than once streaming began.
        response = self._call(
            key, lambda: self.client.get_object(self.bucket, key, offset=start, length=length or 0)
        )
        return self._stream(key, response)

    def _stream(self, key: str, response: Any) -> Iterator[bytes]:
        chunks = response.stream(CHUNK_SIZE)
        try:
            while (chunk := self._call(key, lambda: next(chunks, None))) is not None:
                yield chunk
        finally:
            response.close()
            response.release_conn()

    def delete_prefix(self, prefix: str) -> None:
        def remove() -> None:
            found = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            doomed = [DeleteObject(item.object_name) for item in found if item.object_name]
            for failure in self.client.remove_objects(self.bucket, doomed):
                raise StorageError(f"could not delete {failure.name}: {failure.message}")

        self._call(prefix, remove)

    def check(self) -> None:
        def ensure_bucket() -> None:
            if self.client.bucket_exists(self.bucket):
                return
            log.info("creating bucket %s on %s", self.bucket, self.endpoint)
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as error:
                # The API and every worker check at start-up, so another may have made the
                # bucket since we looked: that is success, not a store that is not ready.
                if error.code not in _BUCKET_MADE_CODES:
                    raise
                self._made_meanwhile(error)

        self._call(self.bucket, ensure_bucket)

    def _made_meanwhile(self, error: S3Error) -> None:
        # "Already owned by you" is our own account's bucket. "Already exists" is too on
        # MinIO and others, but on AWS it is another account's name: ours only if it
        # answers to our keys.
        if error.code == "BucketAlreadyExists" and not self._answers_to_us():
            raise StorageError(
                f"the S3 store at {self.endpoint} says bucket {self.bucket!r} exists but it "
                "does not answer to these keys: another account owns that name; choose "
                "another STEMDECK_S3_BUCKET"
            ) from error
        log.info("bucket %s was made meanwhile by another process", self.bucket)

    def _answers_to_us(self) -> bool:
        try:
            return self.client.bucket_exists(self.bucket)
        except S3Error:
            return False

    def presigned_url(
        self,
        key: str,
        *,
        media_type: str,
        disposition: str,
        cache_control: str | None = None,
        origin: str | None = None,
    ) -> str | None:
        # Signed response-* overrides: the store answers with these headers, whatever the
        # object was stored with (deploy/nginx passes exactly these parameters).
        overrides: dict[str, str | list[str] | tuple[str]] = {
            "response-content-type": media_type,
            "response-content-disposition": disposition,
        }
        if cache_control:
            overrides["response-cache-control"] = cache_control
        presigner = self.presigner_for(origin)
        return self._call(
            key,
            lambda: presigner.presigned_get_object(
                self.bucket, key, expires=self.presign_ttl, response_headers=overrides
            ),
        )


class _S3Writer(ObjectWriter):
    """Buffers one part at a time; the multipart upload starts once a part is full."""

    def __init__(self, store: S3Storage, key: str) -> None:
        self._store = store
        self._key = key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Part] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= PART_SIZE:
            part = bytes(self._buffer[:PART_SIZE])
            del self._buffer[:PART_SIZE]
            self._send_part(part)

    def _send_part(self, data: bytes) -> None:
        store, key = self._store, self._key
        # minio's multipart calls are not public API; the exact minio pin keeps them stable.
        if self._upload_id is None:
            self._upload_id = store._call(
                key, lambda: store.client._create_multipart_upload(store.bucket, key, {})
            )
        upload_id, number = self._upload_id, len(self._parts) + 1
        etag = store._call(
            key,
            lambda: store.client._upload_part(store.bucket, key, data, None, upload_id, number),
        )
        self._parts.append(Part(number, etag))

    def commit(self) -> None:
        store, key = self._store, self._key
        if self._upload_id is None:
            data = bytes(self._buffer)
            self._buffer.clear()
            store._call(
                key, lambda: store.client.put_object(store.bucket, key, io.BytesIO(data), len(data))
            )
            return
        if self._buffer:
            self._send_part(bytes(self._buffer))
            self._buffer.clear()
        upload_id, parts = self._upload_id, self._parts
        store._call(
            key,
            lambda: store.client._complete_multipart_upload(store.bucket, key, upload_id, parts),
        )
        self._upload_id = None

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is None:
            return
        store, key, upload_id = self._store, self._key, self._upload_id
        self._upload_id = None
        try:
            store._call(
                key,
                lambda: store.client._abort_multipart_upload(store.bucket, key, upload_id),
            )
        except StorageError as error:
            # An unfinished upload is never visible under the key; a bucket lifecycle
            # rule for incomplete multipart uploads reclaims its parts.
            log.warning("could not abort the upload of %s: %s", key, error)

"""One storage suite, run against the local store and a real S3-compatible server.

GIVEN a store of either kind, WHEN it is written, read in ranges, presigned and
emptied, THEN both behave alike; the S3 one also hands out presigned URLs that a
plain HTTP client can fetch, and says clearly when the server is down.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from stemdeck.core.settings import Settings
from stemdeck.core.storage import LocalStorage, NotFound, Storage, StorageError, keys, make_storage
from stemdeck.core.storage.s3 import PART_SIZE, S3Storage
from tests.conftest import s3_values
from tests.integration.stack import free_port
from tests.s3server import S3RVER_KEY, running_s3rver


def s3_store(endpoint: str, **overrides: object) -> S3Storage:
    values = s3_values(endpoint) | overrides
    store = make_storage(Settings(_env_file=None, **values))  # type: ignore[call-arg]
    assert isinstance(store, S3Storage)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        made: Storage = LocalStorage(tmp_path / "store")
    else:
        made = s3_store(request.getfixturevalue("s3_endpoint"))
    made.check()
    yield made


def listed(store: Storage, prefix: str = "jobs/") -> list[str]:
    if isinstance(store, LocalStorage):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    return sorted(
        str(item.object_name)
        for item in store.client.list_objects(store.bucket, prefix=prefix, recursive=True)
    )


def test_a_write_is_invisible_until_committed(store: Storage) -> None:
    key = keys.source("j1", "wav")
    writer = store.writer(key)
    writer.write(b"abc")
    assert not store.exists(key)
    writer.write(b"def")
    writer.commit()
    assert store.read_bytes(key) == b"abcdef"
    assert store.size(key) == 6


def test_a_write_of_several_parts_streams_and_reads_back_whole(store: Storage) -> None:
    data = bytes(range(256)) * ((2 * PART_SIZE + 12_345) // 256)
    key = keys.source("big", "wav")
    writer = store.writer(key)
    for start in range(0, len(data), 1024 * 1024):
        writer.write(data[start : start + 1024 * 1024])
    assert not store.exists(key)
    writer.commit()
    assert store.size(key) == len(data)
    assert store.read_bytes(key) == data


def test_an_aborted_write_leaves_nothing(store: Storage) -> None:
    writer = store.writer(keys.source("j1", "wav"))
    writer.write(b"partial" * (PART_SIZE // 7 + 1))  # more than a part: an upload has begun
    writer.abort()
    assert not store.exists(keys.source("j1", "wav"))
    assert listed(store) == []
    if isinstance(store, S3Storage):
        uploads = store.client._list_multipart_uploads(store.bucket)
        assert list(uploads.uploads) == []


def test_ranges_return_exactly_the_bytes_asked_for(store: Storage) -> None:
    data = bytes(range(256)) * 20_000  # spans several read chunks
    store.put_bytes("jobs/j/x.bin", data)
    assert b"".join(store.iter_range("jobs/j/x.bin", 10, 5)) == data[10:15]
    assert b"".join(store.iter_range("jobs/j/x.bin", len(data) - 3)) == data[-3:]
    assert (
        b"".join(store.iter_range("jobs/j/x.bin", 1_000_000, 3_000_000))
        == data[1_000_000:4_000_000]
    )
    assert b"".join(store.iter_range("jobs/j/x.bin", 0, 0)) == b""


def test_files_go_in_and_come_out_as_local_paths(store: Storage, tmp_path: Path) -> None:
    source = tmp_path / "song.wav"
    source.write_bytes(b"RIFF" + bytes(5000))
    store.put_file(keys.source("j2", "wav"), source)
    with store.local_path(keys.source("j2", "wav")) as path:
        assert path.read_bytes() == source.read_bytes()


def test_an_objects_version_holds_until_its_bytes_are_replaced(
    store: Storage, tmp_path: Path
) -> None:
    """What a stem's ETag is made of: the same while the object stays, another once the
    key is written again (by either kind of write), even with as many bytes."""
    key = keys.stem("j4", "vocals", "flac")
    store.put_bytes(key, b"first")
    first = store.info(key)
    assert first.size == 5 and first.version
    assert store.info(key) == first

    store.put_bytes(key, b"other")
    second = store.info(key)
    replacement = tmp_path / "third"
    replacement.write_bytes(b"third")
    store.put_file(key, replacement)

    assert second.size == 5 and store.info(key).size == 5
    assert len({first.version, second.version, store.info(key).version}) == 3


def test_missing_keys_are_not_found(store: Storage) -> None:
    assert not store.exists("jobs/nope")
    with pytest.raises(NotFound):
        store.size("jobs/nope")
    with pytest.raises(NotFound):
        store.info("jobs/nope")
    with pytest.raises(NotFound):
        store.iter_range("jobs/nope")
    with pytest.raises(NotFound), store.local_path("jobs/nope"):
        pass


def test_delete_prefix_removes_a_job_and_nothing_else(store: Storage) -> None:
    store.put_bytes(keys.stem("a", "vocals", "flac"), b"1")
    store.put_bytes(keys.metadata("a"), b"{}")
    store.put_bytes(keys.stem("ab", "vocals", "flac"), b"2")  # shares the id's first letter
    store.delete_prefix(keys.job_prefix("a"))
    assert not store.exists(keys.metadata("a"))
    assert not store.exists(keys.stem("a", "vocals", "flac"))
    assert store.exists(keys.stem("ab", "vocals", "flac"))
    store.delete_prefix(keys.job_prefix("never-stored"))


def test_presigned_urls_fetch_the_object_with_the_asked_headers(store: Storage) -> None:
    data = bytes(range(256)) * 100
    key = keys.stem("j3", "vocals", "flac")
    store.put_bytes(key, data)
    url = store.presigned_url(
        key,
        media_type="audio/flac",
        disposition='attachment; filename="vocals.flac"',
        cache_control="private, max-age=60",
    )
    if isinstance(store, LocalStorage):
        assert url is None  # the API serves local files itself
        return
    assert url is not None
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "audio/flac"
    assert whole.headers["content-disposition"] == 'attachment; filename="vocals.flac"'
    assert whole.headers["cache-control"] == "private, max-age=60"
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]


def test_presigned_urls_carry_the_configured_ttl(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, link_ttl_s=90)
    store.check()
    store.put_bytes("jobs/j/x", b"x")
    url = store.presigned_url("jobs/j/x", media_type="audio/flac", disposition="inline")
    assert url is not None
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["90"]
    assert query["response-content-disposition"] == ["inline"]
    assert "X-Amz-Signature" in query


def test_a_presigned_url_that_expired_is_refused(tmp_path: Path) -> None:
    """GIVEN a URL the store's presigner signed two minutes ago for one minute, and one
    signed now, WHEN both are fetched THEN the store serves the fresh one and refuses the
    stale one (s3rver: moto does not enforce expiry). Signing in the past needs no sleep;
    that Stemdeck's URLs carry the configured lifetime is the test above."""
    with running_s3rver(tmp_path) as endpoint:
        base = s3_store(endpoint, s3_access_key=S3RVER_KEY, s3_secret_key=S3RVER_KEY)
        store = S3Storage(base.client, base.bucket, endpoint=endpoint, presign_ttl_s=60)
        store.check()
        store.put_bytes("jobs/j/x.flac", b"fLaC-data")
        url = store.presigned_url("jobs/j/x.flac", media_type="audio/flac", disposition="inline")
        assert url is not None
        expired = store.presigner.presigned_get_object(
            store.bucket,
            "jobs/j/x.flac",
            expires=timedelta(minutes=1),
            request_date=datetime.now(UTC) - timedelta(minutes=2),
        )
        fresh = httpx.get(url)
        stale = httpx.get(expired)

    assert fresh.status_code == 200 and fresh.content == b"fLaC-data"
    assert stale.status_code == 403
    assert "Request has expired" in stale.text


def test_presigned_urls_are_signed_for_the_public_url(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, s3_public_url="https://stems.example.org")
    store.check()
    store.put_bytes("jobs/j/x", b"x")
    url = store.presigned_url("jobs/j/x", media_type="audio/flac", disposition="inline")
    assert url is not None
    assert url.startswith(f"https://stems.example.org/{store.bucket}/jobs/j/x?")


def test_a_missing_bucket_is_created_by_check(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint)
    assert not store.client.bucket_exists(store.bucket)
    with pytest.raises(StorageError, match="NoSuchBucket"):
        store.put_bytes("jobs/j/x", b"x")
    store.check()
    assert store.client.bucket_exists(store.bucket)
    store.put_bytes("jobs/j/x", b"x")
    store.check()  # and again, once it exists
    assert store.read_bytes("jobs/j/x") == b"x"


def test_a_bucket_made_by_another_process_meanwhile_is_no_error(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN two processes starting at once (the API and a worker) WHEN the other makes the
    bucket between this one's look and its make THEN this check passes: the store answers
    BucketAlreadyOwnedByYou (moto does outside us-east-1, MinIO everywhere), which is not a
    store that is not ready."""
    bucket = s3_values(s3_endpoint)["s3_bucket"]
    ours = s3_store(s3_endpoint, s3_bucket=bucket, s3_region="eu-west-1")
    other = s3_store(s3_endpoint, s3_bucket=bucket, s3_region="eu-west-1")
    look = ours.client.bucket_exists
    looks: list[bool] = []

    def look_then_lose_the_race(name: str) -> bool:
        answer = look(name)
        if not looks:  # only the first look is overtaken
            other.check()
        looks.append(answer)
        return answer

    monkeypatch.setattr(ours.client, "bucket_exists", look_then_lose_the_race)
    with caplog.at_level("INFO", logger="stemdeck.core.storage.s3"):
        ours.check()

    assert looks == [False]  # it did look first and see no bucket
    assert "made meanwhile by another process" in caplog.text
    ours.put_bytes("jobs/j/x", b"x")
    assert other.read_bytes("jobs/j/x") == b"x"


def test_a_store_that_is_down_raises_a_storage_error_naming_it() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = s3_store(endpoint)
    with pytest.raises(StorageError, match=f"S3 store at {endpoint}"):
        store.check()
    with pytest.raises(StorageError, match="S3 store at"):
        store.put_bytes("jobs/j/x", b"x")
    with pytest.raises(StorageError, match="S3 store at"):
        store.size("jobs/j/x")

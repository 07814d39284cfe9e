"""Job event streams share one Redis subscription per API process, and are capped.

GIVEN a real `stemdeck api` process on Postgres and Redis, WHEN many clients follow
jobs' event streams, THEN the process holds one subscription (one Redis connection)
for all of them, a change written through the real job lifecycle reaches every
stream, the subscription comes back when its connection is killed, and past the
caps a new stream gets 429 until another one closes.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus, Stage
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD, queued_job
from tests.integration.redis_clients import clients_of, subscribers_of
from tests.integration.stack import Stack, running_stack
from tests.integration.test_auth_api import PASSWORD, token_for
from tests.integration.test_job_events import excerpt, read_events

STREAMS = 120
# Longer than any wait below: an event that arrives came with a notice, not a resync.
NO_KEEPALIVE = {"STEMDECK_EVENTS_KEEPALIVE_S": "300"}
ADA = "ada@example.com"

Event = tuple[str, Any]


async def events_of(response: httpx.Response) -> AsyncIterator[Event]:
    """An SSE body as (event, data) pairs; comments are skipped."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield name, json.loads("\n".join(data))
            name, data = "message", []


async def until_job(stream: AsyncIterator[Event], wanted: Callable[[dict[str, Any]], bool]) -> None:
    async for name, data in stream:
        assert name == "job", (name, data)
        if wanted(data):
            return
    raise AssertionError("the stream ended first")


async def all_see(streams: list[AsyncIterator[Event]], wanted: Callable[[Any], bool]) -> None:
    async with asyncio.timeout(60):
        await asyncio.gather(*(until_job(stream, wanted) for stream in streams))


def clip(tmp_path: Path, mixture: Path) -> Path:
    path = tmp_path / "clip.wav"
    path.write_bytes(excerpt(mixture, 2.0))
    return path


def test_many_streams_share_one_subscription_and_all_get_each_change(
    settings: Settings, mixture: Path, redis_conn: Redis, tmp_path: Path
) -> None:
    """GIVEN STREAMS streams of two queued jobs on one API process WHEN the job
    lifecycle claims one job and writes its progress THEN every stream of that job gets
    each change, and the process holds at most two Redis connections more than before
    (its one pattern subscription, and the pool its reads may use), however many
    streams are open."""
    jobs = [queued_job(settings, clip(tmp_path, mixture)) for _ in range(2)]
    lifecycle = JobLifecycle(
        settings.effective_database_url, lifecycle_listeners(redis_conn, settings)
    )

    async def scenario(stack: Stack) -> None:
        before = clients_of(redis_conn, stack.api.pid)
        limits = httpx.Limits(max_connections=STREAMS + 1)
        async with (
            httpx.AsyncClient(base_url=stack.base_url, timeout=60, limits=limits) as client,
            AsyncExitStack() as opened,
        ):
            streams = []
            for index in range(STREAMS):
                path = f"/api/jobs/{jobs[index % 2]}/events"
                response = await opened.enter_async_context(client.stream("GET", path))
                assert response.status_code == 200
                streams.append(events_of(response))
            await all_see(streams, lambda job: job["status"] == "queued")

            after = clients_of(redis_conn, stack.api.pid)
            assert len(after) <= len(before) + 2, (before, after)
            [hub] = subscribers_of(redis_conn, stack.api.pid)
            assert (int(hub["psub"]), int(hub["sub"])) == (1, 0), hub

            followers = streams[0::2]  # those of jobs[0]
            attempt = lifecycle.claim(jobs[0], JobStatus.running)
            assert attempt is not None
            await all_see(followers, lambda job: job["status"] == "running")
            assert lifecycle.progress(attempt, Stage.separating, "builtin:hpss", 0.5)
            await all_see(followers, lambda job: job["progress"] == 0.5)
            assert len(clients_of(redis_conn, stack.api.pid)) <= len(before) + 2

    # Under STEMDECK_AUTH=none every stream is the one local user's.
    per_client = {"STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT": str(STREAMS)}
    with running_stack(settings, workers=0, **NO_KEEPALIVE, **per_client) as stack:
        asyncio.run(scenario(stack))


def test_the_subscription_comes_back_when_its_connection_is_killed(
    settings: Settings, mixture: Path, redis_conn: Redis, tmp_path: Path
) -> None:
    """GIVEN a stream following a queued job WHEN its process's subscription connection
    is killed (CLIENT KILL, as a Redis restart would drop it) THEN the process subscribes
    again on a new connection, and a change written after that reaches the stream."""
    job_id = queued_job(settings, clip(tmp_path, mixture))
    lifecycle = JobLifecycle(
        settings.effective_database_url, lifecycle_listeners(redis_conn, settings)
    )
    with (
        running_stack(settings, workers=0, **NO_KEEPALIVE) as stack,
        httpx.Client(base_url=stack.base_url, timeout=60) as client,
        client.stream("GET", f"/api/jobs/{job_id}/events") as response,
    ):
        stream = read_events(response)
        assert next(stream)[1]["status"] == "queued"
        [hub] = subscribers_of(redis_conn, stack.api.pid)
        assert redis_conn.client_kill_filter(_id=hub["id"]) == 1

        def subscribed_again() -> bool:
            now = subscribers_of(redis_conn, stack.api.pid)
            return any(client["id"] != hub["id"] and int(client["psub"]) for client in now)

        stack.wait_until(subscribed_again, "a new subscription", timeout_s=30)
        assert lifecycle.claim(job_id, JobStatus.running) is not None
        name, job = next(event for event in stream if event[0] != ":")
        assert (name, job["status"]) == ("job", "running")


def test_streams_past_the_caps_get_429_until_one_closes(
    accounts: Callable[..., Settings], mixture: Path
) -> None:
    """GIVEN at most 3 streams per process and 2 per user WHEN Ada opens 3 and the
    admin 2 THEN Ada's third and the admin's second (the fourth in all) get 429 with
    Retry-After and an error naming the setting; once one of Ada's closes, she may open
    one again."""
    settings = accounts(users={ADA: PASSWORD})
    ada = {"Authorization": f"Bearer {token_for(settings, ADA, 'jobs:read', 'jobs:write')}"}
    admin = {"Authorization": f"Bearer {token_for(settings, ADMIN_EMAIL, 'admin', 'jobs:read')}"}
    with (
        running_stack(
            settings,
            workers=0,
            STEMDECK_AUTH="accounts",
            STEMDECK_ADMIN_EMAIL=ADMIN_EMAIL,
            STEMDECK_ADMIN_PASSWORD=ADMIN_PASSWORD,
            STEMDECK_EVENTS_MAX_STREAMS="3",
            STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT="2",
        ) as stack,
        stack.client() as client,
        ExitStack() as opened,
    ):
        created = client.post(
            "/api/jobs",
            files={"file": ("clip.wav", excerpt(mixture, 2.0), "audio/wav")},
            data={"strategy": "four-stems-dsp"},
            headers=ada,
        )
        assert created.status_code == 202, created.text
        url = f"/api/jobs/{created.json()['id']}/events"

        def open_stream(headers: dict[str, str]) -> httpx.Response:
            return opened.enter_context(client.stream("GET", url, headers=headers))

        adas = [open_stream(ada), open_stream(ada)]
        assert [response.status_code for response in adas] == [200, 200]
        refused = open_stream(ada)
        error = over_cap(refused, "events_streams_per_client")
        assert "STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT" in error["message"]
        assert open_stream(admin).status_code == 200
        error = over_cap(open_stream(admin), "events_streams")
        assert "STEMDECK_EVENTS_MAX_STREAMS" in error["message"]

        adas[0].close()

        def reopened() -> bool:
            response = open_stream(ada)
            if response.status_code == 429:
                response.close()
                return False
            return response.status_code == 200

        stack.wait_until(reopened, "a free slot after Ada closed a stream", timeout_s=30)


def over_cap(response: httpx.Response, limit: str) -> dict[str, Any]:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    response.read()
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "too_many_streams"
    assert (error["limit"], error["used"], error["allowed"]) in {
        ("events_streams_per_client", 2, 2),
        ("events_streams", 3, 3),
    }
    assert error["limit"] == limit
    return error


def test_clients_that_hang_up_at_once_keep_no_slot(
    settings: Settings, mixture: Path, tmp_path: Path
) -> None:
    """GIVEN one stream per user WHEN clients ask for a stream and hang up at once, some
    before its first byte THEN none of them keeps the slot: a stream opens after."""
    job_id = queued_job(settings, clip(tmp_path, mixture))
    one = {"STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT": "1"}
    with running_stack(settings, workers=0, **one) as stack:
        host, port = stack.base_url.removeprefix("http://").split(":")
        request = f"GET /api/jobs/{job_id}/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        for _ in range(20):
            with socket.create_connection((host, int(port))) as hung_up:
                hung_up.sendall(request)

        def opens() -> bool:
            with stack.client() as client, client.stream("GET", f"/api/jobs/{job_id}/events") as r:
                return r.status_code == 200

        stack.wait_until(opens, "a stream after clients hung up", timeout_s=30)

"""Authentication's cost (`make bench`): GET /api/jobs/{id} against real `stemdeck api`
processes with STEMDECK_AUTH=none, and with accounts by a session cookie and by a bearer
token, side by side in one run. Target: each accounts figure at least 0.9 of none's.

Three API processes, each as `make run` starts one (uvicorn, one process), on one
Postgres and Redis, answering for the same job: auth none; accounts; and accounts with
STEMDECK_AUTH_CACHE_SECONDS=0, which shows what a lookup on every request would cost.
The load is the same for every way of asking: a few keep-alive HTTP/1.1 connections on
asyncio, far cheaper per request than the server, so the server's time is what is
measured (wrk is not in the Debian base this runs on, and an httpx client would cost
about what the server does). Rounds interleave the ways, so other work on the machine
slows each alike: a ratio is the median over rounds of a way's rate against none's in
the same round.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from redis import Redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import record, table  # noqa: E402
from stemdeck.api.auth.principal import SESSION_COOKIE  # noqa: E402
from stemdeck.core import migrate  # noqa: E402
from stemdeck.core.accounts.api_tokens import issue_api_token  # noqa: E402
from stemdeck.core.accounts.first_admin import ensure_first_admin  # noqa: E402
from stemdeck.core.accounts.users import add_user  # noqa: E402
from stemdeck.core.db import session_scope  # noqa: E402
from stemdeck.core.models import Job, Stem, new_job_id  # noqa: E402
from stemdeck.core.settings import Settings  # noqa: E402
from stemdeck.core.states import JobStatus, Stage  # noqa: E402
from stemdeck.core.storage import keys  # noqa: E402
from tests.conftest import recreate_postgres_database  # noqa: E402
from tests.integration.stack import Stack, running_stack  # noqa: E402

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stemdeck_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "the bench admin's password"
EMAIL, PASSWORD = "bench@example.com", "the bench user's password"
CONNECTIONS = 4
ROUNDS = 30
ROUND_S = 1.0
TARGET = 0.9


@dataclass(frozen=True)
class Way:
    """One way of asking: which API process, with which credentials."""

    name: str
    port: int
    headers: dict[str, str]


@dataclass
class Round:
    requests: int
    seconds: float
    latencies: list[float]


async def _connection(way: Way, path: str, deadline: float, latencies: list[float]) -> None:
    extra = "".join(f"{name}: {value}\r\n" for name, value in way.headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{way.port}\r\n{extra}\r\n".encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", way.port)
    try:
        while (started := time.perf_counter()) < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if not head.startswith(b"HTTP/1.1 200") or length is None:
                raise RuntimeError(f"{way.name}: {head.decode(errors='replace')}")
            await reader.readexactly(int(length.group(1)))
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _load(way: Way, path: str, seconds: float) -> Round:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_connection(way, path, deadline, latencies) for _ in range(CONNECTIONS)))
    return Round(len(latencies), time.perf_counter() - started, latencies)


def load(way: Way, path: str, seconds: float) -> Round:
    return asyncio.run(_load(way, path, seconds))


def settings_for(data_dir: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, database_url=DATABASE_URL, redis_url=REDIS_URL
    )


def prepare() -> tuple[str, str]:
    """A fresh database with the first admin, a user, their completed job of four stems,
    and a jobs:read token of theirs: (the job's id, the token)."""
    recreate_postgres_database(DATABASE_URL)
    migrate.upgrade(DATABASE_URL)
    Redis.from_url(REDIS_URL).flushdb()
    ensure_first_admin(DATABASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD)
    job_id, now = new_job_id(), datetime.now(UTC)
    with session_scope(DATABASE_URL) as session:
        user = add_user(session, EMAIL, PASSWORD)
        job = Job(
            id=job_id,
            owner_id=user.id,
            status=JobStatus.completed,
            stage=Stage.done,
            progress=1.0,
            notes=[],
            strategy="four-stems-dsp",
            formats=["flac", "mp3"],
            attempts=1,
            source_name="Song.wav",
            source_key=keys.source(job_id, "wav"),
            source_sha256="0" * 64,
            source_size_bytes=1234,
            source_format="wav",
            source_duration_s=180.0,
            source_sample_rate=44100,
            source_channels=2,
            created_at=now,
            started_at=now,
            finished_at=now,
        )
        for position, name in enumerate(("vocals", "drums", "bass", "other")):
            stem_keys = {fmt: keys.stem(job_id, name, fmt) for fmt in job.formats}
            job.stems.append(
                Stem(
                    name=name,
                    position=position,
                    duration_s=180.0,
                    formats=list(job.formats),
                    keys=stem_keys,
                    sizes={fmt: 1000 for fmt in job.formats},
                    waveform_key=keys.waveform(job_id, name, "json"),
                    waveform_png_key=keys.waveform(job_id, name, "png"),
                )
            )
        session.add(job)
        token = issue_api_token(session, user, ["jobs:read"], "bench")
    return job_id, token


def port_of(stack: Stack) -> int:
    return int(stack.base_url.rsplit(":", 1)[1])


def signed_in_cookie(stack: Stack) -> str:
    """A real sign-in, as the web app does it: the cookie the API sets."""
    with stack.client() as client:
        response = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        response.raise_for_status()
        return response.cookies[SESSION_COOKIE]


def measure(ways: list[Way], path: str) -> dict[str, list[Round]]:
    for way in ways:  # each answers, and is warm (imports, pools, caches)
        load(way, path, 1.0)
    rounds: dict[str, list[Round]] = {way.name: [] for way in ways}
    for number in range(ROUNDS):
        # A rotating order: no way always runs right after another.
        for way in ways[number % len(ways) :] + ways[: number % len(ways)]:
            rounds[way.name].append(load(way, path, ROUND_S))
    return rounds


def rows_of(rounds: dict[str, list[Round]], baseline: str) -> list[tuple[str, ...]]:
    def rates(name: str) -> list[float]:
        return [r.requests / r.seconds for r in rounds[name]]

    rows = []
    for name, measured in rounds.items():
        latencies = sorted(latency for r in measured for latency in r.latencies)
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000
        # Paired by round: a burst of other work slows both sides of a ratio alike.
        ratio = statistics.median(
            mine / theirs for mine, theirs in zip(rates(name), rates(baseline), strict=True)
        )
        verdict = "PASS" if ratio >= TARGET else "FAIL"
        target = "" if "cache off" in name else f" (target >= {TARGET}) {verdict}"
        note = "" if name == baseline else f"ratio {ratio:.3f}{target}"
        rate = statistics.median(rates(name))
        rows.append((name, f"{rate:.0f} req/s", f"{p50:.2f} ms", f"{p99:.2f} ms", note))
    return rows


def ways_to_ask(none: Stack, cached: Stack, uncached: Stack, token: str) -> list[Way]:
    cookie = {"Cookie": f"{SESSION_COOKIE}={signed_in_cookie(cached)}"}
    bearer = {"Authorization": f"Bearer {token}"}
    return [
        Way("auth none", port_of(none), {}),
        Way("accounts, session cookie", port_of(cached), cookie),
        Way("accounts, bearer token", port_of(cached), bearer),
        # What the cache saves: one indexed read (and its transaction) on every request.
        Way("accounts, session cookie, cache off", port_of(uncached), cookie),
        Way("accounts, bearer token, cache off", port_of(uncached), bearer),
    ]


def main() -> None:
    job_id, token = prepare()
    path = f"/api/jobs/{job_id}"
    accounts = {
        "STEMDECK_AUTH": "accounts",
        "STEMDECK_ADMIN_EMAIL": ADMIN_EMAIL,
        "STEMDECK_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    with tempfile.TemporaryDirectory(prefix="stemdeck-bench-auth-") as scratch_name:
        scratch = Path(scratch_name)
        with (
            running_stack(settings_for(scratch / "none"), workers=0, STEMDECK_AUTH="none") as none,
            running_stack(settings_for(scratch / "cached"), workers=0, **accounts) as cached,
            running_stack(
                settings_for(scratch / "uncached"),
                workers=0,
                STEMDECK_AUTH_CACHE_SECONDS="0",
                **accounts,
            ) as uncached,
        ):
            anonymous = httpx.get(f"{cached.base_url}{path}")
            if anonymous.status_code != 401:
                raise SystemExit(f"accounts mode answered {anonymous.status_code} to nobody")
            rounds = measure(ways_to_ask(none, cached, uncached, token), path)
    body = table(
        rows_of(rounds, "auth none"), ("GET /api/jobs/{id}", "throughput", "p50", "p99", "note")
    )
    footer = (
        f"\n\n{CONNECTIONS} keep-alive connections, {ROUNDS} interleaved rounds of "
        f"{ROUND_S} s each; throughput is the median round, p50/p99 over every request, "
        "the ratio the median of each round's against none's in the same round. "
        "STEMDECK_AUTH_CACHE_SECONDS is 5 unless the row says the cache is off (0): then "
        "every request reads its session or token (one indexed read, in a transaction "
        "of its own)."
    )
    record("Authentication cost", body + footer)


if __name__ == "__main__":
    main()

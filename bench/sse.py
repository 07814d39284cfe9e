"""Job event streams at scale (`make bench`): 1,000 at once on one API process.

A real `stemdeck api` process (uvicorn, one process, as `stemdeck up` starts it) on
Postgres and Redis, STEMDECK_AUTH=none. The bench opens the streams on raw asyncio
sockets (an HTTP client per stream would cost more than the server does), and
measures, with them all open:

- the API process's Redis connections, before the first stream and with all of them
  open (the connections whose address is one of its own sockets, as CLIENT LIST
  shows them: other processes share the server); target at most 2 more;
- the API process's RSS, before and after; target less than 100 MB more;
- how long a progress write takes to reach every stream: the job lifecycle (the real
  one, as a worker writes progress) updates the row and publishes its notice, and each
  stream's clock stops when the event with that progress arrives. p99 target 250 ms.
  Beside it, the API process's CPU time per delivery, which a busy machine does not
  change as it changes the latency (the load average is in the table too).

Two shapes: every stream on one job (one write, a thousand streams to wake), and the
streams spread over a hundred jobs (a burst of a hundred writes, ten streams each).
"""

from __future__ import annotations

import asyncio
import re
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from redis import Redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import record, table  # noqa: E402
from stemdeck.core import migrate  # noqa: E402
from stemdeck.core.db import session_scope  # noqa: E402
from stemdeck.core.events import lifecycle_listeners  # noqa: E402
from stemdeck.core.lifecycle import Attempt, JobLifecycle  # noqa: E402
from stemdeck.core.models import LOCAL_ADMIN_ID, Job, new_job_id  # noqa: E402
from stemdeck.core.settings import Settings  # noqa: E402
from stemdeck.core.states import JobStatus, Stage  # noqa: E402
from stemdeck.core.storage import keys  # noqa: E402
from tests.conftest import recreate_postgres_database  # noqa: E402
from tests.integration.redis_clients import clients_of  # noqa: E402
from tests.integration.stack import Stack, running_stack  # noqa: E402

# A database of its own: recreated at the start. Redis keeps nothing for it (notices
# only), so it shares the other benches' database there and flushes nothing.
DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stemdeck_bench_sse"
REDIS_URL = "redis://127.0.0.1:6379/14"
STREAMS = 1000
SHAPES = (1, 100)  # jobs the streams are spread over
ROUNDS = 20  # of writes: every job's progress written once each
PAUSE_S = 0.2  # between rounds of writes, so one round's re-reads do not queue behind the last
OPENING_AT_ONCE = 50
OPEN_TIMEOUT_S = 300
TARGET_CONNECTIONS, TARGET_RSS_MB, TARGET_P99_MS = 2, 100, 250
# Sockets beyond the streams: the API's database pool, Redis, files, the bench's own.
SPARE_FILES = 500
PROGRESS = re.compile(rb'"progress":\s*([0-9.]+)')


@dataclass
class Stream:
    job_id: str
    # progress → when this stream first saw it (perf_counter)
    seen: dict[float, float] = field(default_factory=dict)
    opened: asyncio.Event = field(default_factory=asyncio.Event)


def raise_file_limit(needed: int) -> None:
    """Each stream is a socket here and another in the API process (which inherits this
    limit): raise the soft limit as far as needed, or stop saying how."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(
            f"bench/sse.py needs {needed} open files per process and the hard limit is "
            f"{hard}: raise it (`ulimit -Hn {needed}` as root, or LimitNOFILE for a "
            "service) and run it again"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def follow(port: int, stream: Stream, gate: asyncio.Semaphore) -> None:
    """Hold one event stream open, noting when each progress value arrives."""
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        path = f"/api/jobs/{stream.job_id}/events"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream refused: {head.decode(errors='replace')}")
    pending = b""
    try:
        while chunk := await reader.read(65536):
            now = time.perf_counter()
            # Whole events only: one may straddle two reads.
            pending += chunk
            complete, _, pending = pending.rpartition(b"\n\n")
            for match in PROGRESS.finditer(complete):
                stream.seen.setdefault(float(match.group(1)), now)
            if complete:
                stream.opened.set()
    finally:
        writer.close()


async def all_open(streams: list[Stream], followers: list[asyncio.Task[None]]) -> None:
    """Until every stream has its first event; a stream that fails (refused, cut off)
    stops the bench with its error rather than leaving it waiting."""
    opened = asyncio.ensure_future(asyncio.gather(*(stream.opened.wait() for stream in streams)))
    await asyncio.wait(
        [opened, *followers], timeout=OPEN_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
    )
    for follower in followers:
        if follower.done():
            raise RuntimeError("a stream ended while the others opened") from follower.exception()
    if not opened.done():
        opened.cancel()
        raise TimeoutError(f"the streams did not all open within {OPEN_TIMEOUT_S} s")


def seed(jobs: int) -> tuple[JobLifecycle, list[Attempt]]:
    """Queued jobs, claimed as a worker claims them: their attempts, to write progress."""
    ids = [new_job_id() for _ in range(jobs)]
    with session_scope(DATABASE_URL) as session:
        for job_id in ids:
            session.add(
                Job(
                    id=job_id,
                    owner_id=LOCAL_ADMIN_ID,
                    strategy="four-stems-dsp",
                    formats=["flac"],
                    source_name="Song.wav",
                    source_key=keys.source(job_id, "wav"),
                    source_sha256="0" * 64,
                    source_size_bytes=1234,
                    source_format="wav",
                    source_duration_s=180.0,
                    source_sample_rate=44100,
                    source_channels=2,
                )
            )
    settings = Settings(_env_file=None, database_url=DATABASE_URL)  # type: ignore[call-arg]
    lifecycle = JobLifecycle(DATABASE_URL, lifecycle_listeners(Redis.from_url(REDIS_URL), settings))
    attempts = [lifecycle.claim(job_id, JobStatus.running) for job_id in ids]
    return lifecycle, [attempt for attempt in attempts if attempt is not None]


@dataclass
class Shape:
    jobs: int
    open_s: float
    connections: tuple[int, int]  # the API process's, before and with every stream open
    server_clients: tuple[int, int]  # the whole Redis server's
    rss_mb: tuple[float, float]
    latencies_ms: list[float]
    cpu_us_per_delivery: float
    load: float  # the machine's 1-minute load average at the end


def write_round(lifecycle: JobLifecycle, attempts: list[Attempt], fraction: float) -> list[float]:
    """Each job's progress written once; when each write began."""
    started = []
    for attempt in attempts:
        started.append(time.perf_counter())
        lifecycle.progress(attempt, Stage.separating, "builtin:hpss", fraction)
    return started


async def deliveries(stack: Stack, port: int, jobs: int, redis: Redis) -> Shape:
    lifecycle, attempts = seed(jobs)
    api = psutil.Process(stack.api.pid)
    before = len(clients_of(redis, api.pid)), len(redis.client_list())
    rss_before = api.memory_info().rss / 2**20
    streams = [Stream(attempts[index % jobs].job_id) for index in range(STREAMS)]
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    started = time.perf_counter()
    followers = [asyncio.create_task(follow(port, stream, gate)) for stream in streams]
    await all_open(streams, followers)
    open_s = time.perf_counter() - started
    after = len(clients_of(redis, api.pid)), len(redis.client_list())
    rss_after = api.memory_info().rss / 2**20

    of_job = {attempt.job_id: index for index, attempt in enumerate(attempts)}
    latencies: list[float] = []
    cpu_s = 0.0
    for number in range(1, ROUNDS + 1):
        fraction = round(number / (ROUNDS + 1), 4)
        cpu_before = sum(api.cpu_times()[:2])
        began = await asyncio.to_thread(write_round, lifecycle, attempts, fraction)
        async with asyncio.timeout(30):
            while not all(fraction in stream.seen for stream in streams):
                await asyncio.sleep(0.01)
        cpu_s += sum(api.cpu_times()[:2]) - cpu_before
        latencies += [
            (stream.seen[fraction] - began[of_job[stream.job_id]]) * 1000 for stream in streams
        ]
        await asyncio.sleep(PAUSE_S)
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    return Shape(
        jobs,
        open_s,
        (before[0], after[0]),
        (before[1], after[1]),
        (rss_before, rss_after),
        latencies,
        cpu_s / (ROUNDS * STREAMS) * 1e6,
        psutil.getloadavg()[0],
    )


def pass_fail(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def rows_of(shape: Shape) -> list[tuple[str, ...]]:
    name = f"{STREAMS} streams on {shape.jobs} job{'s' if shape.jobs > 1 else ''}"
    (c0, c1), (s0, s1), (r0, r1) = shape.connections, shape.server_clients, shape.rss_mb
    lat = sorted(shape.latencies_ms)
    p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
    added_mb, added_connections = r1 - r0, c1 - c0
    connections_ok = pass_fail(added_connections <= TARGET_CONNECTIONS)
    return [
        (name, "opened in", f"{shape.open_s:.1f} s", ""),
        (
            "",
            "API's Redis connections",
            f"{c0} -> {c1}",
            f"+{added_connections} (target <= {TARGET_CONNECTIONS}) {connections_ok}",
        ),
        ("", "Redis server's clients (all processes)", f"{s0} -> {s1}", f"+{s1 - s0}"),
        (
            "",
            "API RSS",
            f"{r0:.0f} -> {r1:.0f} MB",
            f"+{added_mb:.1f} MB (target < {TARGET_RSS_MB}) {pass_fail(added_mb < TARGET_RSS_MB)}",
        ),
        ("", "write -> stream, p50", f"{p50:.0f} ms", f"{len(lat)} deliveries"),
        (
            "",
            "write -> stream, p99",
            f"{p99:.0f} ms",
            f"target < {TARGET_P99_MS} ms {pass_fail(p99 < TARGET_P99_MS)}",
        ),
        ("", "write -> stream, max", f"{lat[-1]:.0f} ms", ""),
        (
            "",
            "API CPU per delivery",
            f"{shape.cpu_us_per_delivery:.0f} us",
            f"load average {shape.load:.1f} on {psutil.cpu_count()} CPUs",
        ),
    ]


def main() -> None:
    raise_file_limit(STREAMS + SPARE_FILES)
    recreate_postgres_database(DATABASE_URL)
    migrate.upgrade(DATABASE_URL)
    redis = Redis.from_url(REDIS_URL)
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="stemdeck-bench-sse-") as scratch:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=Path(scratch), database_url=DATABASE_URL, redis_url=REDIS_URL
        )
        for jobs in SHAPES:
            with running_stack(
                settings,
                workers=0,
                STEMDECK_HTTP_MAX_CONNECTIONS=str(STREAMS + 200),
                STEMDECK_EVENTS_MAX_STREAMS=str(STREAMS),
                STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT=str(STREAMS),
                STEMDECK_LOG_LEVEL="WARNING",
            ) as stack:
                port = int(stack.base_url.rsplit(":", 1)[1])
                rows += rows_of(asyncio.run(deliveries(stack, port, jobs, redis)))
    footer = (
        f"\n\nOne `stemdeck api` process on Postgres, STEMDECK_AUTH=none, the streams on "
        f"loopback (raw asyncio sockets, {OPENING_AT_ONCE} opening at a time). A delivery "
        "is from the start of the progress write (the lifecycle's UPDATE and its Redis "
        "notice) to the event with that progress arriving on a stream; rounds of writes "
        f"{PAUSE_S} s apart. The API's Redis connections are those CLIENT LIST shows "
        "from its own sockets; the server's count includes every other process on it."
    )
    record("Job event streams (SSE)", table(rows, ("shape", "measure", "value", "note")) + footer)


if __name__ == "__main__":
    main()

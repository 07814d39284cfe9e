"""Status and list throughput under load (`make bench`), on SQLite and on Postgres.

A real `stemdeck api` process (uvicorn, one process, as `stemdeck up` starts it) over 20
completed jobs of four stems each, loaded on loopback by wrk with 50 keep-alive
connections, in two phases per database:

1. Each read route alone, interleaved with GET /health in rounds, so other work on the
   machine slows both sides of a ratio alike: the polls (GET /api/jobs/{id}) and the
   list (GET /api/jobs?limit=20) as the local admin of STEMDECK_AUTH=none, and both
   again with an API token on a second process under STEMDECK_AUTH=accounts. A ratio is
   the median over rounds of the route's rate against /health's in the same round;
   the target is 0.7 or better.
2. A mix at once, on the auth-none process: wrk processes for polls, the list, stem
   Range requests (the signed link a stem URL redirects to, as the player follows it)
   and /health, while a few SSE streams stay open on a queued job and a client uploads
   a short song again and again. Each route's rate beside /health's in the same run.

Bounded: every load is a fixed number of seconds on 127.0.0.1 (wrk is the Debian
package; `make bench` installs it).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from redis import Redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import record, table  # noqa: E402
from stemdeck.core import migrate  # noqa: E402
from stemdeck.core.accounts.api_tokens import issue_api_token  # noqa: E402
from stemdeck.core.accounts.first_admin import ensure_first_admin  # noqa: E402
from stemdeck.core.accounts.users import add_user  # noqa: E402
from stemdeck.core.db import session_scope  # noqa: E402
from stemdeck.core.models import Job, Stem, new_job_id  # noqa: E402
from stemdeck.core.settings import Settings  # noqa: E402
from stemdeck.core.states import JobStatus, Stage  # noqa: E402
from stemdeck.core.storage import LocalStorage, keys  # noqa: E402
from tests.conftest import recreate_postgres_database  # noqa: E402
from tests.integration.stack import Stack, running_stack  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stemdeck_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "the bench admin's password"
OWNER_EMAIL, OWNER_PASSWORD = "bench@example.com", "the bench user's password"
JOBS = 20
STEMS = ("vocals", "drums", "bass", "other")
FORMATS = ("flac", "mp3")
CONNECTIONS = 50
ROUNDS = 3
ROUND_S = 5
MIX_S = 15
SSE_STREAMS = 5
TARGET = 0.7
RANGE = "bytes=65536-131071"


Rows = list[tuple[str, ...]]


@dataclass(frozen=True)
class Run:
    """What one wrk run measured."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int


@dataclass
class Seeded:
    poll_id: str  # a completed job of four stems
    queued_id: str  # a job still queued, whose event stream stays open
    token: str  # the owner's jobs:read API token
    paths: dict[str, str] = field(default_factory=dict)


def song(seconds: float = 3.0, variant: int = 0) -> bytes:
    """A short stereo WAV (a chord with a little noise); each variant's bytes differ."""
    rate = 44100
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.2
    noise = np.random.default_rng(variant).normal(0, 0.01, t.size)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([tone + noise, tone - noise], axis=1), rate, format="WAV")
    return buffer.getvalue()


def new_job(job_id: str, owner_id: str, status: JobStatus, now: datetime) -> Job:
    done = status == JobStatus.completed
    job = Job(
        id=job_id,
        owner_id=owner_id,
        status=status,
        stage=Stage.done if done else Stage.waiting,
        progress=1.0 if done else 0.0,
        notes=[],
        strategy="four-stems-dsp",
        formats=list(FORMATS),
        attempts=1 if done else 0,
        source_name="Song.wav",
        source_key=keys.source(job_id, "wav"),
        source_sha256=job_id * 2,
        source_size_bytes=1234,
        source_format="wav",
        source_duration_s=180.0,
        source_sample_rate=44100,
        source_channels=2,
        created_at=now,
        started_at=now if done else None,
        finished_at=now if done else None,
    )
    for position, name in enumerate(STEMS if done else ()):
        job.stems.append(
            Stem(
                name=name,
                position=position,
                duration_s=180.0,
                formats=list(FORMATS),
                keys={fmt: keys.stem(job_id, name, fmt) for fmt in FORMATS},
                sizes={fmt: 1000 for fmt in FORMATS},
                waveform_key=keys.waveform(job_id, name, "json"),
                waveform_png_key=keys.waveform(job_id, name, "png"),
            )
        )
    return job


def seed(database_url: str, storage_root: Path) -> Seeded:
    """A fresh database: the first admin, a user with JOBS completed jobs, one queued
    job and a jobs:read token; the polled job's stems stored as real audio files."""
    migrate.upgrade(database_url)
    Redis.from_url(REDIS_URL).flushdb()
    ensure_first_admin(database_url, ADMIN_EMAIL, ADMIN_PASSWORD)
    now = datetime.now(UTC)
    ids = [new_job_id() for _ in range(JOBS + 1)]
    with session_scope(database_url) as session:
        owner = add_user(session, OWNER_EMAIL, OWNER_PASSWORD)
        for job_id in ids[:JOBS]:
            session.add(new_job(job_id, owner.id, JobStatus.completed, now))
        session.add(new_job(ids[JOBS], owner.id, JobStatus.queued, now))
        token = issue_api_token(session, owner, ["jobs:read"], "bench")
    storage = LocalStorage(storage_root)
    with tempfile.TemporaryDirectory() as scratch:
        audio = Path(scratch) / "stem.wav"
        audio.write_bytes(song(10.0))
        for name in STEMS:
            for fmt in FORMATS:
                storage.put_file(keys.stem(ids[0], name, fmt), audio)
    return Seeded(poll_id=ids[0], queued_id=ids[JOBS], token=token)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}

NOTES = """\
Where the time went (py-spy, sampling the thread that holds the GIL, in the API under
this load), before the fixes: the list spent a third of its time in Starlette's url_for,
which searches every route for each of a page's 400 URLs; both routes made a new
sessionmaker per request (a new Session subclass and its event set-up, a tenth of a
poll); every plain-def dependency (context, principal, scope check, session) was its own
threadpool hop, 15-20% of a poll; a job's stems were a second (selectin) statement. Then:
route templates read once (api/urls.py), one sessionmaker per engine, async dependencies
(a database read for a credential only on a cache miss, in the threadpool), a job and its
stems in one statement. Not significant: the front door and cross-site middlewares, JSON
serialization, auth with its cache, presigning (local storage here). With finished jobs'
bodies kept as encoded JSON and checked by a light read of their row's version, a poll
still cost twice /health: the threadpool hop, the session and that read. Now
(api/bodies.py, core/job_marks.py): every lifecycle change sets random marks in Redis
(the job's, its owner's, the queue's unless only progress, every job's) in the round trip
that announces it; a body or page is kept with the marks read before its database read,
and answered, from the event loop, after one Redis MGET finds them unchanged: no thread,
no session, no SQL. Unfinished jobs (and pages holding one) are answered so for 1 s at
most (their ETA moves with the clock), the rest for 5 s, then checked against the
database again (a change whose marks Redis failed to take shows by then). /health is a
plain def route (a threadpool hop and a Pydantic body), which the kept answers no longer
pay. Statement counts are held by tests/integration/test_read_queries.py."""


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str]) -> Run:
    """One wrk run; fails on any answer that is not 2xx or 3xx, or a socket error."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency"]
    command.append(url)
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk {url}: {out}")

    def percentile(label: str) -> float:
        found = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if found is None:
            raise RuntimeError(f"no {label}% in wrk's output: {out}")
        return float(found.group(1)) * _UNITS[found.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    count = re.search(r"^\s*(\d+) requests in", out, re.M)
    if rate is None or count is None:
        raise RuntimeError(f"no Requests/sec in wrk's output: {out}")
    if int(count.group(1)) == 0:
        raise RuntimeError(f"wrk {url}: not one answer in {seconds} s, the API stalled")
    return Run(float(rate.group(1)), percentile("50"), percentile("99"), int(count.group(1)))


def settings_for(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None, data_dir=data_dir, database_url=database_url, redis_url=REDIS_URL
    )


def cells(run: Run) -> tuple[str, str, str]:
    return f"{run.rate:.0f}", f"{run.p50_ms:.2f}", f"{run.p99_ms:.1f}"


def verdict(ratio: float) -> str:
    return f"{ratio:.2f} (target >= {TARGET}) {'PASS' if ratio >= TARGET else 'FAIL'}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alone(stack: Stack, routes: dict[str, tuple[str, dict[str, str]]]) -> Rows:
    """Phase 1: each route alone at CONNECTIONS, rounds interleaved with /health. Beside
    the rate, the API process's CPU time per request: other work on the machine slows the
    rates, far less what a request costs the server, whose one process is the limit."""
    paths = {"GET /health": ("/health", {}), **routes}
    runs: dict[str, list[Run]] = {name: [] for name in paths}
    cpu_ms: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(ROUNDS):
        for name, (path, headers) in paths.items():
            before = cpu_seconds(stack.api.pid)
            run = wrk(stack.base_url + path, ROUND_S, CONNECTIONS, headers)
            runs[name].append(run)
            cpu_ms[name].append((cpu_seconds(stack.api.pid) - before) * 1000 / run.requests)

    def middle(measured: list[Run]) -> Run:
        return sorted(measured, key=lambda run: run.rate)[len(measured) // 2]

    health, health_cpu = runs["GET /health"], statistics.median(cpu_ms["GET /health"])
    rows: Rows = [("GET /health", *cells(middle(health)), "", f"{health_cpu:.2f}", "")]
    for name in routes:
        ratio = statistics.median(
            run.rate / h.rate for run, h in zip(runs[name], health, strict=True)
        )
        cost = statistics.median(cpu_ms[name])
        rows.append(
            (
                name,
                *cells(middle(runs[name])),
                verdict(ratio),
                f"{cost:.2f}",
                verdict(health_cpu / cost),
            )
        )
    return rows


class Streams:
    """SSE streams held open on a job that stays queued, each on its own thread."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.stop = threading.Event()
        self.opened: list[str] = []  # appended to by the streams' threads (atomic)
        self.threads = [threading.Thread(target=self._hold, daemon=True) for _ in range(count)]

    def _hold(self) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client,
            client.stream("GET", self.url) as response,
        ):
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("event: job"):
                    self.opened.append(self.url)
                    break
            self.stop.wait()

    @contextmanager
    def held(self) -> Iterator[Streams]:
        for thread in self.threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()


class Uploads:
    """One client uploading a short song again and again: its count and latencies."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.latencies: list[float] = []
        self.refused: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as client:
            variant = 0
            while not self.stop.is_set():
                variant += 1
                started = time.perf_counter()
                response = client.post(
                    "/api/jobs",
                    files={"file": ("song.wav", song(3.0, variant), "audio/wav")},
                    data={"strategy": "four-stems-dsp", "formats": "flac"},
                )
                if response.status_code == 202:
                    self.latencies.append(time.perf_counter() - started)
                else:  # counted, and named in the table, rather than ending the run
                    error = response.json().get("error", {})
                    self.refused.append(f"{response.status_code} {error.get('code')}")
                    print(f"upload refused: {response.text}", file=sys.stderr)

    @contextmanager
    def running(self) -> Iterator[Uploads]:
        self.thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            self.thread.join()


def signed_link(base: str, job_id: str) -> str:
    """The short-lived URL a stem's URL redirects to, as the player follows it."""
    response = httpx.get(f"{base}/api/jobs/{job_id}/stems/{STEMS[0]}.{FORMATS[0]}")
    if response.status_code != 307:
        raise RuntimeError(f"stem URL answered {response.status_code}: {response.text}")
    return str(httpx.URL(base).join(response.headers["location"]))


def mix(base: str, seeded: Seeded) -> Rows:
    """Phase 2: polls, list, stem ranges and /health at once, with SSE streams open and
    uploads going; each wrk gets a share of the CONNECTIONS."""
    loads = {
        "GET /health": (f"{base}/health", 6, {}),
        "GET /api/jobs/{id}": (f"{base}/api/jobs/{seeded.poll_id}", 30, {}),
        "GET /api/jobs?limit=20": (f"{base}/api/jobs?limit=20", 8, {}),
        "GET stem link, Range": (signed_link(base, seeded.poll_id), 6, {"Range": RANGE}),
    }
    results: dict[str, Run] = {}

    def one(name: str) -> None:
        url, connections, headers = loads[name]
        results[name] = wrk(url, MIX_S, connections, headers)

    streams = Streams(f"{base}/api/jobs/{seeded.queued_id}/events", SSE_STREAMS)
    with streams.held(), Uploads(base).running() as uploads:
        threads = [threading.Thread(target=one, args=(name,)) for name in loads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if len(results) != len(loads):
        raise RuntimeError(f"a wrk run failed: only {sorted(results)} finished")
    health = results["GET /health"].rate
    rows: Rows = [
        (f"{name} ({loads[name][1]} connections)", *cells(run), f"{run.rate / health:.2f}")
        for name, run in results.items()
    ]
    latencies = sorted(uploads.latencies)
    rows.append(
        (
            "POST /api/jobs, 3 s song (1 client)",
            f"{len(latencies) / MIX_S:.1f}",
            f"{latencies[len(latencies) // 2] * 1000:.2f}",
            f"{latencies[int(len(latencies) * 0.99)] * 1000:.1f}",
            f"{len(uploads.refused)} refused: {uploads.refused[0]}" if uploads.refused else "",
        )
    )
    rows.append(("SSE streams held open on a queued job", str(len(streams.opened)), "", "", ""))
    return rows


@contextmanager
def servers(scratch: Path, database_url: str) -> Iterator[tuple[Stack, Stack]]:
    """An auth-none API process (as `stemdeck up` runs it) and an accounts one, on one
    database; no workers, so the uploaded jobs stay queued."""
    with ExitStack() as stack:
        none = stack.enter_context(
            running_stack(settings_for(scratch / "none", database_url), workers=0)
        )
        signed = stack.enter_context(
            running_stack(
                settings_for(scratch / "accounts", database_url),
                workers=0,
                STEMDECK_AUTH="accounts",
                STEMDECK_ADMIN_EMAIL=ADMIN_EMAIL,
                STEMDECK_ADMIN_PASSWORD=ADMIN_PASSWORD,
            )
        )
        yield none, signed


def measure(database: str, scratch: Path, database_url: str) -> tuple[Rows, Rows]:
    seeded = seed(database_url, scratch / "none" / "storage")
    bearer = {"Authorization": f"Bearer {seeded.token}"}
    with servers(scratch, database_url) as (none, signed):
        poll, listing = f"/api/jobs/{seeded.poll_id}", "/api/jobs?limit=20"
        for base, headers in ((none.base_url, {}), (signed.base_url, bearer)):
            for path in (poll, listing):  # each answers, and is warm
                httpx.get(base + path, headers=headers).raise_for_status()
        routes: dict[str, tuple[str, dict[str, str]]] = {
            "GET /api/jobs/{id}": (poll, {}),
            "GET /api/jobs?limit=20": (listing, {}),
        }
        first = alone(none, routes)
        token_routes = {f"{name}, API token": (path, bearer) for name, (path, _) in routes.items()}
        first += alone(signed, token_routes)[1:]
        second = mix(none.base_url, seeded)
    return [(database, *r) for r in first], [(database, *r) for r in second]


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/load.py needs wrk: apt-get install wrk (make bench does)")
    alone_rows: Rows = []
    mix_rows: Rows = []
    with tempfile.TemporaryDirectory(prefix="stemdeck-bench-load-") as scratch_name:
        scratch = Path(scratch_name)
        sqlite_url = f"sqlite:///{scratch / 'stemdeck.db'}"
        recreate_postgres_database(POSTGRES_URL)
        for database, url in (("SQLite", sqlite_url), ("Postgres", POSTGRES_URL)):
            (scratch / database).mkdir()
            first, second = measure(database, scratch / database, url)
            alone_rows += first
            mix_rows += second
    headers = ("database", "route", "req/s", "p50 ms", "p99 ms", "ratio to /health")
    body = (
        f"Each route alone, {CONNECTIONS} connections (wrk), {ROUNDS} rounds of {ROUND_S} s "
        "interleaved with /health: the median round; the ratio is the median of each "
        "round's against /health's in the same round. CPU is the API process's CPU time per "
        "request (median round), and its ratio /health's over the route's: the rate ratio "
        "a quiet machine would give, where the one API process is the limit.\n\n"
        + table(alone_rows, (*headers, "CPU ms/req", "CPU ratio"))
        + f"\n\nAll at once for {MIX_S} s ({CONNECTIONS} wrk connections shared as shown, "
        f"{SSE_STREAMS} SSE streams open, one client uploading):\n\n"
        + table(mix_rows, headers)
        + "\n\n"
        + NOTES
    )
    record("Status and list throughput", body)


if __name__ == "__main__":
    main()

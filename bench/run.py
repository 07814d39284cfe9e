"""Stemdeck benchmarks (`make bench`): prints a table and writes bench/RESULTS.md.

Measured side by side in one run, on real Postgres and Redis:
1. a 3-minute track, DSP strategy: API + queue + worker end to end vs the same
   executor called directly in this process (target ratio <= 1.15);
2. a warm worker's pick-up latency for a second job, and a model with weights
   (Spleeter) loaded by the first job only;
3. a 500 MB upload: the API's peak RSS growth (target < 64 MB) and MB/s.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soundfile as sf
from redis import Redis
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import record, table  # noqa: E402
from stemdeck.core import migrate  # noqa: E402
from stemdeck.core.probe import probe  # noqa: E402
from stemdeck.core.settings import Settings  # noqa: E402
from stemdeck.core.strategies import load_strategies_file  # noqa: E402
from stemdeck.worker.executor import separate_file  # noqa: E402
from stemdeck.worker.models.cache import ModelCache  # noqa: E402
from tests.conftest import SHARED_AUDIO, recreate_postgres_database  # noqa: E402
from tests.integration.stack import running_stack  # noqa: E402

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stemdeck_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
STRATEGY = "four-stems-dsp"
FORMATS = ["flac"]
TRACK_S = 180
UPLOAD_MB = 500
MODEL_JOBS = 3


def tiled_track(path: Path, seconds: float, variant: int = 0) -> Path:
    """The test song repeated to ``seconds``; each ``variant`` is a hair quieter (a
    thousandth of a dB per step), so its bytes differ and the service's dedup (same audio,
    same strategy: done at once) never answers a benchmark job from an earlier one."""
    audio, rate = sf.read(SHARED_AUDIO / "Music_Delta__80s_Rock" / "mixture.wav", dtype="float32")
    reps = int(np.ceil(seconds * rate / len(audio)))
    tiled = np.tile(audio, (reps, 1))[: int(seconds * rate)] * np.float32(10 ** (-variant / 20000))
    sf.write(path, tiled, rate, subtype="PCM_16")
    return path


def big_wav(path: Path, megabytes: int) -> Path:
    """A valid 16-bit stereo WAV of about ``megabytes``, written block by block."""
    audio, rate = sf.read(SHARED_AUDIO / "Music_Delta__80s_Rock" / "mixture.wav", dtype="int16")
    frames = megabytes * 1024 * 1024 // 4
    with sf.SoundFile(path, "w", rate, 2, "PCM_16") as out:
        written = 0
        while written < frames:
            block = audio[: frames - written]
            out.write(block)
            written += len(block)
    return path


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        **overrides,
    )


def fresh_services() -> None:
    recreate_postgres_database(DATABASE_URL)
    migrate.upgrade(DATABASE_URL)
    Redis.from_url(REDIS_URL).flushdb()


def submit(client: httpx.Client, path: Path, strategy: str = STRATEGY) -> str:
    with path.open("rb") as handle:
        response = client.post(
            "/api/jobs",
            files={"file": (path.name, handle, "audio/wav")},
            data={"strategy": strategy, "formats": ",".join(FORMATS)},
        )
    response.raise_for_status()
    return str(response.json()["id"])


def job_seconds(job: dict[str, Any]) -> float:
    """Time the worker spent on a job: from picking it up to finishing it."""
    assert job["status"] == "completed", job
    started = dt.datetime.fromisoformat(job["started_at"])
    return (dt.datetime.fromisoformat(job["finished_at"]) - started).total_seconds()


def main() -> None:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="stemdeck-bench-") as scratch_name:
        scratch = Path(scratch_name)
        track = tiled_track(scratch / "track-3min.wav", TRACK_S)
        again = tiled_track(scratch / "track-3min-b.wav", TRACK_S, variant=1)
        strategy = load_strategies_file(None)[STRATEGY]

        # 1. Direct executor, warm models (as a worker keeps them).
        models = ModelCache(device="cpu")
        info = probe(track)
        separate_file(track, info, strategy, FORMATS, scratch / "warmup", models, lambda s, f: None)
        started = time.perf_counter()
        separate_file(track, info, strategy, FORMATS, scratch / "direct", models, lambda s, f: None)
        direct_s = time.perf_counter() - started

        # 1 + 2. Through the API, the queue and one worker process.
        fresh_services()
        with running_stack(settings_for(scratch / "stack")) as stack, stack.client() as client:
            warmup = submit(client, track)  # first job: imports, first model loads
            stack.wait_for(warmup)
            started = time.perf_counter()
            job_id = submit(client, again)
            job = stack.wait_for(job_id, poll_s=0.02)
            e2e_s = time.perf_counter() - started
            assert job["status"] == "completed", job
            rq_job = RqJob.fetch(
                job_id, connection=Redis.from_url(REDIS_URL), serializer=JSONSerializer
            )
            assert rq_job.enqueued_at and rq_job.started_at
            pickup_s = (rq_job.started_at - rq_job.enqueued_at).total_seconds()
            running_at = dt.datetime.fromisoformat(job["started_at"]).replace(tzinfo=None)
            to_running_s = (running_at - rq_job.started_at.replace(tzinfo=None)).total_seconds()

            # A model with weights: the first job on a fresh worker loads it, later ones don't.
            shorts = [
                tiled_track(scratch / f"track-30s-{i}.wav", 30, variant=i)
                for i in range(MODEL_JOBS)
            ]
            spleeter_jobs = [stack.wait_for(submit(client, short, "vocals")) for short in shorts]
        worker_s = [job_seconds(job) for job in spleeter_jobs]
        cold = ModelCache(device="cpu", models_dir=scratch / "stack" / "models")
        started = time.perf_counter()
        cold.get("spleeter:2stems")
        load_s = time.perf_counter() - started

        ratio = e2e_s / direct_s
        rows += [
            (f"{TRACK_S} s track, {STRATEGY}: executor called directly", f"{direct_s:.2f} s", ""),
            (
                f"{TRACK_S} s track, {STRATEGY}: API + queue + worker",
                f"{e2e_s:.2f} s",
                f"ratio {ratio:.3f} (target <= 1.15) {'PASS' if ratio <= 1.15 else 'FAIL'}",
            ),
            ("warm worker, 2nd job: enqueue -> dequeue", f"{pickup_s * 1000:.0f} ms", ""),
            ("warm worker, 2nd job: dequeue -> job running", f"{to_running_s * 1000:.0f} ms", ""),
            (
                "spleeter:2stems cold load in a new process (torch import + weights)",
                f"{load_s:.2f} s",
                "",
            ),
            *[
                (
                    f"30 s track, vocals: job {i + 1} on one worker",
                    f"{seconds:.2f} s",
                    "includes the model load" if i == 0 else "model still loaded",
                )
                for i, seconds in enumerate(worker_s)
            ],
        ]

        # 3. A 500 MB upload against a lone API process.
        upload = big_wav(scratch / "big.wav", UPLOAD_MB)
        size_mb = upload.stat().st_size / 1024 / 1024
        fresh_services()
        big = settings_for(
            scratch / "upload", max_upload_mb=UPLOAD_MB + 50, max_duration_s=4 * 3600
        )
        with running_stack(big, workers=0) as stack, stack.client(timeout=600) as client:
            client.get("/ready").raise_for_status()
            before = rss_kb(stack.api.pid, "VmRSS")
            started = time.perf_counter()
            submit(client, upload)
            upload_s = time.perf_counter() - started
            peak = rss_kb(stack.api.pid, "VmHWM")
        growth_mb = (peak - before) / 1024
        rows += [
            (
                f"{size_mb:.0f} MB upload: API peak RSS growth",
                f"{growth_mb:.1f} MB",
                f"target < 64 MB {'PASS' if growth_mb < 64 else 'FAIL'}",
            ),
            (
                f"{size_mb:.0f} MB upload: throughput (stream, hash, probe, full decode check)",
                f"{size_mb / upload_s:.0f} MB/s",
                f"{upload_s:.1f} s",
            ),
        ]

    record("Speed and memory", table(rows, ("measure", "value", "note")))


if __name__ == "__main__":
    main()

"""Prometheus metrics: each one moves when its event happens, in real processes.

Real `stemdeck api`, `worker` and `reconciler` processes, each serving /metrics on its
own STEMDECK_METRICS_PORT, are scraped before and after a real job (the signal
processing strategy, quick), a failure, and a worker that died mid-job (its attempt
re-queued, then given up as worker_lost). The API's main port has no /metrics. Every
metric the Grafana dashboard queries is in a real scrape.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from stemdeck.core.metrics import process_metrics_port, serve_metrics
from stemdeck.core.queue import redis_connection, separate_queue
from stemdeck.core.queue_metrics import QueueCollector
from stemdeck.core.settings import Settings, SettingsError, load_settings
from stemdeck.worker.prometheus import GpuMemoryCollector, gpu_memory
from tests.conftest import REPO
from tests.integration.factories import load, queued_job, short_wav
from tests.integration.stack import _spawn, free_port, settings_env, wait_for_http
from tests.integration.test_durable_jobs import die_mid_run
from tests.waiting import wait_until

DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "stemdeck.json"
STRATEGY = "four-stems-dsp"
# Served only by workers on CUDA (GpuMemoryCollector); this machine has none.
CUDA_ONLY = {f"stemdeck_gpu_memory_{kind}_bytes" for kind in ("allocated", "reserved", "peak")}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def song(shared_audio: Path) -> Path:
    return shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"


def scrape(port: int) -> Samples:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@dataclass
class Processes:
    settings: Settings
    env: dict[str, str]
    logs: Path
    ports: dict[str, int]
    running: dict[str, subprocess.Popen[bytes]]

    def start(self, kind: str) -> int:
        """Start `stemdeck <kind>` with its own metrics port; that port once /metrics answers."""
        port = self.ports[kind] = free_port()
        env = {**self.env, "STEMDECK_METRICS_PORT": str(port)}
        log = self.logs / f"{kind}.log"
        self.running[kind] = process = _spawn([kind], env, log)
        wait_for_http(f"http://127.0.0.1:{port}/metrics", process, log)
        return port

    def scrape(self, kind: str) -> Samples:
        return scrape(self.ports[kind])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['STEMDECK_PORT']}"


@contextmanager
def processes(settings: Settings, **extra_env: str) -> Iterator[Processes]:
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = settings_env(settings, STEMDECK_PORT=str(free_port()), **extra_env)
    stack = Processes(settings, env, logs, {}, {})
    try:
        yield stack
    finally:
        for process in stack.running.values():
            process.terminate()
        for process in stack.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_final(stack: Processes, job_id: str) -> dict[str, object]:
    def final() -> dict[str, object] | None:
        job: dict[str, object] = httpx.get(f"{stack.api_url}/api/jobs/{job_id}").json()
        return job if job["status"] in {"completed", "failed", "cancelled"} else None

    return wait_until(final, 120, f"job {job_id} did not finish; logs in {stack.logs}")


def failing_job(settings: Settings, song: Path) -> str:
    """A queued job whose source is gone from storage: the worker fails it (source_missing)."""
    job_id = queued_job(settings, song, STRATEGY)
    source_key = load(settings, job_id).source_key
    assert source_key is not None
    (settings.storage_root / source_key).unlink()
    return job_id


def test_a_failure_and_a_job_move_the_api_worker_and_queue_metrics(
    settings: Settings, song: Path
) -> None:
    with processes(settings) as stack:
        stack.start("api")
        stack.start("reconciler")
        failed_id = failing_job(settings, song)
        stack.start("worker")
        assert wait_final(stack, failed_id)["status"] == "failed"

        worker = stack.scrape("worker")
        assert value(worker, "stemdeck_jobs_total", strategy=STRATEGY, status="failed") == 1
        failures = value(worker, "stemdeck_job_failures_total", error_code="source_missing")
        assert failures == 1
        assert value(worker, "stemdeck_jobs_total", status="completed") == 0
        assert value(worker, "stemdeck_worker_busy") == 0
        api = stack.scrape("api")

        wav = short_wav(song, 4.0)
        with httpx.Client(base_url=stack.api_url, timeout=60) as client:
            created = client.post(
                "/api/jobs", files={"file": ("song.wav", wav)}, data={"strategy": STRATEGY}
            )
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            assert wait_final(stack, job_id)["status"] == "completed"
            # The API's own port has no /metrics: Prometheus reads the metrics port.
            assert client.get("/metrics").status_code == 404

        after_api, after_worker = stack.scrape("api"), stack.scrape("worker")
        reconciler = stack.scrape("reconciler")

    polled = {"route": "/api/jobs/{job_id}", "method": "GET", "status": "200"}
    assert value(after_api, "stemdeck_http_requests_total", **polled) > value(
        api, "stemdeck_http_requests_total", **polled
    )
    created_labels = {"route": "/api/jobs", "method": "POST", "status": "202"}
    assert value(after_api, "stemdeck_http_requests_total", **created_labels) == 1
    latency = {"route": "/api/jobs/{job_id}", "method": "GET"}
    assert value(after_api, "stemdeck_http_request_duration_seconds_count", **latency) > 0
    # One label value stands for every id: no raw path reaches a label.
    assert not [labels for _, labels in after_api if any(job_id in v for _, v in labels)]
    assert value(after_api, "stemdeck_http_requests_total", route="/metrics") == 0
    assert value(after_api, "stemdeck_upload_bytes_total") - value(
        api, "stemdeck_upload_bytes_total"
    ) == len(wav)
    assert value(after_api, "stemdeck_upload_duration_seconds_count") == 1
    # Nothing is in flight once the client is done.
    assert value(after_api, "stemdeck_http_requests_in_flight") == 0

    done = {"strategy": STRATEGY, "status": "completed"}
    assert value(after_worker, "stemdeck_jobs_total", **done) == 1
    assert value(after_worker, "stemdeck_jobs_total", strategy=STRATEGY, status="failed") == 1
    assert value(after_worker, "stemdeck_job_seconds_count", **done) == 1
    for model in ("builtin:crossover", "builtin:hpss", "builtin:center"):
        run = {"model": model, "device": "cpu"}
        assert value(after_worker, "stemdeck_separation_seconds_count", **run) == 1
        assert value(after_worker, "stemdeck_separation_realtime_factor_count", **run) == 1
        assert value(after_worker, "stemdeck_model_load_seconds_count", **run) == 1
        # One run each: its real-time factor times its seconds is the audio's 4 seconds.
        rtf = value(after_worker, "stemdeck_separation_realtime_factor_sum", **run)
        wall_s = value(after_worker, "stemdeck_separation_seconds_sum", **run)
        assert rtf * wall_s == pytest.approx(4.0)
    assert ("stemdeck_model_cache_bytes", frozenset()) in after_worker
    assert value(after_worker, "stemdeck_worker_busy") == 0
    # On a CPU there is no GPU series at all.
    assert not [name for name in names(after_worker) if name.startswith("stemdeck_gpu_")]

    assert value(reconciler, "stemdeck_queue_depth", queue="separate") == 0
    assert value(reconciler, "stemdeck_queue_oldest_age_seconds", queue="separate") == 0
    assert value(reconciler, "stemdeck_workers") == 1

    scraped = names(api) | names(after_api) | names(after_worker) | names(reconciler)
    unserved = dashboard_metrics() - scraped - CUDA_ONLY
    assert unserved == set(), "the dashboard queries metrics nobody serves"


def dashboard_metrics() -> set[str]:
    """Every stemdeck_* series name the dashboard's queries use."""
    exprs = [
        target["expr"]
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel.get("targets", [])
    ]
    assert exprs, f"{DASHBOARD} has no queries"
    return {name for expr in exprs for name in re.findall(r"stemdeck_[a-z_]+", expr)}


def test_a_dead_workers_attempt_is_requeued_then_given_up_as_worker_lost(
    make_settings: Callable[..., Settings], song: Path
) -> None:
    settings = make_settings(max_attempts=2)
    with processes(
        settings, STEMDECK_MAX_ATTEMPTS="2", STEMDECK_RECONCILE_INTERVAL_S="0.2"
    ) as stack:
        stack.start("reconciler")
        before = stack.scrape("reconciler")
        job_id = queued_job(settings, song, STRATEGY)
        separate_queue(redis_connection(settings.require_redis_url())).empty()
        die_mid_run(settings, job_id)

        def requeued() -> bool:
            samples = stack.scrape("reconciler")
            counted = value(samples, "stemdeck_attempts_requeued_total") == 1
            return counted and value(samples, "stemdeck_queue_depth", queue="separate") == 1

        wait_until(requeued, 60, f"no re-queue counted and queued; logs in {stack.logs}")
        aged = wait_until(
            lambda: value(stack.scrape("reconciler"), "stemdeck_queue_oldest_age_seconds") > 0,
            30,
            "the queued job's age did not grow",
        )
        assert aged
        die_mid_run(settings, job_id)

        def given_up() -> Samples | None:
            samples = stack.scrape("reconciler")
            return samples if value(samples, "stemdeck_jobs_worker_lost_total") == 1 else None

        last = wait_until(given_up, 60, f"no worker_lost counted; logs in {stack.logs}")

    assert value(before, "stemdeck_attempts_requeued_total") == 0
    assert value(before, "stemdeck_jobs_worker_lost_total") == 0
    assert value(before, "stemdeck_queue_depth", queue="separate") == 0
    assert value(before, "stemdeck_workers") == 0
    assert value(last, "stemdeck_attempts_requeued_total") == 1
    assert value(last, "stemdeck_jobs_total", strategy=STRATEGY, status="failed") == 1
    assert value(last, "stemdeck_job_failures_total", error_code="worker_lost") == 1
    assert load(settings, job_id).error_code == "worker_lost"


def test_with_a_multiprocess_dir_the_api_serves_what_its_processes_wrote_there(
    settings: Settings, tmp_path: Path
) -> None:
    """PROMETHEUS_MULTIPROC_DIR (uvicorn with several workers): values go to files there,
    and /metrics adds up every process's files."""
    shared = tmp_path / "prometheus-multiproc"
    shared.mkdir()
    with processes(settings, PROMETHEUS_MULTIPROC_DIR=str(shared)) as stack:
        port = stack.start("api")
        wait_for_http(f"{stack.api_url}/health", stack.running["api"], stack.logs / "api.log")
        before = value(scrape(port), "stemdeck_http_requests_total", route="/health")
        for _ in range(3):
            assert httpx.get(f"{stack.api_url}/health").status_code == 200
        after = scrape(port)
    assert value(after, "stemdeck_http_requests_total", route="/health", status="200") == before + 3
    assert list(shared.glob("counter_*.db")), "the counts are not in the shared directory"


def test_the_request_counter_uses_the_route_template(
    client: TestClient, settings: Settings, song: Path
) -> None:
    job_id = queued_job(settings, song, STRATEGY)

    def count(route: str, status: str) -> float:
        labels = {"route": route, "method": "GET", "status": status}
        return REGISTRY.get_sample_value("stemdeck_http_requests_total", labels) or 0.0

    polled, unmatched = count("/api/jobs/{job_id}", "200"), count("unmatched", "404")
    assert client.get(f"/api/jobs/{job_id}").status_code == 200
    assert client.get("/metrics").status_code == 404
    assert count("/api/jobs/{job_id}", "200") == polled + 1
    assert count("unmatched", "404") == unmatched + 1
    assert count(f"/api/jobs/{job_id}", "200") == 0


def test_a_refusal_before_any_route_is_counted(client: TestClient) -> None:
    labels = {"route": "unmatched", "method": "GET", "status": "400"}
    before = REGISTRY.get_sample_value("stemdeck_http_requests_total", labels) or 0.0
    assert client.get("/api/jobs", headers={"Host": "evil.example"}).status_code == 400
    assert REGISTRY.get_sample_value("stemdeck_http_requests_total", labels) == before + 1


def test_queue_metrics_are_left_out_while_redis_is_unreachable() -> None:
    """A scrape while Redis is away shows the gap, not numbers that are not true."""
    closed = redis_connection(f"redis://127.0.0.1:{free_port()}/0")
    assert list(QueueCollector(closed).collect()) == []


def test_the_metrics_port_may_not_be_the_public_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEMDECK_PORT", "8000")
    monkeypatch.setenv("STEMDECK_METRICS_PORT", "8000")
    with pytest.raises(SettingsError, match="STEMDECK_METRICS_PORT: 8000 is STEMDECK_PORT"):
        load_settings()


def test_a_taken_metrics_port_stops_start_up_naming_the_setting(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = settings.model_copy(update={"metrics_port": port})
        with pytest.raises(SettingsError, match=f"STEMDECK_METRICS_PORT: .*127.0.0.1:{port}"):
            serve_metrics(busy)


def test_metrics_are_off_without_a_port(settings: Settings) -> None:
    assert settings.metrics_port == 0
    assert serve_metrics(settings) is None


def test_up_gives_each_process_its_own_metrics_port() -> None:
    ports = [process_metrics_port(9100, kind) for kind in ("api", "worker", "reconciler")]
    assert ports == [9100, 9101, 9102]
    assert process_metrics_port(0, "worker") == 0


def test_gpu_memory_is_read_only_on_cuda() -> None:
    assert gpu_memory("cpu") is None
    assert list(GpuMemoryCollector(lambda: "cpu").collect()) == []
    import torch

    memory = gpu_memory("cuda")
    if not torch.cuda.is_available():
        assert memory is None
        return
    assert memory is not None
    assert 0 <= memory.allocated_bytes <= memory.reserved_bytes
    assert memory.allocated_bytes <= memory.peak_bytes

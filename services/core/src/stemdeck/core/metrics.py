"""Prometheus metrics every process shares: /metrics on its own port, and job counters.

Each process (API, worker, reconciler) serves its own /metrics on
``STEMDECK_METRICS_PORT`` at ``STEMDECK_METRICS_HOST``, never on the public port;
Prometheus adds up what the processes report. ``stemdeck up`` runs all three on one
host, so it shifts the port per process (``PORT_OFFSETS``).

The job counters hang on the job lifecycle (``stemdeck.core.events.lifecycle_listeners``),
the one place every status change passes: each process counts the changes it made
(the worker completions and failures, the reconciler re-queues and ``worker_lost``
failures, the API cancellations), so the sums over processes are the whole story.

When ``PROMETHEUS_MULTIPROC_DIR`` is set (uvicorn with several workers), prometheus-client
keeps values in files there and /metrics adds up every process's files.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from stemdeck.core.lifecycle import JobChange, Transition
from stemdeck.core.settings import ENV_PREFIX, Settings, SettingsError
from stemdeck.core.states import JobStatus

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# `stemdeck up`: the metrics port of each process it starts, from STEMDECK_METRICS_PORT.
PORT_OFFSETS = {"api": 0, "worker": 1, "reconciler": 2}

# A separation takes seconds (a DSP strategy on a short clip) to an hour (a heavy
# ensemble on a CPU).
JOB_BUCKETS_S = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)

JOBS = Counter(
    "stemdeck_jobs",
    "Jobs that reached a final status (completed, failed, cancelled), by strategy.",
    ["strategy", "status"],
)
JOB_FAILURES = Counter(
    "stemdeck_job_failures",
    "Failed jobs by strategy and error code (worker_lost: its worker died too often).",
    ["strategy", "error_code"],
)
REQUEUED = Counter(
    "stemdeck_attempts_requeued",
    "Attempts the reconciler queued again because their worker stopped sending heartbeats.",
)
WORKER_LOST = Counter(
    "stemdeck_jobs_worker_lost",
    "Jobs failed as worker_lost: their worker died STEMDECK_MAX_ATTEMPTS times.",
)
JOB_SECONDS = Histogram(
    "stemdeck_job_seconds",
    "A separation attempt's time from its claim to its end, in the worker that ran it.",
    ["strategy", "status"],
    buckets=JOB_BUCKETS_S,
)


class JobMetrics:
    """The lifecycle listener that counts job outcomes and times this process's attempts.

    Claims are remembered only until their attempt ends here; an attempt that ends in
    another process (re-queued by the reconciler, cancelled through the API) is
    forgotten once ``max_open`` newer ones have started.
    """

    def __init__(self, max_open: int = 1000) -> None:
        self._started: OrderedDict[str, float] = OrderedDict()
        self._max_open = max_open

    def __call__(self, change: JobChange) -> None:
        strategy = change.strategy or "unknown"
        if change.transition is Transition.claim_separation:
            self._started[change.job_id] = time.monotonic()
            while len(self._started) > self._max_open:
                self._started.popitem(last=False)
        elif change.transition is Transition.requeue:
            REQUEUED.inc()
        if change.status is None or not change.status.is_final:
            return
        JOBS.labels(strategy, change.status.value).inc()
        if change.status is JobStatus.failed:
            JOB_FAILURES.labels(strategy, change.error_code or "unknown").inc()
        if change.transition is Transition.give_up:
            WORKER_LOST.inc()
        started = self._started.pop(change.job_id, None)
        if started is not None:
            JOB_SECONDS.labels(strategy, change.status.value).observe(time.monotonic() - started)


job_metrics = JobMetrics()
"""The process's one listener: it keeps the claim times of the attempts it runs."""


class _Everything:
    """What one /metrics answer holds: this process's metrics (or, in multiprocess mode,
    every process's) and the process's own scrape-time collectors."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        if os.environ.get(MULTIPROC_ENV):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            self._sources: list[Collector] = [merged, *collectors]
        else:
            self._sources = [REGISTRY, *collectors]

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source.collect()


def serve_metrics(settings: Settings, collectors: Iterable[Collector] = ()) -> WSGIServer | None:
    """Serve /metrics on the metrics port in a daemon thread; None when it is off (0)."""
    if not settings.metrics_port:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Everything(collectors))
    host, port = settings.metrics_host, settings.metrics_port
    try:
        server, _ = start_http_server(port, host, registry)
    except OSError as error:
        raise SettingsError(
            f"{ENV_PREFIX}METRICS_PORT: cannot serve /metrics on {host}:{port} ({error}); "
            "choose a free port, or 0 for no metrics"
        ) from None
    log.info("metrics on http://%s:%s/metrics", host, port)
    return server


def process_metrics_port(base: int, process: str) -> int:
    """The metrics port ``stemdeck up`` gives ``process`` (0 stays off)."""
    return base + PORT_OFFSETS[process] if base else 0

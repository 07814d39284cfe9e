"""A worker's Prometheus metrics, served by the worker process itself on
``STEMDECK_METRICS_PORT`` (``stemdeck.core.metrics.serve_metrics``).

The worker is an RQ SimpleWorker: jobs run in this process, so what they record here
is what /metrics shows, with no multiprocess files. Per model run (each node of a
strategy tree): its seconds and real-time factor (seconds of audio per wall-clock
second: 2 means twice as fast as playback), by model and device. Per model load: its
seconds. The models kept warm: their bytes. Whether a job is running now. On CUDA, the
GPU memory torch holds, read when Prometheus scrapes; on a CPU those series are absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

# A DSP node on a short clip takes milliseconds; a heavy model on a CPU, many minutes.
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
# Below 1 the model runs slower than the music plays.
RTF_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 25, 50, 100, 500)

SEPARATION_SECONDS = Histogram(
    "stemdeck_separation_seconds",
    "Wall-clock seconds of one model run (one node of a strategy tree).",
    ["model", "device"],
    buckets=SECONDS_BUCKETS,
)
REALTIME_FACTOR = Histogram(
    "stemdeck_separation_realtime_factor",
    "Seconds of audio one model run separated per wall-clock second (above 1: faster "
    "than real time).",
    ["model", "device"],
    buckets=RTF_BUCKETS,
)
MODEL_LOAD_SECONDS = Histogram(
    "stemdeck_model_load_seconds",
    "Time to create and load a model into the cache (weights checked, read, moved to device).",
    ["model", "device"],
    buckets=SECONDS_BUCKETS,
)
MODEL_CACHE_BYTES = Gauge(
    "stemdeck_model_cache_bytes",
    "Memory the models kept warm hold (their weights).",
    multiprocess_mode="livesum",
)
BUSY = Gauge(
    "stemdeck_worker_busy",
    "1 while this worker runs a job, 0 while it waits for one.",
    multiprocess_mode="livesum",
)


def record_model_run(model: str, device: str, audio_s: float, wall_s: float) -> None:
    SEPARATION_SECONDS.labels(model, device).observe(wall_s)
    if wall_s > 0:
        REALTIME_FACTOR.labels(model, device).observe(audio_s / wall_s)


@contextmanager
def model_loading(model: str, device: str) -> Iterator[None]:
    """Times a load that succeeds; a failed one is the job's failure, not a load time."""
    started = time.perf_counter()
    yield
    MODEL_LOAD_SECONDS.labels(model, device).observe(time.perf_counter() - started)


@contextmanager
def busy() -> Iterator[None]:
    BUSY.set(1)
    try:
        yield
    finally:
        BUSY.set(0)


@dataclass(frozen=True)
class GpuMemory:
    allocated_bytes: int
    reserved_bytes: int
    peak_bytes: int


def gpu_memory(device: str) -> GpuMemory | None:
    """What torch holds on ``device`` now (and at most since start); None off CUDA."""
    if not device.startswith("cuda"):
        return None
    import torch  # type: ignore[import-not-found, unused-ignore]  # CUDA workers have it

    if not torch.cuda.is_available():
        return None
    return GpuMemory(
        allocated_bytes=int(torch.cuda.memory_allocated(device)),
        reserved_bytes=int(torch.cuda.memory_reserved(device)),
        peak_bytes=int(torch.cuda.max_memory_allocated(device)),
    )


class GpuMemoryCollector:
    """GPU memory at scrape time, from the device the worker's models run on."""

    def __init__(self, device_of: Callable[[], str]) -> None:
        self._device_of = device_of

    def collect(self) -> Iterator[Metric]:
        device = self._device_of()
        memory = gpu_memory(device)
        if memory is None:
            return
        for name, what, value in (
            ("allocated", "Memory torch's tensors occupy", memory.allocated_bytes),
            ("reserved", "Memory torch's caching allocator holds", memory.reserved_bytes),
            ("peak", "The most memory torch's tensors occupied", memory.peak_bytes),
        ):
            gauge = GaugeMetricFamily(
                f"stemdeck_gpu_memory_{name}_bytes", f"{what} on the GPU.", labels=["device"]
            )
            gauge.add_metric([device], value)
            yield gauge

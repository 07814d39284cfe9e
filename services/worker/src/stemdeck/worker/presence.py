"""This worker process's report of itself on Redis (core/presence.py), and its
measured speed (core/speed.py).

A daemon thread re-publishes the record every STEMDECK_HEARTBEAT_INTERVAL_S: a
SimpleWorker runs each job in its main thread, so RQ's own heartbeat stops for a job's
whole length, while this one keeps going. Job start and end publish at once, so the
current job shows without waiting for a beat. Each report carries the readiness of
every model as this worker sees it (readiness.local_report), which is what the API
decides from. Redis errors only log: losing the report must never fail a job.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import threading
from datetime import datetime
from functools import cache

from redis import Redis
from redis.exceptions import RedisError

from stemdeck.core.models import utcnow
from stemdeck.core.presence import WorkerPresence, publish, withdraw
from stemdeck.core.queue import ingest_entry_id
from stemdeck.core.readiness import local_report
from stemdeck.core.speed import record_speed
from stemdeck.worker import runtime
from stemdeck.worker.models.cache import ModelCache

log = logging.getLogger(__name__)

_INGEST_SUFFIX = ingest_entry_id("")


@cache
def device_label(device: str) -> str:
    """'cpu', 'mps', or the CUDA GPU's own name ('NVIDIA H200'): speeds are kept per
    label, so two GPU models are measured apart."""
    if device != "cuda":
        return device
    import torch  # type: ignore[import-not-found, unused-ignore]  # cuda implies torch

    return str(torch.cuda.get_device_name())


def rss_bytes() -> int | None:
    """Resident memory now (Linux); elsewhere the peak, which is what the OS offers."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PresenceReporter:
    def __init__(self, redis: Redis, name: str, queues: list[str], interval_s: float) -> None:
        self.redis, self.name, self.queues = redis, name, queues
        self.interval_s = interval_s
        self.device = device_label(runtime.current().models.device)
        self.started_at = utcnow()
        self.jobs_done = 0
        self._job: tuple[str, str, datetime] | None = None  # row id, queue, since
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="presence", daemon=True)

    def start(self) -> None:
        self.publish()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            withdraw(self.redis, self.name)
        except RedisError as error:
            log.warning("could not remove this worker's presence: %s", error)

    def job_started(self, entry_id: str, queue: str) -> None:
        self._job = (entry_id.removesuffix(_INGEST_SUFFIX), queue, utcnow())
        self.publish()

    def job_ended(self) -> None:
        self._job = None
        self.jobs_done += 1
        self.publish()

    def separation_done(self, strategy: str, seconds: float, duration_s: float) -> None:
        if duration_s <= 0 or seconds <= 0:
            return
        try:
            record_speed(self.redis, strategy, self.device, seconds / duration_s)
        except RedisError as error:
            log.warning("could not record the speed of %s: %s", strategy, error)

    def record(self) -> WorkerPresence:
        rt = runtime.current()
        loaded, loaded_bytes = _loaded(rt.models)
        job_id, queue, since = self._job or (None, None, None)
        return WorkerPresence(
            name=self.name,
            host=socket.gethostname(),
            pid=os.getpid(),
            device=self.device,
            queues=self.queues,
            current_job=job_id,
            current_queue=queue,
            job_started_at=since,
            models_loaded=loaded,
            models_bytes=loaded_bytes,
            rss_bytes=rss_bytes(),
            jobs_done=self.jobs_done,
            started_at=self.started_at,
            last_heartbeat=utcnow(),
            interval_s=self.interval_s,
            weights=local_report(rt.settings),
        )

    def publish(self) -> None:
        try:
            publish(self.redis, self.record())
        except RedisError as error:
            log.warning("could not report this worker's presence: %s", error)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.publish()


def _loaded(models: ModelCache) -> tuple[list[str], int]:
    # The job's thread may load a model while this one reads the cache: read again.
    for _ in range(3):
        try:
            return models.loaded, models.memory_bytes
        except RuntimeError:
            continue
    return [], 0


_current: PresenceReporter | None = None


def install(reporter: PresenceReporter | None) -> None:
    global _current
    _current = reporter


def current() -> PresenceReporter | None:
    """The running worker's reporter; None for a job run outside a worker."""
    return _current

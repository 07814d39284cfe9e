"""What a worker process keeps warm between jobs: settings, storage, loaded models,
and the job lifecycle (which announces each change on Redis)."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from redis import Redis

from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.queue import redis_connection
from stemdeck.core.settings import Settings, get_settings
from stemdeck.core.storage import Storage, prepared_storage
from stemdeck.core.strategies import Strategy, cached_strategies
from stemdeck.worker.models.cache import ModelCache

log = logging.getLogger(__name__)


# cgroup v2, then v1: the CPU time a container may use (Compose's `cpus:`, Kubernetes'
# CPU limit), which torch does not read: it counts the host's cores.
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_cgroups(root: Path) -> list[tuple[Path, Path]]:
    """(cgroup v2 cpu.max, cgroup v1 cpu folder) of this process's own cgroup, then of the
    root: a container's own cgroup is mounted as the root, while /proc/self/cgroup may
    still name its path on the host."""
    places = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":
            places.append((root / relative / "cpu.max", root / "none"))
        elif "cpu" in controllers.split(","):
            places.append((root / "none", root / "cpu" / relative))
    return [*places, (root / "cpu.max", root / "cpu")]


def cgroup_cpu_limit(v2: Path, v1: Path) -> int | None:
    """Whole CPUs a cgroup's quota allows (rounded up); None: no quota, or no such cgroup."""
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
        else:
            quota = (v1 / "cpu.cfs_quota_us").read_text().strip()
            period = (v1 / "cpu.cfs_period_us").read_text().strip()
        if quota in {"max", "-1"}:
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def cgroup_cpus(root: Path = CGROUP_ROOT) -> int | None:
    """The quota of this process's cgroup in whole CPUs; None when it has none."""
    for v2, v1 in _own_cgroups(root):
        if v2.exists() or (v1 / "cpu.cfs_quota_us").exists():
            return cgroup_cpu_limit(v2, v1)
    return None


def cpu_budget() -> tuple[int, str]:
    """The CPUs this process may use, and why: its CPU affinity (taskset, a cpuset such as
    Compose's `cpuset:`), capped by its cgroup's quota."""
    cpus, why = os.cpu_count() or 1, "the machine's CPUs"
    if hasattr(os, "sched_getaffinity"):
        cpus, why = len(os.sched_getaffinity(0)), "the CPUs this process may run on"
    quota = cgroup_cpus()
    if quota is not None and quota < cpus:
        cpus, why = quota, "its cgroup's CPU quota"
    return cpus, why


def limit_torch_threads(settings: Settings) -> None:
    """Set torch's threads: STEMDECK_TORCH_THREADS, or (0) what this process may use.

    torch's own default is one thread per core of the host, whatever a container is
    allowed, so several replicas on one host (or one under a CPU limit) fight for the
    cores. Each replica should get cores ÷ replicas: a CPU limit per replica does that on
    its own, else set STEMDECK_TORCH_THREADS.
    """
    try:
        import torch
    except ImportError:  # a worker without torch runs only the DSP strategies
        return
    if settings.torch_threads:
        threads, why = settings.torch_threads, "STEMDECK_TORCH_THREADS"
    else:
        budget, why = cpu_budget()
        threads = torch.get_num_threads()
        if budget < threads:
            threads = budget
        else:
            why = "torch's default: one per core"
    torch.set_num_threads(threads)
    log.info("torch uses %s thread(s) (%s)", threads, why)


def model_cache(settings: Settings) -> ModelCache:
    return ModelCache(
        settings.device.value,
        models_dir=settings.effective_models_dir,
        downloads=settings.model_downloads,
        memory_budget_bytes=settings.model_memory_mb * 1024 * 1024,
        mirror=settings.model_mirror,
    )


@dataclass
class WorkerRuntime:
    settings: Settings
    storage: Storage
    models: ModelCache
    strategies: dict[str, Strategy]
    lifecycle: JobLifecycle

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerRuntime:
        limit_torch_threads(settings)
        # Without Redis (a job run outside a worker) nobody listens for changes.
        redis: Redis | None = redis_connection(settings.redis_url) if settings.redis_url else None
        return cls(
            settings=settings,
            storage=prepared_storage(settings),
            models=model_cache(settings),
            strategies=cached_strategies(settings.strategies_file),
            lifecycle=JobLifecycle(
                settings.effective_database_url, lifecycle_listeners(redis, settings)
            ),
        )


_current: WorkerRuntime | None = None


def configure(runtime: WorkerRuntime) -> None:
    """Install the process-wide runtime (the worker command and tests call this)."""
    global _current
    _current = runtime


def current() -> WorkerRuntime:
    global _current
    if _current is None:
        _current = WorkerRuntime.from_settings(get_settings())
    return _current

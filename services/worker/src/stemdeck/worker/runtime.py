"""What a worker process keeps warm between jobs: settings, storage, loaded models,
and the job lifecycle (which announces each change on Redis)."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.queue import redis_connection
from stemdeck.core.settings import Settings, get_settings
from stemdeck.core.storage import Storage, prepared_storage
from stemdeck.core.strategies import Strategy, cached_strategies
from stemdeck.worker.models.cache import ModelCache


def limit_torch_threads(settings: Settings) -> None:
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)


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

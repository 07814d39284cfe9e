"""What a worker process keeps warm between jobs: settings, storage, loaded models."""

from __future__ import annotations

from dataclasses import dataclass

from stemdeck.core.settings import Settings, get_settings
from stemdeck.core.storage import Storage, make_storage
from stemdeck.core.strategies import Strategy, cached_strategies
from stemdeck.worker.models.cache import ModelCache


@dataclass
class WorkerRuntime:
    settings: Settings
    storage: Storage
    models: ModelCache
    strategies: dict[str, Strategy]

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerRuntime:
        return cls(
            settings=settings,
            storage=make_storage(settings),
            models=ModelCache(settings.device.value, models_dir=settings.effective_models_dir),
            strategies=cached_strategies(settings.strategies_file),
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

"""Can a model run now? Its weights are present, will download on first use, or are missing.

The API answers this without importing model code: it looks for the files the
catalog lists in STEMDECK_MODELS_DIR (a volume the workers share).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from stemdeck.core.catalog import ModelSpec
from stemdeck.core.settings import Settings
from stemdeck.core.strategies import Strategy


class ModelStatus(StrEnum):
    ready = "ready"
    download = "download"
    missing = "missing"


@dataclass(frozen=True)
class ModelReadiness:
    status: ModelStatus
    missing_files: tuple[Path, ...] = ()


def model_readiness(spec: ModelSpec, models_dir: Path, downloads: bool) -> ModelReadiness:
    absent = [w for w in spec.weights if not (models_dir / w.path).is_file()]
    if not absent:
        return ModelReadiness(ModelStatus.ready)
    if spec.bundled_in and importlib.util.find_spec(spec.bundled_in) is not None:
        return ModelReadiness(ModelStatus.ready)
    files = tuple(models_dir / w.path for w in absent)
    if downloads and all(w.url for w in absent):
        return ModelReadiness(ModelStatus.download, files)
    return ModelReadiness(ModelStatus.missing, files)


def strategy_readiness(strategy: Strategy, settings: Settings) -> dict[str, ModelReadiness]:
    by_id = {node.model.id: node.model for node in strategy.tree.walk()}
    return {
        model_id: model_readiness(spec, settings.effective_models_dir, settings.model_downloads)
        for model_id, spec in by_id.items()
    }


def missing_weights_message(strategy: Strategy, settings: Settings) -> str | None:
    """A message naming every file the strategy lacks, or None when it can run."""
    lacking = [
        (model_id, readiness.missing_files)
        for model_id, readiness in strategy_readiness(strategy, settings).items()
        if readiness.status is ModelStatus.missing
    ]
    if not lacking:
        return None
    parts = [f"{model_id}: {', '.join(str(f) for f in files)}" for model_id, files in lacking]
    return (
        f"Strategy {strategy.name!r} cannot run: model weights are missing and cannot be "
        f"downloaded here. Put these files in place (or run `stemdeck models` where the "
        f"network allows): {'; '.join(parts)}."
    )


def default_strategy(strategies: dict[str, Strategy], settings: Settings) -> str:
    """STEMDECK_DEFAULT_STRATEGY, or the first strategy in the file whose weights are present."""
    if settings.default_strategy:
        return settings.default_strategy
    for name, strategy in strategies.items():
        states = strategy_readiness(strategy, settings).values()
        if all(state.status is ModelStatus.ready for state in states):
            return name
    return next(iter(strategies))

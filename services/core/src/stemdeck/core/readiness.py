"""Can a model run now? Its weights are present, will download on first use, or are missing.

The API answers this without importing model code: it looks for the files the
catalog lists in STEMDECK_MODELS_DIR (a volume the workers share). "Download" is
promised only when downloads are on, every absent file has a pinned digest and a
source, and those sources answered a short check lately (weight_sources); else the
files are named as missing, relative to the models directory.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from stemdeck.core.catalog import ModelSpec, WeightFile
from stemdeck.core.settings import Settings
from stemdeck.core.strategies import Strategy
from stemdeck.core.weight_sources import SOURCE_CHECKS, SourceChecks
from stemdeck.core.weights import download_url


class ModelStatus(StrEnum):
    ready = "ready"
    download = "download"
    missing = "missing"


@dataclass(frozen=True)
class ModelReadiness:
    status: ModelStatus
    # Relative to the models directory: answers never show the server's own paths.
    missing_files: tuple[str, ...] = ()


def absent_weights(spec: ModelSpec, models_dir: Path) -> list[WeightFile]:
    """The files ``spec`` still needs (none when an installed package carries them)."""
    absent = [w for w in spec.weights if not (models_dir / w.path).is_file()]
    if absent and spec.bundled_in and importlib.util.find_spec(spec.bundled_in) is not None:
        return []
    return absent


def model_readiness(
    spec: ModelSpec,
    models_dir: Path,
    downloads: bool,
    mirror: str = "",
    checks: SourceChecks = SOURCE_CHECKS,
) -> ModelReadiness:
    absent = absent_weights(spec, models_dir)
    if not absent:
        return ModelReadiness(ModelStatus.ready)
    files = tuple(w.path for w in absent)
    urls = [download_url(w, mirror) for w in absent]
    fetchable = all(url and w.sha256 for url, w in zip(urls, absent, strict=True))
    if downloads and fetchable and checks.answered(url for url in urls if url):
        return ModelReadiness(ModelStatus.download, files)
    return ModelReadiness(ModelStatus.missing, files)


def strategy_readiness(strategy: Strategy, settings: Settings) -> dict[str, ModelReadiness]:
    by_id = {node.model.id: node.model for node in strategy.tree.walk()}
    return {
        model_id: model_readiness(
            spec, settings.effective_models_dir, settings.model_downloads, settings.model_mirror
        )
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
    parts = [f"{model_id}: {', '.join(files)}" for model_id, files in lacking]
    return (
        f"Strategy {strategy.name!r} cannot run: model weights are missing and cannot be "
        f"downloaded now. Put these files in the models directory (or run `stemdeck models` "
        f"where the network allows): {'; '.join(parts)}."
    )


def default_strategy(strategies: dict[str, Strategy], settings: Settings) -> str:
    """STEMDECK_DEFAULT_STRATEGY, or the first strategy in the file whose weights are present."""
    if settings.default_strategy:
        return settings.default_strategy
    models_dir = settings.effective_models_dir
    for name, strategy in strategies.items():
        if not any(absent_weights(node.model, models_dir) for node in strategy.tree.walk()):
            return name
    return next(iter(strategies))

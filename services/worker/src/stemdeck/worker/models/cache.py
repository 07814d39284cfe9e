"""Models kept warm for the life of a worker process.

Each model is created and loaded at most once, then kept across jobs; when the
loaded models outgrow the memory budget, the least recently used go first.
"""

from __future__ import annotations

import importlib.util
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from stemdeck.core.catalog import ModelSpec, model_spec
from stemdeck.core.settings import SettingsError
from stemdeck.core.weights import OnDownload, WeightsUnavailable, fetch_missing, missing_files
from stemdeck.worker.models import builtin
from stemdeck.worker.models.base import ModelError, SeparationModel
from stemdeck.worker.prometheus import MODEL_CACHE_BYTES, model_loading

log = logging.getLogger(__name__)

ModelFactory = Callable[[ModelSpec], SeparationModel]


def default_factories(models_dir: Path) -> dict[str, ModelFactory]:
    """Model family (the part of a model id before ':') -> what builds its models."""

    def spleeter_factory(spec: ModelSpec) -> SeparationModel:
        # Imported on first use: torch takes seconds to import, DSP-only workers never need it.
        from stemdeck.worker.models import spleeter

        return spleeter.create(spec, models_dir)

    def demucs_factory(spec: ModelSpec) -> SeparationModel:
        from stemdeck.worker.models import demucs

        return demucs.create(spec, models_dir)

    def uvr_factory(spec: ModelSpec) -> SeparationModel:
        from stemdeck.worker.models import uvr

        return uvr.create(spec, models_dir)

    return {
        "builtin": builtin.create,
        "spleeter": spleeter_factory,
        "demucs": demucs_factory,
        "uvr": uvr_factory,
    }


def resolve_device(requested: str) -> str:
    """``auto`` becomes the best accelerator torch can see; an absent one stops start-up."""
    if requested == "cpu":
        return "cpu"
    if importlib.util.find_spec("torch") is None:
        if requested == "auto":
            return "cpu"
        raise SettingsError(f"STEMDECK_DEVICE={requested} needs torch, which is not installed")
    import torch  # type: ignore[import-not-found, unused-ignore]  # only with weight-based families

    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if requested == "auto":
        return next((name for name, ok in available.items() if ok), "cpu")
    if not available.get(requested, False):
        raise SettingsError(
            f"STEMDECK_DEVICE={requested}, but torch sees no {requested} device here; "
            "use auto or cpu, or check the GPU driver and the CUDA build of torch"
        )
    return requested


class ModelCache:
    def __init__(
        self,
        device: str = "auto",
        factories: Mapping[str, ModelFactory] | None = None,
        *,
        models_dir: Path = Path("data/models"),
        downloads: bool = True,
        memory_budget_bytes: int | None = None,
        mirror: str = "",
    ) -> None:
        self.device = resolve_device(device)
        self.models_dir = models_dir
        self.mirror = mirror
        self._factories = default_factories(models_dir) if factories is None else factories
        self._downloads = downloads
        self._budget = memory_budget_bytes
        self._models: OrderedDict[str, SeparationModel] = OrderedDict()

    @property
    def loaded(self) -> list[str]:
        """Loaded model ids, least recently used first."""
        return list(self._models)

    @property
    def memory_bytes(self) -> int:
        return sum(model.memory_bytes for model in self._models.values())

    def get(self, model_id: str, on_download: OnDownload | None = None) -> SeparationModel:
        """The model, loaded; its absent weights fetched first (``on_download`` hears how
        that goes, every few seconds) where downloads are on."""
        model = self._models.get(model_id)
        if model is not None:
            self._models.move_to_end(model_id)
            return model
        with model_loading(model_id, self.device):
            model = self._create(model_id, on_download)
            # A model that fails to load is not kept: the next job tries again from scratch.
            model.load(self.device)
        self._models[model_id] = model
        self._evict_beyond_budget(keep=model_id)
        MODEL_CACHE_BYTES.set(self.memory_bytes)
        return model

    def _create(self, model_id: str, on_download: OnDownload | None) -> SeparationModel:
        spec = model_spec(model_id)
        if spec is None:
            raise ModelError(f"Unknown model {model_id!r}; this worker does not know it.")
        factory = self._factories.get(spec.family)
        if factory is None:
            raise ModelError(
                f"Model {model_id!r} needs the {spec.family!r} model family, which this worker "
                "does not have installed."
            )
        if not spec.bundled_in:
            self._ensure_weights(spec, on_download)
        return factory(spec)

    def _ensure_weights(self, spec: ModelSpec, on_download: OnDownload | None) -> None:
        absent = missing_files(spec, self.models_dir)
        if not absent:
            return
        if not self._downloads:
            names = ", ".join(str(path.relative_to(self.models_dir)) for path in absent)
            raise ModelError(
                f"{spec.id} needs {names} in the models directory; run `stemdeck models` where "
                "the network allows, or put the files there (STEMDECK_MODEL_DOWNLOADS is off, "
                "so workers do not download them)."
            )
        try:
            fetched = fetch_missing(
                spec, self.models_dir, mirror=self.mirror, on_progress=on_download
            )
            for path in fetched:
                log.info("downloaded %s", path)
        except WeightsUnavailable as error:
            raise ModelError(str(error)) from None

    def _evict_beyond_budget(self, keep: str) -> None:
        if self._budget is None:
            return
        while self.memory_bytes > self._budget and len(self._models) > 1:
            oldest = next(iter(self._models))
            if oldest == keep:
                break
            log.info("releasing %s to stay within the model memory budget", oldest)
            self._models.pop(oldest).release()

    def release(self) -> None:
        """Free every loaded model (at worker shutdown)."""
        for model in self._models.values():
            model.release()
        self._models.clear()
        MODEL_CACHE_BYTES.set(0)

"""Models kept warm for the life of a worker process: each is created and loaded once."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path

from stemdeck.core.catalog import ModelSpec, model_spec
from stemdeck.worker.models import builtin
from stemdeck.worker.models.base import ModelError, SeparationModel

ModelFactory = Callable[[ModelSpec], SeparationModel]


def default_factories(models_dir: Path) -> dict[str, ModelFactory]:
    """Model family (the part of a model id before ':') -> what builds its models."""

    def spleeter_factory(spec: ModelSpec) -> SeparationModel:
        # Imported on first use: torch takes seconds to import, DSP-only workers never need it.
        from stemdeck.worker.models import spleeter

        return spleeter.create(spec, models_dir)

    return {"builtin": builtin.create, "spleeter": spleeter_factory}


def resolve_device(requested: str) -> str:
    """``auto`` becomes the best accelerator torch can see, or ``cpu`` without torch."""
    if requested != "auto":
        return requested
    if importlib.util.find_spec("torch") is None:
        return "cpu"
    import torch  # type: ignore[import-not-found, unused-ignore]  # only with weight-based families

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class ModelCache:
    def __init__(
        self,
        device: str = "auto",
        factories: Mapping[str, ModelFactory] | None = None,
        *,
        models_dir: Path = Path("data/models"),
    ) -> None:
        self.device = resolve_device(device)
        self._factories = default_factories(models_dir) if factories is None else factories
        self._models: dict[str, SeparationModel] = {}

    @property
    def loaded(self) -> list[str]:
        return list(self._models)

    def get(self, model_id: str) -> SeparationModel:
        model = self._models.get(model_id)
        if model is None:
            model = self._create(model_id)
            model.load(self.device)
            self._models[model_id] = model
        return model

    def _create(self, model_id: str) -> SeparationModel:
        spec = model_spec(model_id)
        if spec is None:
            raise ModelError(f"Unknown model {model_id!r}; this worker does not know it.")
        factory = self._factories.get(spec.family)
        if factory is None:
            raise ModelError(
                f"Model {model_id!r} needs the {spec.family!r} model family, which this worker "
                "does not have installed."
            )
        return factory(spec)

    def release(self) -> None:
        """Free every loaded model (at worker shutdown)."""
        for model in self._models.values():
            model.release()
        self._models.clear()

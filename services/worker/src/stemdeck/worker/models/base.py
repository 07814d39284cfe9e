"""The one interface every model family implements.

Model code knows nothing of queues or jobs: it takes audio and a progress
callback and returns one array per declared output slot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from stemdeck.core.catalog import ModelSpec

SAMPLE_RATE = 44_100

Audio = npt.NDArray[np.float32]
"""Stereo float32 audio at SAMPLE_RATE, shape (2, samples)."""

Progress = Callable[[float], None]
"""Called with the fraction (0–1) of this model's work done; only moves forward."""


class RestartableProgress:
    """A pass's 0-1 progress; after ``restart`` a new pass fills what is left of the bar,
    so a retry (a smaller segment after running out of GPU memory) moves it on from where
    the failed pass stopped."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._base = 0.0
        self._last = 0.0

    def restart(self) -> None:
        self._base = self._last

    def __call__(self, fraction: float) -> None:
        self._last = self._base + (1 - self._base) * fraction
        self._progress(self._last)


class ModelError(Exception):
    """A model that cannot load or run; the message is shown to the user."""


def out_of_gpu_memory(model_id: str, *, retried: bool) -> ModelError:
    """What a job says when its model ran out of GPU memory (after the retry, if any)."""
    when = ", even on a retry with half-length segments" if retried else ""
    return ModelError(
        f"{model_id} ran out of GPU memory{when}. Free GPU memory (fewer workers or models "
        "per GPU, a smaller STEMDECK_MODEL_MEMORY_MB) or run this worker on the CPU "
        "(STEMDECK_DEVICE=cpu)."
    )


class SeparationModel(ABC):
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @property
    def slots(self) -> tuple[str, ...]:
        return self.spec.slots

    def load(self, device: str) -> None:  # noqa: B027 - weight-free models need no loading
        """Load weights onto ``device``; called once per worker process."""

    def require_stereo(self, audio: Audio) -> None:
        if audio.ndim != 2 or audio.shape[0] != 2:
            raise ModelError(f"{self.spec.id} takes stereo audio (2, samples), got {audio.shape}")

    @abstractmethod
    def separate(
        self, audio: Audio, params: dict[str, float], progress: Progress
    ) -> dict[str, Audio]:
        """Split ``audio`` into one array (same shape) per slot in ``self.slots``."""

    def release(self) -> None:  # noqa: B027 - weight-free models hold nothing
        """Free what ``load`` took (GPU memory, large arrays)."""

    @property
    def memory_bytes(self) -> int:
        """What the loaded model holds (weights), for the cache's memory budget."""
        return 0

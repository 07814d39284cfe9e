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


class ModelError(Exception):
    """A model that cannot load or run; the message is shown to the user."""


class SeparationModel(ABC):
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @property
    def slots(self) -> tuple[str, ...]:
        return self.spec.slots

    def load(self, device: str) -> None:  # noqa: B027 - weight-free models need no loading
        """Load weights onto ``device``; called once per worker process."""

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

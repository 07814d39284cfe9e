"""What the torch model families (spleeter, demucs, uvr) share: the checks before a
separation, and the one retry at a smaller size when the GPU runs out of memory.

Kept apart from ``base`` because it imports torch, which the built-in DSP models and
the workers that only run them never load.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TypeVar

import torch

from stemdeck.worker.models.base import Audio, ModelError, Progress, SeparationModel

_T = TypeVar("_T")


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


def out_of_gpu_memory(model_id: str, *, retried: bool) -> ModelError:
    """What a job says when its model ran out of GPU memory (after the retry, if any)."""
    when = ", even on a retry with half-length segments" if retried else ""
    return ModelError(
        f"{model_id} ran out of GPU memory{when}. Free GPU memory (fewer workers or models "
        "per GPU, a smaller STEMDECK_MODEL_MEMORY_MB) or run this worker on the CPU "
        "(STEMDECK_DEVICE=cpu)."
    )


def empty_cuda_cache() -> None:
    """Hands the blocks torch's allocator keeps cached back to the GPU."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class TorchModel(SeparationModel):
    """A model with weights that ``load`` puts on a device; subclasses say what one pass
    is (``_separate``) and what a smaller one is (see ``_retry_on_gpu_oom``)."""

    @property
    @abstractmethod
    def loaded(self) -> bool:
        """Whether ``load`` has run (and ``release`` has not since)."""

    def separate(
        self, audio: Audio, params: dict[str, float], progress: Progress
    ) -> dict[str, Audio]:
        if not self.loaded:
            raise ModelError(f"{self.spec.id} was not loaded")
        if audio.ndim != 2 or audio.shape[0] != 2:
            raise ModelError(f"{self.spec.id} takes stereo audio (2, samples), got {audio.shape}")
        try:
            settings = self.spec.resolve_params(params)
        except ValueError as error:
            raise ModelError(str(error)) from error
        if audio.shape[1] == 0:
            return {slot: audio.copy() for slot in self.slots}
        return self._separate(audio, settings, RestartableProgress(progress))

    @abstractmethod
    def _separate(
        self, audio: Audio, settings: dict[str, float], progress: RestartableProgress
    ) -> dict[str, Audio]:
        """``separate`` for stereo, non-empty ``audio`` and resolved ``settings``, on a
        loaded model."""

    def _retry_on_gpu_oom(
        self,
        progress: RestartableProgress,
        run: Callable[[bool], _T],
        *,
        can_retry: bool = True,
    ) -> _T:
        """``run(False)``: one pass. Should it run out of GPU memory, ``run(True)``: one
        more at the family's smaller size, on what is left of the progress bar; running
        out again (or a model that ``can_retry`` no smaller) is a ModelError saying what
        to do."""
        try:
            return run(False)
        except torch.cuda.OutOfMemoryError:
            pass  # retried outside this block, so the failed pass's tensors can be freed
        self._free_gpu_memory()
        if not can_retry:
            raise out_of_gpu_memory(self.spec.id, retried=False)
        progress.restart()
        try:
            return run(True)
        except torch.cuda.OutOfMemoryError as error:
            self._free_gpu_memory()
            raise out_of_gpu_memory(self.spec.id, retried=True) from error

    def _free_gpu_memory(self) -> None:
        """What a failed pass left cached goes back to the GPU before the retry."""
        empty_cuda_cache()

"""Demucs (htdemucs, htdemucs_ft, htdemucs_6s, hdemucs_mmi, mdx_extra) through the demucs package.

Weights load through demucs_checkpoints (each file checked against its pinned
SHA-256, unpickled weights-only, the model built by demucs's own ``load_model`` into
a ``BagOfModels``), and separation is demucs's ``apply_model``, called the way its
own ``separate`` command calls it; this module adds progress, what the GPU-memory
retry (torch_base) runs smaller, and Stemdeck's error messages around them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from demucs.apply import BagOfModels, Model, apply_model

from stemdeck.core.catalog import ModelSpec
from stemdeck.worker.models.base import Audio, ModelError, Progress
from stemdeck.worker.models.demucs_checkpoints import load_bag
from stemdeck.worker.models.demucs_weights import ensure_present, model_name
from stemdeck.worker.models.torch_base import RestartableProgress, TorchModel, empty_cuda_cache

# apply_model shifts the input by up to this much for each shift.
MAX_SHIFT_S = 0.5
# On running out of GPU memory, the one retry uses segments this much shorter.
RETRY_SEGMENT_FACTOR = 0.5


AnyModel = BagOfModels | Model
"""What demucs's get_model gives: a bag of models or a single one."""


def members(model: AnyModel) -> list[Model]:
    if isinstance(model, BagOfModels):
        # Its ModuleList holds the models BagOfModels was built from.
        return cast(list[Model], list(model.models))
    return [model]


def chunk_count(member: Model, length: int, overlap: float, shifts: int) -> int:
    """How many chunks apply_model runs ``member`` on, as its split loop cuts them.

    With shifts, each pass sees a randomly longer input, so this is the most it can be.
    """
    segment_length = int(member.samplerate * member.segment)
    stride = int((1 - overlap) * segment_length)
    if not shifts:
        return len(range(0, length, stride))
    longest = length + int(MAX_SHIFT_S * member.samplerate)
    return shifts * len(range(0, longest, stride))


class ChunkMeter:
    """apply_model's per-chunk callbacks -> a pass's progress, every bag member weighed equally.

    Each ``start`` begins a pass from 0; within one the fraction only ever moves forward.
    """

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._last = 0.0
        self._chunks: list[int] = []
        self._done: list[int] = []

    def start(self, chunks: list[int]) -> None:
        self._last = 0.0
        self._chunks = chunks
        self._done = [0] * len(chunks)

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("state") != "end":
            return
        self._done[event["model_idx_in_bag"]] += 1
        shares = [min(d / n, 1.0) for d, n in zip(self._done, self._chunks, strict=True)]
        self._report(sum(shares) / len(shares))

    def finish(self) -> None:
        self._report(1.0)  # shifts' chunk counts are upper bounds: the last may fall short

    def _report(self, value: float) -> None:
        if value > self._last:
            self._last = value
            self._progress(value)


@contextmanager
def shorter_segments(model: AnyModel, factor: float) -> Iterator[None]:
    """Every member's segment scaled by ``factor`` while inside.

    Setting the attribute, as BagOfModels does with a bag's segment, is what shrinks a
    transformer model's working memory: apply_model's ``segment`` argument would only
    cut shorter chunks, which HTDemucs pads back to its trained length.
    """
    saved = [member.segment for member in members(model)]
    try:
        for member, segment in zip(members(model), saved, strict=True):
            member.segment = segment * factor
        yield
    finally:
        for member, segment in zip(members(model), saved, strict=True):
            member.segment = segment


def load_pretrained(spec: ModelSpec, models_dir: Path) -> AnyModel:
    """``spec``'s bag from the models dir; ModelError naming a file that is absent or refused."""
    ensure_present(spec, models_dir)
    return load_bag(spec, models_dir, model_name(spec))


class DemucsModel(TorchModel):
    """``demucs:<name>``: the slots are the model's sources."""

    def __init__(self, spec: ModelSpec, models_dir: Path) -> None:
        super().__init__(spec)
        self.models_dir = models_dir
        self._model: AnyModel | None = None
        self._device = torch.device("cpu")

    def load(self, device: str) -> None:
        model = load_pretrained(self.spec, self.models_dir)
        if sorted(model.sources) != sorted(self.slots):
            raise ModelError(
                f"{self.spec.id} separates {model.sources}, but the catalog declares "
                f"{list(self.slots)}; its files are for another model"
            )
        target = torch.device(device)
        self._device = target
        try:
            # Kept on the device for good: apply_model moves a bag's members there and back
            # for every job otherwise.
            self._model = model.to(target)
            return
        except torch.cuda.OutOfMemoryError:
            pass  # handled outside this block, whose traceback still holds the model
        del model  # what did reach the GPU is freed before the cache is emptied
        self._free_gpu_memory()
        raise ModelError(
            f"{self.spec.id} does not fit in the GPU's free memory; free some (fewer workers "
            "or models per GPU, a smaller STEMDECK_MODEL_MEMORY_MB) or run this worker on "
            "the CPU (STEMDECK_DEVICE=cpu)."
        )

    @property
    def memory_bytes(self) -> int:
        if self._model is None:
            return 0
        tensors = [*self._model.parameters(), *self._model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _separate(
        self, audio: Audio, settings: dict[str, float], progress: RestartableProgress
    ) -> dict[str, Audio]:
        model = self._model
        assert model is not None  # separate() checked it
        shifts, overlap = int(settings["shifts"]), settings["overlap"]
        length = audio.shape[1]

        # Normalised by the mono mix's statistics, as demucs's Separator does.
        mix = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
        reference = mix.mean(0)
        # A single sample has no spread to measure (its std is NaN): it is left unscaled.
        std = reference.std() + 1e-8 if length > 1 else torch.tensor(1.0)
        mean = reference.mean()
        normalised = ((mix - mean) / std)[None]

        meter = ChunkMeter(progress)
        out = self._apply(model, normalised, shifts, overlap, meter, progress)
        stems = (out[0] * std + mean).numpy().astype(np.float32, copy=False)
        meter.finish()
        by_source = dict(zip(model.sources, stems, strict=True))
        return {slot: by_source[slot] for slot in self.slots}

    def _apply(
        self,
        model: AnyModel,
        mix: torch.Tensor,
        shifts: int,
        overlap: float,
        meter: ChunkMeter,
        progress: RestartableProgress,
    ) -> torch.Tensor:
        """apply_model, retried once with shorter segments when the GPU runs out of memory."""

        def run(shorter: bool) -> torch.Tensor:
            with shorter_segments(model, RETRY_SEGMENT_FACTOR) if shorter else nullcontext():
                meter.start(
                    [chunk_count(m, mix.shape[-1], overlap, shifts) for m in members(model)]
                )
                # The track stays in CPU memory and only chunks go to the device, as in
                # demucs's Separator: a long song's stems would not fit beside the model.
                return apply_model(
                    model,
                    mix,
                    shifts=shifts,
                    split=True,
                    overlap=overlap,
                    device=self._device,
                    callback=meter,
                )

        return self._retry_on_gpu_oom(progress, run)

    def release(self) -> None:
        self._model = None
        empty_cuda_cache()


def create(spec: ModelSpec, models_dir: Path) -> DemucsModel:
    """Factory the model cache registers for the ``demucs`` family."""
    return DemucsModel(spec, models_dir)

"""UVR models — BS-RoFormer, Mel-RoFormer, MDX23C, MDX-Net — through audio-separator.

Loading is audio-separator's own ``Separator.load_model`` (see uvr_loader). Separation
calls the loaded architecture's ``demix`` on the array in memory: the step its
``separate`` runs once it has read the input file. What ``separate`` adds around that
serves its command-line use and is left out: the file round trip (an encoder and a
decoder for each stem), and scaling every stem that peaks above 0.9 down to 0.9, which
would leave stems that no longer sum to the mix. The input is scaled for the model as
``separate`` scales it, and the stems are scaled back, so they keep the mix's level.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from torch import nn

from stemdeck.core.catalog import ModelSpec
from stemdeck.worker.models.base import SAMPLE_RATE, Audio, ModelError, Progress
from stemdeck.worker.models.torch_base import RestartableProgress, TorchModel, empty_cuda_cache
from stemdeck.worker.models.uvr_loader import config_file, folder, load_architecture, model_file

# audio-separator's default normalization threshold: its ``separate`` turns RoFormer and
# MDX23C input louder than this down to it before demixing, so the models see that level.
MDXC_PEAK = 0.9
# UVR's stem names that mean "everything but the vocals" in a vocals model.
_INSTRUMENTAL_ALIASES = frozenset({"other", "inst", "instrumental", "no vocals", "no_vocals"})

_T = TypeVar("_T")
# demix reports its chunks through its module's tqdm, swapped for the duration of a
# call; one separation at a time per process keeps the swap unambiguous.
_DEMIX_LOCK = threading.Lock()

# float32 or float64, as the architecture returns them; fit() makes them float32.
Stems = dict[str, npt.NDArray[Any]]


def slot_for(stem: str, stems: Sequence[str]) -> str:
    """The Stemdeck slot for one of a model's UVR stem names (``Vocals``, ``other``, …)."""
    name = stem.lower()
    others = {s.lower() for s in stems} - {name}
    if name in _INSTRUMENTAL_ALIASES and others == {"vocals"}:
        return "instrumental"
    return name


def stem_names(instance: Any) -> list[str]:
    """The stems a loaded audio-separator model produces, named as it names them."""
    training = getattr(getattr(instance, "model_data_cfgdict", None), "training", None)
    if training is not None and not training.target_instrument:
        instruments = list(training.instruments)
        if len(instruments) > 1:
            return instruments
        return [instance.primary_stem_name]
    # A single target (RoFormer vocals, MDX-Net): the rest of the mix is the second stem.
    return [instance.primary_stem_name, instance.secondary_stem_name]


@contextmanager
def chunk_progress(instance: Any, progress: Progress) -> Iterator[None]:
    """Each chunk the model's demix loop finishes -> ``progress``, through the loop's tqdm."""
    module = importlib.import_module(type(instance).__module__)

    def tracked(iterable: Iterable[_T], *args: Any, **kwargs: Any) -> Iterator[_T]:
        items = list(iterable)
        for done, item in enumerate(items, 1):
            yield item
            progress(done / len(items))

    with _DEMIX_LOCK:
        original = getattr(module, "tqdm")  # noqa: B009 - a module global, set back below
        setattr(module, "tqdm", tracked)  # noqa: B010
        try:
            yield
        finally:
            setattr(module, "tqdm", original)  # noqa: B010


def mdxc_segment(instance: Any, samples: int) -> int:
    """The STFT frames per chunk a RoFormer or MDX23C model runs on for this length."""
    # Under 10 s, audio-separator switches to its configured (shorter) segment size.
    if instance._use_model_segment_override(samples / SAMPLE_RATE):
        return int(instance.segment_size)
    return int(instance.model_data_cfgdict.inference.dim_t)


def demix_mdxc(instance: Any, mix: Audio, segment: int | None = None) -> Stems:
    """A RoFormer or MDX23C model's stems, at the level of ``mix``, in chunks of
    ``segment`` STFT frames (by default the ones audio-separator picks)."""
    peak = float(np.abs(mix).max())
    gain = MDXC_PEAK / peak if peak > MDXC_PEAK else 1.0
    configured = instance.segment_size
    instance.segment_size = segment or mdxc_segment(instance, mix.shape[1])
    try:
        sources = instance.demix(mix * gain, override_model_segment_size=True)
    finally:
        instance.segment_size = configured
    if not isinstance(sources, dict):  # a single-instrument model without a target
        sources = {instance.primary_stem_name: sources}
    return {name: np.asarray(source) / gain for name, source in sources.items()}


def demix_mdx(instance: Any, mix: Audio) -> Stems:
    """An MDX-Net model's primary stem and the rest, at the level of ``mix``.

    As UVR's MDX-Net inference does, the model sees the mix at peak 1, and the other
    stem is the mix less the primary one scaled by the model's compensation. (The second,
    differently chunked pass audio-separator's ``separate`` also runs feeds only its
    spectrogram-inversion option, which is off, so it is not run.)
    """
    peak = float(np.abs(mix).max()) or 1.0
    normalised = mix / peak
    # Its overlap-add divides by a window sum that is zero at the padding's edges; those
    # samples are cut off before it returns.
    with np.errstate(invalid="ignore", divide="ignore"):
        primary = np.asarray(instance.demix(normalised))
    secondary = normalised - primary * instance.compensate
    return {
        instance.primary_stem_name: primary * peak,
        instance.secondary_stem_name: secondary * peak,
    }


def fit(source: npt.NDArray[Any], samples: int) -> Audio:
    """float32 (2, samples): STFT round trips can come back a few samples long or short."""
    out = np.zeros((2, samples), np.float32)
    kept = min(samples, source.shape[-1])
    out[:, :kept] = source[:, :kept]
    return out


class UVRModel(TorchModel):
    """``uvr:<model file>``: a UVR-format checkpoint; the slots come from its config."""

    def __init__(self, spec: ModelSpec, models_dir: Path) -> None:
        super().__init__(spec)
        self.models_dir = models_dir
        self._instance: Any = None
        self._slots: dict[str, str] = {}
        self._memory = 0

    def load(self, device: str) -> None:
        instance = load_architecture(self.spec, self.models_dir, device)
        stems = stem_names(instance)
        slots = {stem: slot_for(stem, stems) for stem in stems}
        if sorted(slots.values()) != sorted(self.slots):
            raise ModelError(
                f"{self.spec.id} separates {stems}, but the catalog declares "
                f"{list(self.slots)}; its files are for another model"
            )
        self._instance, self._slots = instance, slots
        self._memory = self._weight_bytes(instance)

    def _weight_bytes(self, instance: Any) -> int:
        network = instance.model_run
        if isinstance(network, nn.Module):
            tensors = [*network.parameters(), *network.buffers()]
            return sum(t.numel() * t.element_size() for t in tensors)
        # An ONNX Runtime session: its weights are about the size of the file.
        return (folder(self.models_dir) / model_file(self.spec)).stat().st_size

    @property
    def memory_bytes(self) -> int:
        return self._memory if self._instance is not None else 0

    @property
    def loaded(self) -> bool:
        return self._instance is not None

    def _separate(
        self, audio: Audio, settings: dict[str, float], progress: RestartableProgress
    ) -> dict[str, Audio]:
        instance = self._instance
        samples = audio.shape[1]
        mix = np.ascontiguousarray(audio, dtype=np.float32)
        progress(0.0)
        # MDX-Net's ONNX graph has its chunk length built in, so it cannot retry smaller.
        mdxc = config_file(self.spec) is not None

        def demix(halved: bool) -> Stems:
            with chunk_progress(instance, progress):
                if not mdxc:
                    return demix_mdx(instance, mix)
                segment = mdxc_segment(instance, samples) // 2 if halved else None
                return demix_mdxc(instance, mix, segment)

        try:
            stems = self._retry_on_gpu_oom(progress, demix, can_retry=mdxc)
        finally:
            instance.clear_gpu_cache()
        by_slot = {self._slots[stem]: fit(source, samples) for stem, source in stems.items()}
        if not all(np.isfinite(stem).all() for stem in by_slot.values()):
            raise ModelError(f"{self.spec.id} produced non-finite samples for this input")
        progress(1.0)
        return {slot: by_slot[slot] for slot in self.slots}

    def _free_gpu_memory(self) -> None:
        # audio-separator's own, which knows the device the model runs on (CUDA or MPS).
        self._instance.clear_gpu_cache()

    def release(self) -> None:
        self._instance = None
        self._memory = 0
        empty_cuda_cache()


def create(spec: ModelSpec, models_dir: Path) -> UVRModel:
    """Factory the model cache registers for the ``uvr`` family."""
    return UVRModel(spec, models_dir)

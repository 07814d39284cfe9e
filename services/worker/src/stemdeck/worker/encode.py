"""Writing a stem in each output format, block by block so no full-length copy is made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from stemdeck.core.formats import FORMATS
from stemdeck.worker.audio import BLOCK_FRAMES, Resampler
from stemdeck.worker.models.base import SAMPLE_RATE, Audio


def encode(audio: Audio, format_id: str, path: Path) -> None:
    """Write ``audio`` (within [-1, 1]) to ``path`` as ``format_id``."""
    output = FORMATS.get(format_id)
    if output is None:
        raise ValueError(f"unknown output format {format_id!r} (known: {', '.join(FORMATS)})")
    codec = output.codec
    rate = codec.sample_rate or SAMPLE_RATE
    resampler = Resampler(SAMPLE_RATE, rate) if rate != SAMPLE_RATE else None
    with sf.SoundFile(
        str(path),
        "w",
        samplerate=rate,
        channels=audio.shape[0],
        format=codec.container,
        subtype=codec.subtype,
        compression_level=codec.compression_level,
        bitrate_mode=codec.bitrate_mode,
    ) as out:
        for start in range(0, audio.shape[1], BLOCK_FRAMES):
            block = audio[:, start : start + BLOCK_FRAMES]
            for part in resampler.push(block) if resampler else [block]:
                out.write(np.ascontiguousarray(part.T))
        if resampler:
            out.write(np.ascontiguousarray(resampler.finish().T))

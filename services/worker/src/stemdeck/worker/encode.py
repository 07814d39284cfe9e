"""Writing a stem in each output format, block by block so no full-length copy is made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from stemdeck.worker.audio import BLOCK_FRAMES, Resampler
from stemdeck.worker.models.base import SAMPLE_RATE, Audio


@dataclass(frozen=True)
class Codec:
    container: str
    subtype: str
    sample_rate: int = SAMPLE_RATE
    # libsndfile's 0 (best) .. 1 (smallest) scale: 0.1 is LAME VBR around 190 kbit/s,
    # 0.7 is Opus around 160 kbit/s for stereo; both transparent for most listeners.
    compression_level: float | None = None
    bitrate_mode: str | None = None


# One entry per id in stemdeck.core.formats.FORMATS.
CODECS: dict[str, Codec] = {
    "wav": Codec("WAV", "PCM_16"),
    "wav24": Codec("WAV", "PCM_24"),
    "flac": Codec("FLAC", "PCM_24"),
    "mp3": Codec("MP3", "MPEG_LAYER_III", compression_level=0.1, bitrate_mode="VARIABLE"),
    # Opus only runs at 48 kHz (and lower rates that would lose treble).
    "opus": Codec("OGG", "OPUS", sample_rate=48_000, compression_level=0.7),
}


def encode(audio: Audio, format_id: str, path: Path) -> None:
    """Write ``audio`` (within [-1, 1]) to ``path`` as ``format_id``."""
    codec = CODECS.get(format_id)
    if codec is None:
        raise ValueError(f"unknown output format {format_id!r} (known: {', '.join(CODECS)})")
    resampler = (
        Resampler(SAMPLE_RATE, codec.sample_rate) if codec.sample_rate != SAMPLE_RATE else None
    )
    with sf.SoundFile(
        str(path),
        "w",
        samplerate=codec.sample_rate,
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

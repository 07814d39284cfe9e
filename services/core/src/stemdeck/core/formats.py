"""Output formats a job can ask for, and how each is written: the one declaration.

The API serves this table (GET /api/formats, ids, labels, which are lossless), the
web app builds its format choices from that, and the worker encodes from ``codec``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


# FORMATS below holds one entry per id (a unit test checks it).
class FormatId(StrEnum):
    """An output format, as a job's `formats` names it; GET /api/formats describes each."""

    wav = "wav"
    wav24 = "wav24"
    flac = "flac"
    mp3 = "mp3"
    opus = "opus"


@dataclass(frozen=True)
class Codec:
    """libsndfile's names and settings (soundfile's format, subtype, …); plain values,
    so core describes the encoding without importing soundfile."""

    container: str
    subtype: str
    # None: the rate the stems are processed at (44.1 kHz).
    sample_rate: int | None = None
    # libsndfile's 0 (best) .. 1 (smallest) scale: 0.1 is LAME VBR around 190 kbit/s,
    # 0.7 is Opus around 160 kbit/s for stereo; both transparent for most listeners.
    compression_level: float | None = None
    bitrate_mode: str | None = None


@dataclass(frozen=True)
class OutputFormat:
    id: FormatId
    extension: str
    media_type: str
    label: str
    lossless: bool
    codec: Codec


FORMATS: dict[str, OutputFormat] = {
    f.id: f
    for f in (
        OutputFormat(
            FormatId.wav,
            "wav",
            "audio/wav",
            "WAV 16-bit",
            lossless=True,
            codec=Codec("WAV", "PCM_16"),
        ),
        OutputFormat(
            FormatId.wav24,
            "wav",
            "audio/wav",
            "WAV 24-bit",
            lossless=True,
            codec=Codec("WAV", "PCM_24"),
        ),
        OutputFormat(
            FormatId.flac,
            "flac",
            "audio/flac",
            "FLAC 24-bit",
            lossless=True,
            codec=Codec("FLAC", "PCM_24"),
        ),
        OutputFormat(
            FormatId.mp3,
            "mp3",
            "audio/mpeg",
            "MP3 (VBR, high quality)",
            lossless=False,
            codec=Codec("MP3", "MPEG_LAYER_III", compression_level=0.1, bitrate_mode="VARIABLE"),
        ),
        OutputFormat(
            FormatId.opus,
            "opus",
            "audio/ogg",
            "Opus 48 kHz",
            lossless=False,
            # Opus only runs at 48 kHz (and lower rates that would lose treble).
            codec=Codec("OGG", "OPUS", sample_rate=48_000, compression_level=0.7),
        ),
    )
}


def download_filename(stem: str, format_id: str) -> str:
    fmt = FORMATS[format_id]
    suffix = ".24bit" if format_id == "wav24" else ""
    return f"{stem}{suffix}.{fmt.extension}"

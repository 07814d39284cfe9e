"""Output formats a job can ask for, and how each is written."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFormat:
    id: str
    extension: str
    media_type: str
    label: str
    lossless: bool


FORMATS: dict[str, OutputFormat] = {
    f.id: f
    for f in (
        OutputFormat("wav", "wav", "audio/wav", "WAV 16-bit", lossless=True),
        OutputFormat("wav24", "wav", "audio/wav", "WAV 24-bit", lossless=True),
        OutputFormat("flac", "flac", "audio/flac", "FLAC 24-bit", lossless=True),
        OutputFormat("mp3", "mp3", "audio/mpeg", "MP3 (VBR, high quality)", lossless=False),
        OutputFormat("opus", "opus", "audio/ogg", "Opus 48 kHz", lossless=False),
    )
}


def download_filename(stem: str, format_id: str) -> str:
    fmt = FORMATS[format_id]
    suffix = ".24bit" if format_id == "wav24" else ""
    return f"{stem}{suffix}.{fmt.extension}"

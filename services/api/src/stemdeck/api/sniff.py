"""Which container an upload is, from its first bytes (the client's name is not trusted)."""

from __future__ import annotations

SNIFF_BYTES = 16


def sniff_extension(head: bytes) -> str | None:
    """The extension to store the source under, or None if this is no audio we know."""
    if len(head) >= 12:
        riff, form = head[:4], head[8:12]
        if riff in (b"RIFF", b"RF64", b"BW64") and form == b"WAVE":
            return "wav"
        if riff == b"FORM" and form in (b"AIFF", b"AIFC"):
            return "aiff"
        if head[4:8] == b"ftyp":
            return "m4a"
        if head[:4] == b"riff" and head[4:8] == b"\x2e\x91\xcf\x11":  # Sony Wave64 GUID
            return "w64"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"caff"):
        return "caf"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska / WebM
        return "webm"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG frame sync. Layer bits 00 are not MPEG audio: that is ADTS (AAC).
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None

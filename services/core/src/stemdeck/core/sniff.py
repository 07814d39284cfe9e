"""Which container a file is, from its first bytes (neither a client's file name nor a
server's Content-Type is trusted).

The answer also chooses the one demuxer ffmpeg may read the file with (probe.py):
left to guess, ffmpeg takes a text file for a playlist or a stream description
(HLS, concat, SDP), even behind an ID3 tag, and opens whatever it names.
"""

from __future__ import annotations

SNIFF_BYTES = 16
ID3_HEADER_BYTES = 10

# Text formats that name other files or streams instead of holding audio, as the
# words a refusal uses for them. Compared case-insensitively after a BOM and white
# space; the first bytes of a real audio container never look like these.
_POINTER_SIGNATURES = (
    (b"#EXTM3U", "an HLS or M3U playlist"),
    (b"#EXTINF", "an M3U playlist"),
    (b"ffconcat", "an ffmpeg concat list"),
    (b"[playlist]", "a PLS playlist"),
    (b"v=0", "an SDP stream description"),
    (b"<?xml", "an XML document (a DASH manifest or an XSPF playlist, say)"),
    (b"<MPD", "a DASH manifest"),
    (b"<smil", "a SMIL playlist"),
    (b"<asx", "an ASX playlist"),
    (b"<playlist", "an XSPF playlist"),
)


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


def id3_tag_length(head: bytes) -> int:
    """Bytes of the ID3v2 tag ``head`` starts with (header, body and footer), 0 if none.

    The same test ffmpeg makes before it skips a tag and guesses the format of what
    follows, so a file is judged by the bytes ffmpeg would judge it by.
    """
    if len(head) < ID3_HEADER_BYTES or not head.startswith(b"ID3"):
        return 0
    if head[3] == 0xFF or head[4] == 0xFF or any(byte & 0x80 for byte in head[6:10]):
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # 7 bits a byte
    footer = ID3_HEADER_BYTES if head[5] & 0x10 else 0
    return ID3_HEADER_BYTES + size + footer


def pointer_kind(head: bytes) -> str | None:
    """What kind of playlist or stream description ``head`` starts, in words; None if none."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    for signature, kind in _POINTER_SIGNATURES:
        if text.startswith(signature.lower()):
            return kind
    return None

"""What is this file? Audio probing and decode validation, without torch.

soundfile (libsndfile) reads WAV, AIFF, FLAC, Ogg Vorbis/Opus and MP3 itself;
ffmpeg/ffprobe take the rest (m4a/aac, video containers).

ffmpeg never guesses a file's format here: it reads each file with the one
demuxer its first bytes name (sniff.py), through the file protocol only. Left
to guess, it reads an upload that is really an HLS playlist, a concat list or an
SDP description, and opens the files or streams that names, on the server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import soundfile as sf

from stemdeck.core.sniff import SNIFF_BYTES, id3_tag_length, pointer_kind, sniff_extension

BLOCK_FRAMES = 1 << 16

# libsndfile major formats → the extension we store the source under.
_SOUNDFILE_EXTENSIONS = {
    "WAV": "wav",
    "WAVEX": "wav",
    "RF64": "wav",
    "W64": "w64",
    "AIFF": "aiff",
    "FLAC": "flac",
    "OGG": "ogg",
    "MP3": "mp3",
    "CAF": "caf",
}
_FFMPEG_EXTENSIONS = {
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "aac": "aac",
    "matroska,webm": "webm",
    "ogg": "ogg",
    "mp3": "mp3",
    "wav": "wav",
    "flac": "flac",
    "aiff": "aiff",
}
# Each extension the sniffer knows → the ffmpeg demuxer that reads it, and only it.
DEMUXERS = {
    "wav": "wav",
    "w64": "w64",
    "aiff": "aiff",
    "m4a": "mov",
    "flac": "flac",
    "ogg": "ogg",
    "caf": "caf",
    "webm": "matroska",
    "mp3": "mp3",
    "aac": "aac",
}
# The head read to sniff a file: enough for a pointer file's signature after white space.
_HEAD_BYTES = 64
# ID3 tags stacked at the start of one file that are skipped before giving up (real files
# have one; a few tools add a second).
_MAX_ID3_TAGS = 4


class AudioError(Exception):
    """Input that is not usable audio; ``code`` is stable, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PointerFileError(AudioError):
    """A playlist or stream description: it names other files or streams instead of
    holding audio. ``kind`` says which, in words."""

    def __init__(self, kind: str) -> None:
        super().__init__(
            "playlist_file",
            f"This file is {kind}: it names other files or streams instead of holding "
            "audio, and Stemdeck does not follow such pointers. Upload the audio file itself "
            "(MP3, WAV, FLAC, Ogg/Opus, M4A/AAC or AIFF).",
        )
        self.kind = kind


@dataclass(frozen=True)
class AudioInfo:
    format: str
    extension: str
    duration_s: float
    sample_rate: int
    channels: int
    decoder: str  # "soundfile" or "ffmpeg"
    demuxer: str  # the one ffmpeg demuxer this file may be read with (DEMUXERS)


UNREADABLE = (
    "This file is not audio Stemdeck can read. Upload MP3, WAV, FLAC, Ogg/Opus, M4A/AAC or AIFF."
)


def ffmpeg_binary(name: str = "ffmpeg") -> str:
    found = shutil.which(name)
    if not found:
        raise AudioError(
            "ffmpeg_missing",
            f"{name} is not installed; install it (Debian: apt-get install ffmpeg) "
            "to read this kind of file.",
        )
    return found


def ffmpeg_input(path: Path, demuxer: str) -> list[str]:
    """ffmpeg/ffprobe options that read ``path`` with ``demuxer`` and open nothing else:
    no format guessing, no protocol but the file (and pipes), no name read as a URL."""
    return ["-protocol_whitelist", "file,pipe", "-f", demuxer, "-i", f"file:{path}"]


def sniff_demuxer(path: Path) -> str:
    """The demuxer for ``path``, from its first bytes, looked at past ID3 tags as ffmpeg
    would; refuses playlists, stream descriptions and containers Stemdeck does not read."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
        tagged = False
        for _ in range(_MAX_ID3_TAGS):
            skip = id3_tag_length(head)
            if not skip:
                break
            tagged = True
            handle.seek(skip - len(head), 1)  # from the tag's start, which head began at
            head = handle.read(_HEAD_BYTES)
    kind = pointer_kind(head)
    if kind is not None:
        raise PointerFileError(kind)
    extension = sniff_extension(head[:SNIFF_BYTES])
    if extension is None and tagged:
        extension = "mp3"  # tagged, then no frame at once: the MP3 demuxer searches for one
    if extension is None:
        raise AudioError("unsupported_media", UNREADABLE)
    return DEMUXERS[extension]


def probe(path: Path) -> AudioInfo:
    """Identify the audio in ``path``, reading its header only."""
    if path.stat().st_size == 0:
        raise AudioError("empty_file", "The file is empty. Choose an audio file with sound in it.")
    demuxer = sniff_demuxer(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _probe_ffmpeg(path, demuxer)
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise AudioError("no_audio", "The file holds no audio samples. " + UNREADABLE)
    return AudioInfo(
        format=info.format.lower(),
        extension=_SOUNDFILE_EXTENSIONS.get(info.format, info.format.lower()),
        duration_s=info.frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        decoder="soundfile",
        demuxer=demuxer,
    )


def _probe_ffmpeg(path: Path, demuxer: str) -> AudioInfo:
    ffprobe = ffmpeg_binary("ffprobe")
    result = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            "-select_streams",
            "a:0",
            *ffmpeg_input(path, demuxer),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AudioError("unsupported_media", UNREADABLE)
    data = json.loads(result.stdout or "{}")
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    if not streams:
        raise AudioError("no_audio", "The file has no audio stream. " + UNREADABLE)
    stream = streams[0]
    duration = float(stream.get("duration") or fmt.get("duration") or 0.0)
    sample_rate = int(stream.get("sample_rate") or 0)
    channels = int(stream.get("channels") or 0)
    if duration <= 0 or sample_rate <= 0 or channels <= 0:
        raise AudioError("no_audio", "The file holds no audio samples. " + UNREADABLE)
    format_name = str(fmt.get("format_name", "unknown"))
    codec = str(stream.get("codec_name", "unknown"))
    return AudioInfo(
        format=f"{_FFMPEG_EXTENSIONS.get(format_name, format_name)}/{codec}",
        extension=_FFMPEG_EXTENSIONS.get(format_name, "bin"),
        duration_s=duration,
        sample_rate=sample_rate,
        channels=channels,
        decoder="ffmpeg",
        demuxer=demuxer,
    )


def verify_decodes(path: Path, info: AudioInfo) -> None:
    """Decode the whole file once (streaming) so truncated or corrupt audio is refused early."""
    if info.decoder == "soundfile":
        _verify_soundfile(path, info)
    else:
        _verify_ffmpeg(path, info.demuxer)


def _verify_soundfile(path: Path, info: AudioInfo) -> None:
    decoded = 0
    try:
        with sf.SoundFile(str(path)) as audio:
            expected = audio.frames
            while True:
                block = audio.read(BLOCK_FRAMES, dtype="float32")
                if len(block) == 0:
                    break
                decoded += len(block)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(
            "corrupt_audio",
            f"The audio is damaged and cannot be decoded ({error}). Export or download it again.",
        ) from None
    declared = _declared_pcm_frames(path, info)
    if decoded < expected * 0.999 or (declared is not None and declared > expected):
        promised = max(expected, declared or 0)
        raise AudioError(
            "truncated_audio",
            "The audio file is cut short: its header promises "
            f"{promised / info.sample_rate:.1f} s but it ends early. Upload the complete file.",
        )


# Chunk that holds the samples, and the bytes before them inside it (AIFF's SSND
# starts with an offset and a block size).
_PCM_CONTAINERS: dict[tuple[bytes, bytes], tuple[Literal["little", "big"], bytes, int]] = {
    (b"RIFF", b"WAVE"): ("little", b"data", 0),
    (b"FORM", b"AIFF"): ("big", b"SSND", 8),
    (b"FORM", b"AIFC"): ("big", b"SSND", 8),
}
_PCM_BITS = {
    "PCM_U8": 8,
    "PCM_S8": 8,
    "PCM_16": 16,
    "PCM_24": 24,
    "PCM_32": 32,
    "FLOAT": 32,
    "DOUBLE": 64,
}
# Streaming writers leave the length at 0 or 0xFFFFFFFF when they cannot seek back.
_UNKNOWN_LENGTHS = {0, 0xFFFFFFFF}


def _declared_pcm_frames(path: Path, info: AudioInfo) -> int | None:
    """Frames a WAV/AIFF header promises, or None when it does not say.

    libsndfile clamps the frame count to the bytes actually present, so a file
    cut short reads as a shorter, healthy file; the data chunk's own length
    field still tells how long it was meant to be.
    """
    if info.extension not in {"wav", "aiff"}:
        return None
    with sf.SoundFile(str(path)) as audio:
        bits = _PCM_BITS.get(audio.subtype)
        channels = int(audio.channels)
    declared_bytes = _data_chunk_length(path)
    if bits is None or declared_bytes is None:
        return None
    return declared_bytes // (channels * bits // 8)


def _data_chunk_length(path: Path) -> int | None:
    with path.open("rb") as handle:
        head = handle.read(12)
        layout = _PCM_CONTAINERS.get((head[:4], head[8:12]))
        if layout is None:
            return None  # RF64/W64 keep their lengths elsewhere; decoding still checks them
        byteorder, data_id, preamble = layout
        position = 12
        for _ in range(64):  # a real file has a handful of chunks before the samples
            handle.seek(position)
            header = handle.read(8)
            if len(header) < 8:
                return None
            length = int.from_bytes(header[4:], byteorder)
            if header[:4] == data_id:
                return None if length in _UNKNOWN_LENGTHS else max(0, length - preamble)
            position += 8 + length + (length & 1)
    return None


def _verify_ffmpeg(path: Path, demuxer: str) -> None:
    command = [ffmpeg_binary(), "-nostdin", "-v", "error", "-xerror"]
    command += [*ffmpeg_input(path, demuxer), "-vn", "-f", "null", "-"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or ["decoder error"]
        raise AudioError(
            "corrupt_audio",
            f"The audio cannot be decoded ({detail[0]}): the file is damaged, or its "
            "audio is in a codec Stemdeck does not read. Export or download it again, "
            "as MP3, WAV, FLAC, Ogg/Opus or M4A/AAC.",
        )


def check_duration(info: AudioInfo, max_duration_s: float) -> None:
    """The server's length limit, for uploads and downloads alike."""
    if info.duration_s > max_duration_s:
        raise AudioError(
            "audio_too_long",
            f"The audio is {info.duration_s:.1f} s long; this server accepts at most "
            f"{max_duration_s:g} s. Trim it and send it again, or ask the admin "
            "to raise STEMDECK_MAX_DURATION_S.",
        )

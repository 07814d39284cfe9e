"""Decoding any supported file to the one shape every model takes: 44.1 kHz stereo float32.

Samples stay float from the decoder to the models, so input that peaks above
full scale is carried through intact (the executor deals with it at the end).
Files are read block by block and resampled as they stream in, so a long
high-rate or surround file never sits in memory at its original size.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy.signal import resample_poly

from stemdeck.core.probe import UNREADABLE, AudioError, AudioInfo, ffmpeg_binary, ffmpeg_input
from stemdeck.worker.models.base import SAMPLE_RATE, Audio

BLOCK_FRAMES = 1 << 18
# Most silence an encoder pads a stream's end with (AAC: up to a 1024-frame packet plus
# priming); a longer overrun of the declared length means that length was an estimate.
MAX_END_PADDING = 8192

_CENTRE = math.sqrt(0.5)  # -3 dB, the ITU-R BS.775 downmix coefficient
# Gains (left, right) for each channel role in a stereo downmix; LFE is left out, as ITU does.
_ROLE_GAINS = {
    "L": (1.0, 0.0),
    "R": (0.0, 1.0),
    "C": (_CENTRE, _CENTRE),
    "LFE": (0.0, 0.0),
    "Ls": (_CENTRE, 0.0),
    "Rs": (0.0, _CENTRE),
}
# Channel order shared by WAVE_FORMAT_EXTENSIBLE and ffmpeg's default layouts
# (7 channels is 6.1, whose back centre goes to both sides like the front one).
_LAYOUTS = {
    2: ("L", "R"),
    3: ("L", "R", "C"),
    4: ("L", "R", "Ls", "Rs"),
    5: ("L", "R", "C", "Ls", "Rs"),
    6: ("L", "R", "C", "LFE", "Ls", "Rs"),
    7: ("L", "R", "C", "LFE", "C", "Ls", "Rs"),
    8: ("L", "R", "C", "LFE", "Ls", "Rs", "Ls", "Rs"),
}


def downmix_matrix(channels: int) -> npt.NDArray[np.float32]:
    """(2, channels) gains taking any channel count to stereo."""
    if channels == 1:
        return np.ones((2, 1), np.float32)  # mono is copied to both sides, not attenuated
    # Unknown layouts wider than 7.1: front pair as left/right, the rest shared by both sides.
    roles = _LAYOUTS.get(channels) or ("L", "R") + ("C",) * (channels - 2)
    return np.array([_ROLE_GAINS[role] for role in roles], np.float32).T


class Resampler:
    """Polyphase resampling fed block by block that matches one whole-signal ``resample_poly``.

    Segments start at multiples of ``down`` so the polyphase phases line up, and
    carry enough context on both sides that the filter never sees a segment edge.
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int = 2) -> None:
        common = math.gcd(rate_in, rate_out)
        self.up = rate_out // common
        self.down = rate_in // common
        # resample_poly's filter reaches 10 * max(up, down) upsampled samples each way.
        reach = math.ceil(10 * max(self.up, self.down) / self.up) + 1
        self._pad = self.down * math.ceil(reach / self.down)
        self._step = self.down * math.ceil(BLOCK_FRAMES / self.down)
        # Leading zeros stand in for the zero padding resample_poly applies at the start.
        self._buffer = np.zeros((channels, self._pad), np.float32)

    def push(self, block: Audio) -> list[Audio]:
        self._buffer = np.concatenate([self._buffer, block], axis=1)
        out: list[Audio] = []
        while self._buffer.shape[1] >= self._step + 2 * self._pad:
            out.append(self._run(self._buffer[:, : self._step + 2 * self._pad], self._step))
            self._buffer = self._buffer[:, self._step :]
        return out

    def finish(self) -> Audio:
        remaining = self._buffer.shape[1] - self._pad
        tail = np.zeros((self._buffer.shape[0], self._pad), np.float32)
        return self._run(np.concatenate([self._buffer, tail], axis=1), remaining)

    def _run(self, segment: Audio, count: int) -> Audio:
        resampled = resample_poly(segment, self.up, self.down, axis=1)
        start = self._pad * self.up // self.down
        stop = start + math.ceil(count * self.up / self.down)
        return np.ascontiguousarray(resampled[:, start:stop], dtype=np.float32)


def decode(path: Path, info: AudioInfo) -> Audio:
    """The whole file as float32 (2, n) at SAMPLE_RATE; raises AudioError if it cannot."""
    blocks = _soundfile_blocks(path) if info.decoder == "soundfile" else _ffmpeg_blocks(path, info)
    matrix = downmix_matrix(info.channels)
    resampler = (
        Resampler(info.sample_rate, SAMPLE_RATE) if info.sample_rate != SAMPLE_RATE else None
    )
    out: list[Audio] = []
    for block in blocks:
        if not np.isfinite(block).all():
            raise AudioError(
                "corrupt_audio",
                "The audio holds invalid samples (NaN or infinity). Export it again.",
            )
        stereo = matrix @ block
        out.extend(resampler.push(stereo) if resampler else [stereo])
    if resampler:
        out.append(resampler.finish())
    if sum(block.shape[1] for block in out) == 0:
        raise AudioError("no_audio", "The file holds no audio samples. " + UNREADABLE)
    return np.concatenate(out, axis=1)


def _soundfile_blocks(path: Path) -> Iterator[Audio]:
    try:
        with sf.SoundFile(str(path)) as source:
            while True:
                block = source.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if len(block) == 0:
                    return
                yield block.T
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(
            "corrupt_audio",
            f"The audio is damaged and cannot be decoded ({error}). Export or download it again.",
        ) from None


def _ffmpeg_blocks(path: Path, info: AudioInfo) -> Iterator[Audio]:
    # Native rate and channel count out of ffmpeg, so resampling and downmixing are the
    # same whichever decoder read the file; -ar/-ac only matter if the stream changes midway.
    command = [
        ffmpeg_binary(), "-nostdin", "-v", "error", *ffmpeg_input(path, info.demuxer),
        "-map", "0:a:0",
        "-ac", str(info.channels), "-ar", str(info.sample_rate),
        "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]  # fmt: skip
    frame_bytes = 4 * info.channels
    # stderr goes to a file: a pipe we do not drain could fill up and stall ffmpeg.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            declared = round(info.duration_s * info.sample_rate)
            frames = _read_frames(process.stdout, frame_bytes, info.channels)
            yield from _without_end_padding(frames, declared)
            returncode = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
        if returncode != 0:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise AudioError(
                "corrupt_audio",
                f"The audio cannot be decoded ({lines[-1] if lines else 'ffmpeg failed'}). "
                "Export or download it again.",
            )


def _read_frames(stream: IO[bytes], frame_bytes: int, channels: int) -> Iterator[Audio]:
    while True:
        data = stream.read(BLOCK_FRAMES * frame_bytes)
        usable = len(data) - len(data) % frame_bytes  # a cut-off last frame is dropped
        if usable == 0:
            return
        yield np.frombuffer(data[:usable], dtype="<f4").reshape(-1, channels).T


def _without_end_padding(blocks: Iterator[Audio], declared: int) -> Iterator[Audio]:
    """Drops a few frames beyond the container's declared length: an encoder's padding.

    libsndfile trims it itself; ffmpeg leaves it on some codecs (AAC in MP4).
    """
    position = 0
    overrun: list[Audio] = []
    for block in blocks:
        start, position = position, position + block.shape[1]
        if position <= declared:
            yield block
            continue
        head = max(declared - start, 0)
        if head:
            yield block[:, :head]
        overrun.append(block[:, head:])
        if position - declared > MAX_END_PADDING:  # not padding: keep everything
            yield from overrun
            yield from blocks
            return

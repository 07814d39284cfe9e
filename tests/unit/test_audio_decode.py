"""Decoding every kind of input to 44.1 kHz stereo float32, without clipping."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from stemdeck.core.probe import AudioError, AudioInfo, probe
from stemdeck.worker.audio import Resampler, decode, downmix_matrix
from stemdeck.worker.models.base import SAMPLE_RATE

ROCK = "Music_Delta__80s_Rock/mixture.wav"
FALCON = "The_Easton_Ellises__Falcon_69/mixture.wav"


def tone(hz: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def dominant_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[np.argmax(spectrum)])


def decode_file(path: Path) -> np.ndarray:
    return decode(path, probe(path))


def test_real_wav_decodes_sample_exact(shared_audio: Path) -> None:
    path = shared_audio / ROCK
    audio = decode_file(path)
    expected, rate = sf.read(path, dtype="float32")
    assert rate == SAMPLE_RATE
    assert audio.dtype == np.float32
    assert audio.shape == (2, 299_891)
    assert np.array_equal(audio, expected.T)


def test_float_wav_above_full_scale_is_not_clipped(shared_audio: Path) -> None:
    audio = decode_file(shared_audio / FALCON)
    # Falcon 69's mixture peaks at 3.7: every sample must come through untouched.
    expected, _ = sf.read(shared_audio / FALCON, dtype="float32")
    assert np.abs(audio).max() == pytest.approx(3.7026, abs=1e-4)
    assert np.array_equal(audio, expected.T)


def test_mono_is_copied_to_both_channels_at_full_level(tmp_path: Path) -> None:
    mono = tone(440, 1.0, SAMPLE_RATE)
    path = tmp_path / "mono.wav"
    sf.write(path, mono, SAMPLE_RATE, subtype="FLOAT")
    audio = decode_file(path)
    assert audio.shape == (2, len(mono))
    assert np.array_equal(audio[0], mono)
    assert np.array_equal(audio[1], mono)


def six_channels(frames: int) -> np.ndarray:
    """5.1 in WAV order (FL FR FC LFE BL BR), each channel its own tone."""
    tones = (300, 500, 700, 60, 1100, 1300)
    return np.stack([tone(hz, frames / SAMPLE_RATE, SAMPLE_RATE, 0.2) for hz in tones])


def test_surround_is_downmixed_the_itu_way_by_both_decoders(tmp_path: Path) -> None:
    channels = six_channels(SAMPLE_RATE)
    path = tmp_path / "surround.wav"
    sf.write(path, channels.T, SAMPLE_RATE, subtype="FLOAT")
    # ITU-R BS.775: centre and surrounds at -3 dB, the LFE channel left out.
    front_left, front_right, centre, _lfe, back_left, back_right = channels
    c = math.sqrt(0.5)
    expected_left = front_left + c * centre + c * back_left
    expected_right = front_right + c * centre + c * back_right

    info = probe(path)
    assert (info.decoder, info.channels) == ("soundfile", 6)
    for decoder in ("soundfile", "ffmpeg"):
        audio = decode(path, replace(info, decoder=decoder))
        assert audio.shape == (2, SAMPLE_RATE)
        np.testing.assert_allclose(audio[0], expected_left, atol=1e-6)
        np.testing.assert_allclose(audio[1], expected_right, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5, 6, 7, 8, 12])
def test_every_channel_count_has_a_downmix_that_keeps_the_front_pair(channels: int) -> None:
    matrix = downmix_matrix(channels)
    assert matrix.shape == (2, channels)
    if channels >= 2:
        assert matrix[:, 0].tolist() == [1.0, 0.0]
        assert matrix[:, 1].tolist() == [0.0, 1.0]
    # Left and right are mirror images: nothing leans to one side.
    assert matrix[0].sum() == pytest.approx(matrix[1].sum())


@pytest.mark.parametrize("rate", [8_000, 22_050, 48_000, 96_000])
def test_any_rate_is_resampled_to_44k1_keeping_pitch_and_level(tmp_path: Path, rate: int) -> None:
    source = tone(1000, 2.0, rate)
    path = tmp_path / f"tone-{rate}.flac"
    sf.write(path, np.stack([source, -source], axis=1), rate, subtype="PCM_24")
    audio = decode_file(path)
    assert audio.shape == (2, math.ceil(len(source) * SAMPLE_RATE / rate))
    assert dominant_hz(audio[0], SAMPLE_RATE) == pytest.approx(1000, abs=2)
    middle = audio[:, SAMPLE_RATE // 4 : -SAMPLE_RATE // 4]  # away from the filter's edges
    # Within 0.03 dB: the passband ripple of resample_poly's default filter.
    assert np.sqrt(np.mean(middle[0] ** 2)) == pytest.approx(0.5 / math.sqrt(2), rel=3e-3)
    np.testing.assert_allclose(middle[1], -middle[0], atol=1e-6)


@pytest.mark.parametrize(
    ("rate_in", "rate_out"), [(96_000, 44_100), (8_000, 44_100), (44_100, 48_000), (44_099, 44_100)]
)
def test_streaming_resampler_matches_one_whole_signal_resample(rate_in: int, rate_out: int) -> None:
    rng = np.random.default_rng(7)
    signal = rng.standard_normal((2, 700_001)).astype(np.float32)
    resampler = Resampler(rate_in, rate_out)
    pieces: list[np.ndarray] = []
    start = 0
    for size in (1, 99_999, 300_000, 3, 299_998):  # uneven blocks, tiny ones too
        pieces.extend(resampler.push(signal[:, start : start + size]))
        start += size
    assert start == signal.shape[1]
    pieces.append(resampler.finish())
    streamed = np.concatenate(pieces, axis=1)
    whole = resample_poly(signal, resampler.up, resampler.down, axis=1)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def excerpt(shared_audio: Path, seconds: float = 3.0) -> np.ndarray:
    audio: np.ndarray
    audio, _ = sf.read(shared_audio / ROCK, dtype="float32", frames=round(seconds * SAMPLE_RATE))
    return audio  # (frames, 2)


def write_soundfile(path: Path, audio: np.ndarray, **kwargs: str) -> None:
    sf.write(path, audio, SAMPLE_RATE, **kwargs)


def write_opus(path: Path, audio: np.ndarray) -> None:
    sf.write(path, resample_poly(audio, 160, 147, axis=0), 48_000, format="OGG", subtype="OPUS")


def write_with_ffmpeg(path: Path, audio: np.ndarray, *codec: str) -> None:
    source = path.with_suffix(".source.wav")
    sf.write(source, audio, SAMPLE_RATE, subtype="FLOAT")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *codec, str(path)], check=True
    )
    source.unlink()


Writer = Callable[[Path, np.ndarray], None]
# extension -> (how to make the file, the decoder probe picks, least correlation with the source)
WRITERS: dict[str, tuple[Writer, str, float]] = {
    "mp3": (lambda p, a: write_soundfile(p, a, format="MP3"), "soundfile", 0.99),
    "flac": (lambda p, a: write_soundfile(p, a, subtype="PCM_24"), "soundfile", 0.99999),
    "aiff": (lambda p, a: write_soundfile(p, a, format="AIFF"), "soundfile", 0.9999),
    "ogg": (lambda p, a: write_soundfile(p, a, format="OGG"), "soundfile", 0.99),
    "opus": (write_opus, "soundfile", 0.99),
    "m4a": (lambda p, a: write_with_ffmpeg(p, a, "-c:a", "aac", "-b:a", "192k"), "ffmpeg", 0.99),
    "webm": (lambda p, a: write_with_ffmpeg(p, a, "-c:a", "libopus"), "ffmpeg", 0.99),
}


@pytest.mark.parametrize("extension", list(WRITERS))
def test_compressed_and_container_formats_decode_in_time_and_in_sync(
    shared_audio: Path, tmp_path: Path, extension: str
) -> None:
    source = excerpt(shared_audio)
    write, decoder, min_correlation = WRITERS[extension]
    path = tmp_path / f"song.{extension}"
    write(path, source)
    info = probe(path)
    assert info.decoder == decoder

    audio = decode(path, info)
    assert audio.dtype == np.float32
    assert abs(audio.shape[1] - len(source)) <= 1  # encoder delay and padding are trimmed
    frames = min(audio.shape[1], len(source))
    for channel in (0, 1):  # same content, same channel, no time shift
        correlation = np.corrcoef(audio[channel, :frames], source[:frames, channel])[0, 1]
        assert correlation > min_correlation


def test_a_file_ffmpeg_cannot_decode_raises_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "song.m4a"
    path.write_bytes(b"this is not audio at all" * 100)
    info = AudioInfo("m4a/aac", "m4a", 1.0, 44_100, 2, decoder="ffmpeg", demuxer="mov")
    with pytest.raises(AudioError) as caught:
        decode(path, info)
    assert caught.value.code == "corrupt_audio"
    assert "cannot be decoded" in caught.value.message


def test_a_file_libsndfile_cannot_read_raises_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    path.write_bytes(b"RIFF....WAVEfmt garbage" * 10)
    info = AudioInfo("wav", "wav", 1.0, 44_100, 2, decoder="soundfile", demuxer="wav")
    with pytest.raises(AudioError) as caught:
        decode(path, info)
    assert caught.value.code == "corrupt_audio"


def test_nan_samples_are_refused(tmp_path: Path) -> None:
    audio = np.zeros((1000, 2), np.float32)
    audio[500, 1] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        decode_file(path)


def test_a_file_without_samples_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 2), np.float32), SAMPLE_RATE)
    info = AudioInfo("wav", "wav", 0.0, SAMPLE_RATE, 2, decoder="soundfile", demuxer="wav")
    with pytest.raises(AudioError) as caught:
        decode(path, info)
    assert caught.value.code == "no_audio"

"""Encoding every output format, and the loudness, peak and waveform the player shows."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from PIL import Image

from stemdeck.core.formats import FORMATS, FormatId
from stemdeck.core.probe import probe
from stemdeck.worker.analysis import loudness, waveform_peaks, waveform_png
from stemdeck.worker.audio import decode
from stemdeck.worker.encode import encode
from stemdeck.worker.models.base import SAMPLE_RATE, Audio

# format id -> (libsndfile subtype, sample rate, largest sample error for lossless)
EXPECTED = {
    "wav": ("PCM_16", SAMPLE_RATE, 2**-15),
    "wav24": ("PCM_24", SAMPLE_RATE, 2**-23),
    "flac": ("PCM_24", SAMPLE_RATE, 2**-23),
    "mp3": ("MPEG_LAYER_III", SAMPLE_RATE, None),
    "opus": ("OPUS", 48_000, None),
}


@pytest.fixture(scope="module")
def drums(shared_audio: Path) -> Audio:
    audio, _ = sf.read(shared_audio / "Music_Delta__80s_Rock" / "drums.wav", dtype="float32")
    return np.ascontiguousarray(audio.T)


def stereo_sine(hz: float, seconds: float, amplitude: float) -> Audio:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    mono = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([mono, mono])


def test_every_format_id_is_described_once() -> None:
    assert list(FORMATS) == list(FormatId)
    assert all(key == fmt.id for key, fmt in FORMATS.items())
    assert set(FORMATS) == set(EXPECTED)


@pytest.mark.parametrize("format_id", list(FORMATS))
def test_encoded_files_decode_to_the_right_length_rate_and_loudness(
    drums: Audio, tmp_path: Path, format_id: str
) -> None:
    subtype, rate, max_error = EXPECTED[format_id]
    path = tmp_path / f"drums.{format_id}"
    encode(drums, format_id, path)

    info = sf.info(str(path))
    assert (info.subtype, info.samplerate, info.channels) == (subtype, rate, 2)
    decoded, _ = sf.read(path, dtype="float32")
    assert len(decoded) == math.ceil(drums.shape[1] * rate / SAMPLE_RATE)
    if max_error is not None:
        assert np.abs(decoded.T - drums).max() <= max_error
    else:  # lossy, but in sync and faithful once read back at 44.1 kHz
        back = decode(path, probe(path))
        assert abs(back.shape[1] - drums.shape[1]) <= 1
        frames = min(back.shape[1], drums.shape[1])
        for channel in (0, 1):
            assert np.corrcoef(back[channel, :frames], drums[channel, :frames])[0, 1] > 0.99

    lufs, _ = loudness(drums)
    assert lufs is not None
    remeasured = pyloudnorm.Meter(rate).integrated_loudness(decoded)
    assert remeasured == pytest.approx(lufs, abs=0.1)


def test_unknown_format_is_refused(drums: Audio, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'aiff'"):
        encode(drums, "aiff", tmp_path / "drums.aiff")
    assert not (tmp_path / "drums.aiff").exists()


def test_loudness_of_a_full_scale_sine_is_0_lufs_and_0_dbfs() -> None:
    lufs, peak_dbfs = loudness(stereo_sine(997, 3.0, 1.0))
    # BS.1770: a 0 dBFS 997 Hz sine in both channels reads 0 LUFS (K-weighting is ~flat there).
    assert lufs == pytest.approx(0.0, abs=0.1)
    assert peak_dbfs == pytest.approx(0.0, abs=1e-3)


def test_loudness_follows_gain() -> None:
    loud, loud_peak = loudness(stereo_sine(440, 3.0, 0.5))
    quiet, quiet_peak = loudness(stereo_sine(440, 3.0, 0.05))
    assert loud is not None and quiet is not None
    assert loud - quiet == pytest.approx(20.0, abs=0.01)
    assert loud_peak == pytest.approx(20 * math.log10(0.5), abs=1e-3)
    assert quiet_peak == pytest.approx(-26.02, abs=0.01)


def test_silence_has_no_loudness_and_no_peak() -> None:
    assert loudness(np.zeros((2, SAMPLE_RATE), np.float32)) == (None, None)


def test_audio_shorter_than_a_gating_block_has_a_peak_but_no_loudness() -> None:
    lufs, peak_dbfs = loudness(stereo_sine(440, 0.2, 0.5))
    assert lufs is None
    assert peak_dbfs == pytest.approx(-6.02, abs=0.01)


def test_waveform_peaks_are_per_bin_extremes_over_both_channels() -> None:
    audio = np.zeros((2, 10_000), np.float32)
    audio[0, 2_500] = 0.75  # bin 0 (5000 frames per bin over 2 bins)
    audio[1, 7_000] = -0.123456  # bin 1, the right channel
    peaks = waveform_peaks(audio, bins=2)
    assert peaks == {
        "version": 1,
        "sample_rate": SAMPLE_RATE,
        "samples_per_bin": 5_000,
        "bins": 2,
        "data": [0.0, 0.75, -0.1235, 0.0],
    }
    assert json.loads(json.dumps(peaks)) == peaks


def test_waveform_peaks_of_a_song_cover_it_in_at_most_the_bins_asked(drums: Audio) -> None:
    peaks = waveform_peaks(drums)
    assert peaks["bins"] <= 2000
    assert peaks["bins"] * peaks["samples_per_bin"] >= drums.shape[1]
    assert len(peaks["data"]) == 2 * peaks["bins"]
    data = np.array(peaks["data"])
    assert data.max() == pytest.approx(drums.max(), abs=5e-5)
    assert data.min() == pytest.approx(drums.min(), abs=5e-5)
    assert all(value == round(value, 4) for value in peaks["data"])


def test_short_audio_gets_one_bin_per_sample() -> None:
    audio = stereo_sine(440, 0.01, 0.5)
    peaks = waveform_peaks(audio, bins=2000)
    assert (peaks["samples_per_bin"], peaks["bins"]) == (1, audio.shape[1])


def opaque_rows(png: bytes, column: int) -> list[int]:
    image = Image.open(io.BytesIO(png))
    alpha = np.asarray(image)[:, :, 3]
    return [row for row in range(alpha.shape[0]) if alpha[row, column] > 127]


def test_waveform_png_is_a_filled_shape_on_transparency() -> None:
    audio = np.zeros((2, 20_000), np.float32)
    audio[:, 10_000:] = np.tile([0.5, -0.5], 5_000)  # silence, then half-scale
    png = waveform_png(waveform_peaks(audio), width=200, height=100)

    image = Image.open(io.BytesIO(png))
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (200, 100))
    assert np.asarray(image)[0, 0, 3] == 0  # transparent background
    # Silence is a thin centre line; half scale fills the middle half of the height.
    assert opaque_rows(png, 50) in ([49], [50], [49, 50])
    assert opaque_rows(png, 150) == list(range(25, 75))

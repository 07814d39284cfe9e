"""separate_file from input file to finished stems, as the RQ task and the CLI run it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from stemdeck.core.formats import FORMATS
from stemdeck.core.probe import probe
from stemdeck.core.strategies import Strategy, load_strategies_file
from stemdeck.worker.executor import SeparationResult, separate_file
from stemdeck.worker.models.base import SAMPLE_RATE
from stemdeck.worker.models.cache import ModelCache

ROCK = "Music_Delta__80s_Rock"
FALCON = "The_Easton_Ellises__Falcon_69"


@pytest.fixture(scope="module")
def models() -> ModelCache:
    return ModelCache("cpu")


def strategy(name: str) -> Strategy:
    return load_strategies_file(None)[name]


class Events:
    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []

    def __call__(self, label: str, fraction: float) -> None:
        self.events.append((label, fraction))


def run(
    path: Path, out_dir: Path, models: ModelCache, name: str, formats: list[str]
) -> tuple[SeparationResult, Events]:
    progress = Events()
    result = separate_file(path, probe(path), strategy(name), formats, out_dir, models, progress)
    return result, progress


def read(path: Path) -> np.ndarray:
    audio: np.ndarray
    audio, _ = sf.read(path, dtype="float64")
    return audio.T


def test_every_stem_in_every_format_with_its_analysis(
    shared_audio: Path, tmp_path: Path, models: ModelCache
) -> None:
    mixture_path = shared_audio / ROCK / "mixture.wav"
    frames = sf.info(str(mixture_path)).frames
    result, _ = run(mixture_path, tmp_path, models, "four-stems-dsp", list(FORMATS))

    assert [stem.name for stem in result.stems] == ["vocals", "drums", "bass", "other"]
    assert result.duration_s == frames / SAMPLE_RATE
    assert result.notes == []  # the mixture peaks at 0.9 and no stem goes over full scale
    for stem in result.stems:
        assert stem.duration_s == result.duration_s
        assert stem.files == {f: tmp_path / f"{stem.name}.{f}" for f in FORMATS}
        for format_id, path in stem.files.items():
            info = sf.info(str(path))
            rate = 48_000 if format_id == "opus" else SAMPLE_RATE
            assert (info.samplerate, info.channels) == (rate, 2)
            assert info.frames == math.ceil(frames * rate / SAMPLE_RATE)

        lossless = read(stem.files["flac"])
        assert stem.lufs == pytest.approx(
            pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(lossless.T), abs=0.1
        )
        assert stem.peak_dbfs == pytest.approx(20 * math.log10(np.abs(lossless).max()), abs=0.01)
        assert stem.waveform_json == tmp_path / f"{stem.name}.waveform.json"
        assert json.loads(stem.waveform_json.read_text())["bins"] > 0
        assert stem.waveform_png.read_bytes().startswith(b"\x89PNG")

    stems_sum = sum(read(stem.files["wav24"]) for stem in result.stems)
    assert np.abs(stems_sum - read(mixture_path)).max() < 1e-5  # 24-bit rounding, four times


def test_progress_runs_through_the_stages_forward_to_one(
    shared_audio: Path, tmp_path: Path, models: ModelCache
) -> None:
    _, progress = run(
        shared_audio / ROCK / "mixture.wav", tmp_path, models, "four-stems-dsp", ["flac", "mp3"]
    )
    fractions = [fraction for _, fraction in progress.events]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    stages = list(dict.fromkeys(label for label, _ in progress.events))
    assert stages == [
        "decoding",
        "separating: builtin:crossover",
        "separating: builtin:hpss",
        "separating: builtin:center",
        "encoding",
    ]
    for label, fraction in progress.events:
        low, high = {"decoding": (0.0, 0.05), "encoding": (0.85, 1.0)}.get(label, (0.05, 0.85))
        assert low <= fraction <= high, (label, fraction)
    # Four stems, each with two formats and an analysis step.
    assert len([label for label, _ in progress.events if label == "encoding"]) == 4 * 3


def test_input_above_full_scale_is_turned_down_once_for_every_stem(
    shared_audio: Path, tmp_path: Path, models: ModelCache
) -> None:
    mixture_path = shared_audio / FALCON / "mixture.wav"
    result, _ = run(mixture_path, tmp_path, models, "four-stems-dsp", ["flac", "wav"])

    [note] = result.notes
    match = re.fullmatch(
        r"The input peaked at \+11\.4 dBFS; every stem was turned down by (\d+\.\d) dB "
        r"so nothing clips\.",
        note,
    )
    assert match, note
    cut_db = float(match.group(1))

    decoded = {stem.name: read(stem.files["flac"]) for stem in result.stems}
    loudest = max(np.abs(audio).max() for audio in decoded.values())
    assert 20 * math.log10(loudest) == pytest.approx(-0.1, abs=0.01)
    assert max(stem.peak_dbfs or -math.inf for stem in result.stems) == pytest.approx(
        -0.1, abs=0.01
    )
    for stem in result.stems:
        assert np.abs(read(stem.files["wav"])).max() < 1.0  # 16-bit did not clip or wrap either

    # One common gain: the stems still add up to the mixture, scaled by what the note says.
    mixture = read(mixture_path)
    stems_sum = sum(decoded.values())
    gain = float(np.sum(stems_sum * mixture) / np.sum(mixture**2))
    assert np.abs(stems_sum - gain * mixture).max() < 1e-5  # 24-bit rounding, four times
    assert 20 * math.log10(gain) == pytest.approx(-cut_db, abs=0.05)  # the note rounds


def test_surround_high_rate_input_is_mixed_down_resampled_and_noted(
    tmp_path: Path, models: ModelCache
) -> None:
    rate = 96_000
    rng = np.random.default_rng(3)
    surround = (0.1 * rng.standard_normal((rate * 2 + 7, 6))).astype(np.float32)
    path = tmp_path / "surround.flac"
    sf.write(path, surround, rate, subtype="PCM_24")
    result, _ = run(path, tmp_path / "out", models, "center-sides", ["wav"])

    expected_frames = math.ceil(len(surround) * SAMPLE_RATE / rate)
    assert result.notes == ["The 6-channel input was mixed down to stereo."]
    assert result.duration_s == expected_frames / SAMPLE_RATE
    for stem in result.stems:
        assert sf.info(str(stem.files["wav"])).frames == expected_frames


def test_unknown_formats_are_refused_before_any_work(
    shared_audio: Path, tmp_path: Path, models: ModelCache
) -> None:
    progress = Events()
    path = shared_audio / ROCK / "mixture.wav"
    with pytest.raises(ValueError, match="'ogg'"):
        separate_file(
            path,
            probe(path),
            strategy("center-sides"),
            ["flac", "ogg"],
            tmp_path / "out",
            models,
            progress,
        )
    assert progress.events == []
    assert not (tmp_path / "out").exists()


def test_a_format_asked_for_twice_is_written_once(
    shared_audio: Path, tmp_path: Path, models: ModelCache
) -> None:
    result, _ = run(
        shared_audio / ROCK / "mixture.wav", tmp_path, models, "center-sides", ["opus", "opus"]
    )
    assert [list(stem.files) for stem in result.stems] == [["opus"], ["opus"]]

"""The signal-processing models: they split what they claim to and always sum back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stemdeck.core.catalog import CATALOG, ModelSpec
from stemdeck.worker.models.base import SAMPLE_RATE, ModelError
from stemdeck.worker.models.builtin import CrossoverModel, HpssModel, create

SONGS = ("Music_Delta__80s_Rock", "The_Easton_Ellises__Falcon_69")
BUILTINS = ("builtin:hpss", "builtin:crossover", "builtin:center")
SUM_TOLERANCE = 1e-5  # absolute, in full-scale units; float32 rounding is far below it


def load(shared_audio: Path, song: str, stem: str = "mixture") -> np.ndarray:
    audio, rate = sf.read(shared_audio / song / f"{stem}.wav", dtype="float32")
    assert rate == SAMPLE_RATE
    return np.ascontiguousarray(audio.T)


def defaults(model_id: str) -> dict[str, float]:
    return CATALOG[model_id].resolve_params({})


def sine(hz: float, seconds: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    mono = (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([mono, mono])


def energy(audio: np.ndarray) -> float:
    return float(np.sum(audio.astype(np.float64) ** 2))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


class Recorder:
    def __init__(self) -> None:
        self.values: list[float] = []

    def __call__(self, fraction: float) -> None:
        self.values.append(fraction)


@pytest.mark.parametrize("song", SONGS)
@pytest.mark.parametrize("model_id", BUILTINS)
def test_outputs_sum_back_to_the_input(shared_audio: Path, song: str, model_id: str) -> None:
    mixture = load(shared_audio, song)
    untouched = mixture.copy()
    progress = Recorder()
    outputs = create(CATALOG[model_id]).separate(mixture, defaults(model_id), progress)

    assert list(outputs) == list(CATALOG[model_id].slots)
    for part in outputs.values():
        assert part.shape == mixture.shape
        assert part.dtype == np.float32
    total = sum(outputs.values())
    assert np.abs(total - mixture).max() <= SUM_TOLERANCE
    assert np.array_equal(mixture, untouched)  # the input is not modified
    assert progress.values == sorted(progress.values)
    assert progress.values[-1] == 1.0


def test_hpss_sends_the_drums_to_percussive(shared_audio: Path) -> None:
    song = "Music_Delta__80s_Rock"
    mixture, drums = load(shared_audio, song), load(shared_audio, song, "drums")
    outputs = create(CATALOG["builtin:hpss"]).separate(
        mixture, defaults("builtin:hpss"), Recorder()
    )
    assert correlation(outputs["percussive"], drums) > 0.6
    assert correlation(outputs["percussive"], drums) > correlation(outputs["harmonic"], drums) + 0.3


def tone_and_bursts() -> tuple[np.ndarray, np.ndarray]:
    """A steady 440 Hz tone, and 5 ms noise bursts four times a second."""
    tone = sine(440, amplitude=0.3)
    bursts = np.zeros_like(tone)
    rng = np.random.default_rng(1)
    for start in range(SAMPLE_RATE // 8, tone.shape[1], SAMPLE_RATE // 4):
        bursts[:, start : start + 220] = rng.uniform(-0.5, 0.5, 220) * np.hanning(220)
    return tone, bursts


def test_hpss_splits_a_steady_tone_from_noise_bursts() -> None:
    tone, bursts = tone_and_bursts()
    outputs = create(CATALOG["builtin:hpss"]).separate(
        tone + bursts, defaults("builtin:hpss"), Recorder()
    )
    # What goes astray is the same on both sides; it is small next to either part.
    assert energy(outputs["harmonic"] - tone) < 0.01 * energy(tone)
    assert energy(outputs["percussive"] - bursts) < 0.2 * energy(bursts)


def test_hpss_power_sharpens_the_masks() -> None:
    tone, bursts = tone_and_bursts()
    model = create(CATALOG["builtin:hpss"])
    soft = model.separate(tone + bursts, {"kernel": 17, "power": 1.0}, Recorder())
    hard = model.separate(tone + bursts, {"kernel": 17, "power": 4.0}, Recorder())
    assert energy(hard["percussive"] - bursts) < 0.9 * energy(soft["percussive"] - bursts)


def test_hpss_of_silence_is_silence() -> None:
    silence = np.zeros((2, SAMPLE_RATE), np.float32)
    outputs = create(CATALOG["builtin:hpss"]).separate(
        silence, defaults("builtin:hpss"), Recorder()
    )
    assert not np.any(outputs["harmonic"]) and not np.any(outputs["percussive"])


@pytest.mark.parametrize("kernel", [3.0, 17.0, 63.0])
def test_hpss_blocks_leave_no_seams(shared_audio: Path, kernel: float) -> None:
    """Block by block equals one pass: the block size must not show in the result."""
    mixture = load(shared_audio, "The_Easton_Ellises__Falcon_69")[:, :150_000]
    spec = CATALOG["builtin:hpss"]
    params = {"kernel": kernel, "power": 2.0}
    small_blocks = Recorder()
    blocked = HpssModel(spec, block_frames=1 << 16).separate(mixture, params, small_blocks)
    whole = HpssModel(spec, block_frames=1 << 22).separate(mixture, params, Recorder())
    np.testing.assert_allclose(blocked["harmonic"], whole["harmonic"], atol=1e-5)
    # Progress comes once per block: 150000 frames in blocks of 65536 make three.
    assert small_blocks.values == pytest.approx([1 / 3, 2 / 3, 1.0])


@pytest.mark.parametrize("cutoff_hz", [20.0, 150.0, 2000.0])
def test_crossover_is_a_linkwitz_riley_split_at_the_cutoff(cutoff_hz: float) -> None:
    model = create(CATALOG["builtin:crossover"])
    params = {"cutoff_hz": cutoff_hz}
    middle = slice(SAMPLE_RATE // 2, -SAMPLE_RATE // 2)  # steady state, away from the ends

    below = model.separate(sine(cutoff_hz / 4), params, Recorder())
    above = model.separate(sine(cutoff_hz * 4), params, Recorder())
    at = model.separate(sine(cutoff_hz), params, Recorder())
    # 48 dB/octave: two octaves away the other band is 96 dB down.
    assert energy(below["high"][:, middle]) < 1e-9 * energy(below["low"][:, middle])
    assert energy(above["low"][:, middle]) < 1e-9 * energy(above["high"][:, middle])
    # At the cutoff both bands carry the tone in phase at half amplitude (-6 dB).
    np.testing.assert_allclose(at["low"][:, middle], at["high"][:, middle], atol=1e-4)
    np.testing.assert_allclose(at["low"][:, middle], 0.5 * sine(cutoff_hz)[:, middle], atol=1e-4)


def test_crossover_blocks_leave_no_seams(shared_audio: Path) -> None:
    mixture = load(shared_audio, "Music_Delta__80s_Rock")
    spec = CATALOG["builtin:crossover"]
    params = {"cutoff_hz": 20.0}  # the longest filter there is
    blocked = CrossoverModel(spec, block_frames=10_000).separate(mixture, params, Recorder())
    whole = CrossoverModel(spec, block_frames=1 << 22).separate(mixture, params, Recorder())
    np.testing.assert_allclose(blocked["low"], whole["low"], atol=1e-6)


def test_center_takes_what_both_sides_share() -> None:
    shared = sine(300)[0]
    different = sine(1000)[0]
    stereo = np.stack([shared + different, shared - different])
    outputs = create(CATALOG["builtin:center"]).separate(stereo, {}, Recorder())
    np.testing.assert_allclose(outputs["center"], np.stack([shared, shared]), atol=1e-6)
    np.testing.assert_allclose(outputs["sides"], np.stack([different, -different]), atol=1e-6)


def test_an_unknown_builtin_is_refused() -> None:
    spec = ModelSpec(id="builtin:nonesuch", label="?", slots=("a",), cost=0.0)
    with pytest.raises(ModelError, match="nonesuch"):
        create(spec)

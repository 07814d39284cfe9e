"""uvr family: tiny random checkpoints through audio-separator's real Separator, offline.

Each test writes a small randomly initialised model in UVR's own format (a torch state
dict and its YAML config, or an ONNX graph and UVR's hash table) under a catalog
model's file names into a temporary models dir, so audio-separator's real loading path
runs on it, with every network connection refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import socket
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import pytest
import torch
import yaml
from audio_separator.separator.uvr_lib_v5.roformer.bs_roformer import BSRoformer
from audio_separator.separator.uvr_lib_v5.roformer.mel_band_roformer import MelBandRoformer
from audio_separator.separator.uvr_lib_v5.tfc_tdf_v3 import TFC_TDF_net
from ml_collections import ConfigDict
from onnx import TensorProto, helper

from stemdeck.core.catalog import CATALOG, ModelSpec, model_spec
from stemdeck.worker.models import uvr
from stemdeck.worker.models.base import ModelError
from stemdeck.worker.models.cache import ModelCache
from stemdeck.worker.models.uvr import UVRModel, slot_for
from stemdeck.worker.models.uvr_loader import (
    OfflineSeparator,
    config_file,
    ensure_onnx2torch_importable,
    model_file,
    model_index,
)

BS_ROFORMER = "uvr:model_bs_roformer_ep_317_sdr_12.9755.ckpt"
MEL_ROFORMER = "uvr:mel_band_roformer_kim_ft_unwa.ckpt"
MDX23C = "uvr:MDX23C-8KFFT-InstVoc_HQ.ckpt"
MDX_NET = "uvr:UVR-MDX-NET-Inst_HQ_3.onnx"

# A BS-RoFormer laid out as the viperx model's config, shrunk: 129 STFT bins in three
# bands, one layer of width 16. Its chunk is hop * (256 - 1) = 16320 samples for audio
# under 10 s (audio-separator's segment override), about 0.37 s.
BS_CONFIG = """\
audio:
  chunk_size: 16320
  dim_f: 129
  dim_t: 256
  hop_length: 64
  n_fft: 256
  num_channels: 2
  sample_rate: 44100
model:
  dim: 16
  depth: 1
  stereo: true
  num_stems: 1
  time_transformer_depth: 1
  freq_transformer_depth: 1
  linear_transformer_depth: 0
  freqs_per_bands: !!python/tuple [32, 32, 65]
  dim_head: 8
  heads: 2
  attn_dropout: 0.0
  ff_dropout: 0.0
  flash_attn: true
  dim_freqs_in: 129
  stft_n_fft: 256
  stft_hop_length: 64
  stft_win_length: 256
  stft_normalized: false
  mask_estimator_depth: 2
training:
  instruments: [vocals, other]
  target_instrument: vocals
inference:
  batch_size: 1
  dim_t: 256
  num_overlap: 2
"""
CHUNK = 64 * 255

MEL_CONFIG = """\
audio: {chunk_size: 16320, dim_f: 129, dim_t: 256, hop_length: 64, n_fft: 256,
        num_channels: 2, sample_rate: 44100}
model: {dim: 16, depth: 1, stereo: true, num_stems: 1, time_transformer_depth: 1,
        freq_transformer_depth: 1, num_bands: 8, dim_head: 8, heads: 2, attn_dropout: 0.0,
        ff_dropout: 0.0, flash_attn: true, dim_freqs_in: 129, sample_rate: 44100,
        stft_n_fft: 256, stft_hop_length: 64, stft_win_length: 256, mask_estimator_depth: 1}
training: {instruments: [vocals, other], target_instrument: vocals}
inference: {batch_size: 1, dim_t: 256, num_overlap: 2}
"""

# MDX23C's layout (two predicted stems, no target), shrunk to two scales of width 8.
MDX23C_CONFIG = """\
audio: {chunk_size: 16320, dim_f: 128, dim_t: 256, hop_length: 64, n_fft: 256,
        num_channels: 2, sample_rate: 44100, min_mean_abs: 0.001}
model: {act: gelu, bottleneck_factor: 2, growth: 4, norm: InstanceNorm,
        num_blocks_per_scale: 1, num_channels: 8, num_scales: 2, num_subbands: 2,
        scale: [2, 2]}
training: {instruments: [Vocals, Instrumental], target_instrument: null}
inference: {batch_size: 1, dim_t: 256, num_overlap: 2}
"""

# UVR's parameters for a 6144-point MDX-Net (Inst HQ 3's layout).
MDX_PARAMS = {
    "compensate": 1.033,
    "mdx_dim_f_set": 3072,
    "mdx_dim_t_set": 8,
    "mdx_n_fft_scale_set": 6144,
    "primary_stem": "Instrumental",
}
MDX_GAIN = 0.5

Stereo = npt.NDArray[np.float32]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every connection and name lookup refused, and recorded: none may be tried."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("AUDIO_SEPARATOR_MODEL_DIR", raising=False)
    yield attempts
    assert attempts == [], "audio-separator tried the network"


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where temporary files go during the test, to check that none are left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def spec(model_id: str) -> ModelSpec:
    found = model_spec(model_id)
    assert found is not None
    return found


def uvr_dir(models_dir: Path) -> Path:
    folder = models_dir / "uvr"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_roformer(models_dir: Path, model_id: str, text: str, cls: Any) -> torch.nn.Module:
    """A random RoFormer saved under ``model_id``'s file names; returns the network."""
    torch.manual_seed(0)
    config = yaml.load(text, Loader=yaml.FullLoader)
    net: torch.nn.Module = cls(**config["model"]).eval()
    folder = uvr_dir(models_dir)
    torch.save(net.state_dict(), folder / model_file(spec(model_id)))
    config_name = config_file(spec(model_id))
    assert config_name is not None
    (folder / config_name).write_text(text, encoding="utf-8")
    return net


def write_mdx23c(models_dir: Path) -> None:
    torch.manual_seed(0)
    config = yaml.load(MDX23C_CONFIG, Loader=yaml.FullLoader)
    net = TFC_TDF_net(ConfigDict(config), device=torch.device("cpu"))
    folder = uvr_dir(models_dir)
    torch.save(net.state_dict(), folder / "MDX23C-8KFFT-InstVoc_HQ.ckpt")
    (folder / "model_2_stem_full_band_8k.yaml").write_text(MDX23C_CONFIG, encoding="utf-8")


def write_mdx_net(models_dir: Path) -> None:
    """An ONNX "network" that halves its input spectrogram, and UVR's table naming it."""
    shape = [1, 4, MDX_PARAMS["mdx_dim_f_set"], 2 ** int(MDX_PARAMS["mdx_dim_t_set"])]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["input", "gain"], ["output"])],
        "halve",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
        [helper.make_tensor("gain", TensorProto.FLOAT, [], [MDX_GAIN])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = uvr_dir(models_dir)
    path = folder / "UVR-MDX-NET-Inst_HQ_3.onnx"
    onnx.save(model, str(path))
    digest = hashlib.md5(path.read_bytes()).hexdigest()  # UVR's key: files under 10 MB whole
    table = {digest: MDX_PARAMS}
    (folder / "mdx_model_data.json").write_text(json.dumps(table), encoding="utf-8")


def pinned(models_dir: Path, model_id: str) -> ModelSpec:
    """The catalog entry, pinned to the files the test wrote in place of the published ones."""
    found = spec(model_id)
    weights = [
        dataclasses.replace(
            w, sha256=hashlib.sha256((models_dir / w.path).read_bytes()).hexdigest()
        )
        if (models_dir / w.path).is_file()
        else w
        for w in found.weights
    ]
    return dataclasses.replace(found, weights=tuple(weights))


def loaded(models_dir: Path, model_id: str) -> UVRModel:
    model = uvr.create(pinned(models_dir, model_id), models_dir)
    model.load("cpu")
    return model


def noise(samples: int, peak: float = 0.5, seed: int = 1) -> Stereo:
    audio = np.random.default_rng(seed).uniform(-1, 1, (2, samples)).astype(np.float32)
    return (audio * peak / np.abs(audio).max()).astype(np.float32)


def run(model: UVRModel, audio: Stereo) -> tuple[dict[str, Stereo], list[float]]:
    seen: list[float] = []
    stems = model.separate(audio, {}, seen.append)
    return stems, seen


def check_stems(stems: dict[str, Stereo], audio: Stereo) -> None:
    assert set(stems) == {"vocals", "instrumental"}
    for stem in stems.values():
        assert stem.dtype == np.float32
        assert stem.shape == audio.shape
        assert np.isfinite(stem).all()
        assert not np.allclose(stem, audio, atol=1e-3)
        assert np.abs(stem).max() > 1e-4


@pytest.mark.parametrize("peak", [0.5, 3.0])
def test_bs_roformer_vocals_are_the_network_output_and_instrumental_the_rest(
    tmp_path: Path, scratch: Path, peak: float
) -> None:
    net = write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    model = loaded(tmp_path, BS_ROFORMER)
    # One chunk, so demix is a single pass of the net; a whole number of STFT hops, so
    # the net's output is as long as its input.
    audio = noise(64 * 235, peak=peak)
    stems, seen = run(model, audio)

    check_stems(stems, audio)
    # Input louder than 0.9 goes in at 0.9, as audio-separator feeds it; the stems come
    # back at the mix's level.
    gain = min(1.0, 0.9 / peak)
    with torch.no_grad():
        expected = net(torch.from_numpy(audio * gain)[None])[0].numpy() / gain
    np.testing.assert_allclose(stems["vocals"], expected, atol=2e-5 * peak)
    np.testing.assert_allclose(stems["vocals"] + stems["instrumental"], audio, atol=1e-6 * peak)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert list(scratch.iterdir()) == []  # the staged model dir is gone


def test_bs_roformer_over_many_chunks_reports_each_and_keeps_the_length(
    tmp_path: Path, scratch: Path
) -> None:
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    model = loaded(tmp_path, BS_ROFORMER)
    audio = noise(44_101)  # odd, and not a multiple of any hop or chunk
    stems, seen = run(model, audio)

    check_stems(stems, audio)
    np.testing.assert_allclose(stems["vocals"] + stems["instrumental"], audio, atol=1e-6)
    # chunk starts every chunk / num_overlap samples, the last flush with the end
    chunks = len(range(0, audio.shape[1] - CHUNK, CHUNK // 2)) + 1
    assert seen == [0.0, *(k / chunks for k in range(1, chunks + 1)), 1.0]
    again, _ = run(model, audio)
    np.testing.assert_array_equal(again["vocals"], stems["vocals"])
    assert list(scratch.iterdir()) == []


def test_a_cancelled_separation_stops_and_puts_audio_separators_tqdm_back(
    tmp_path: Path,
) -> None:
    from audio_separator.separator.architectures import mdxc_separator

    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    model = loaded(tmp_path, BS_ROFORMER)
    original = mdxc_separator.tqdm

    def cancel(fraction: float) -> None:
        if fraction > 0:
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt):
        model.separate(noise(44_100), {}, cancel)
    assert mdxc_separator.tqdm is original
    stems, _ = run(model, noise(2_000))  # still usable
    assert stems["vocals"].shape == (2, 2_000)


def test_mel_roformer_loads_and_separates(tmp_path: Path) -> None:
    write_roformer(tmp_path, MEL_ROFORMER, MEL_CONFIG, MelBandRoformer)
    model = loaded(tmp_path, MEL_ROFORMER)
    audio = noise(20_000)
    stems, _ = run(model, audio)
    check_stems(stems, audio)
    np.testing.assert_allclose(stems["vocals"] + stems["instrumental"], audio, atol=1e-6)


def test_mdx23c_predicts_both_stems(tmp_path: Path) -> None:
    write_mdx23c(tmp_path)
    model = loaded(tmp_path, MDX23C)
    audio = noise(20_000)
    stems, seen = run(model, audio)
    check_stems(stems, audio)
    # Both stems are the network's own predictions here, not one and the remainder.
    assert not np.allclose(stems["vocals"] + stems["instrumental"], audio, atol=1e-3)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_mdx_net_goes_through_uvrs_hash_table(tmp_path: Path) -> None:
    write_mdx_net(tmp_path)
    model = loaded(tmp_path, MDX_NET)
    t = np.arange(44_100) / 44_100
    tone = 0.8 * np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 660 * t)])
    audio = tone.astype(np.float32)
    stems, _ = run(model, audio)

    assert set(stems) == {"vocals", "instrumental"}
    assert all(stem.shape == audio.shape and np.isfinite(stem).all() for stem in stems.values())
    # The halving graph keeps tones well inside the modelled band, at half level; the
    # other stem is the mix less the primary scaled by UVR's compensation.
    middle = slice(4_000, -4_000)
    np.testing.assert_allclose(stems["instrumental"][:, middle], audio[:, middle] / 2, atol=1e-3)
    np.testing.assert_allclose(
        stems["vocals"], audio - stems["instrumental"] * MDX_PARAMS["compensate"], atol=1e-5
    )
    assert model.memory_bytes > 0


def out_of_gpu_memory_on(instance: Any, method: str, lengths: list[int | None]) -> list[int]:
    """Patches ``instance.<method>`` (the per-chunk network call) to run out of GPU memory
    on a chunk whose length is first in ``lengths`` (None: any length), taking it off;
    returns every chunk's length as it is called."""
    seen: list[int] = []
    original = getattr(instance, method)

    def call(part: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(int(part.shape[-1]))
        if lengths and lengths[0] in (None, part.shape[-1]):
            lengths.pop(0)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return original(part, *args, **kwargs)

    setattr(instance, method, call)
    return seen


def test_out_of_gpu_memory_retries_a_roformer_once_with_half_length_chunks(
    tmp_path: Path,
) -> None:
    """GIVEN a RoFormer whose first full-length chunk runs out of GPU memory WHEN it
    separates THEN it retries once with chunks of half the STFT frames, the stems are that
    run's, and the progress bar never moves back."""
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    model = loaded(tmp_path, BS_ROFORMER)
    instance = model._instance
    audio = noise(44_101)
    half = 64 * (256 // 2 - 1)
    seen = out_of_gpu_memory_on(instance, "_run_roformer_model", [CHUNK])

    stems, reported = run(model, audio)

    assert seen[0] == CHUNK and set(seen[1:]) <= {half} and len(seen) > 2
    check_stems(stems, audio)
    expected = uvr.demix_mdxc(instance, audio, 256 // 2)
    np.testing.assert_allclose(stems["vocals"], expected["vocals"][:, : audio.shape[1]], atol=1e-6)
    assert reported == sorted(reported) and reported[-1] == 1.0
    # The shorter chunks were for the retry only.
    seen.clear()
    run(model, audio)
    assert set(seen) == {CHUNK}


def test_out_of_gpu_memory_twice_is_a_model_error_that_says_what_to_do(tmp_path: Path) -> None:
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    model = loaded(tmp_path, BS_ROFORMER)
    half = 64 * (256 // 2 - 1)
    seen = out_of_gpu_memory_on(model._instance, "_run_roformer_model", [CHUNK, half])
    with pytest.raises(ModelError, match=r"even on a retry with half-length.*STEMDECK_DEVICE"):
        model.separate(noise(44_101), {}, lambda fraction: None)
    assert seen == [CHUNK, half]
    stems, _ = run(model, noise(2_000))  # still loaded and usable
    assert stems["vocals"].shape == (2, 2_000)


def test_an_mdx_net_out_of_gpu_memory_fails_at_once_saying_what_to_do(tmp_path: Path) -> None:
    """MDX-Net's ONNX graph has its chunk length built in: no shorter retry is possible."""
    write_mdx_net(tmp_path)
    model = loaded(tmp_path, MDX_NET)
    chunks = out_of_gpu_memory_on(model._instance, "run_model", [None])
    with pytest.raises(ModelError, match=r"ran out of GPU memory\. Free GPU memory"):
        model.separate(noise(44_100), {}, lambda fraction: None)
    assert len(chunks) == 1


def test_without_onnx2torch_a_stand_in_explains_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "onnx2torch", None)  # what a failed import leaves
    ensure_onnx2torch_importable()
    import onnx2torch  # type: ignore[import-untyped]

    with pytest.raises(ModelError, match="needs onnx2torch, which cannot be imported here"):
        onnx2torch.convert("model.onnx")


def test_missing_files_are_named_with_their_folder_and_source(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as caught:
        loaded(tmp_path, BS_ROFORMER)
    message = str(caught.value)
    assert "model_bs_roformer_ep_317_sdr_12.9755.ckpt" in message
    assert "model_bs_roformer_ep_317_sdr_12.9755.yaml" in message
    assert "uvr/ folder" in message and str(tmp_path) not in message
    assert "https://github.com/TRvlvr/model_repo/releases/download" in message

    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    (tmp_path / "uvr" / "model_bs_roformer_ep_317_sdr_12.9755.yaml").unlink()
    with pytest.raises(ModelError, match=r"missing: model_bs_roformer_ep_317_sdr_12\.9755\.yaml\."):
        loaded(tmp_path, BS_ROFORMER)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_checkpoint_is_named(tmp_path: Path, scratch: Path, damage: str) -> None:
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    checkpoint = tmp_path / "uvr" / "model_bs_roformer_ep_317_sdr_12.9755.ckpt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(
        b"not a checkpoint" * 64 if damage == "garbage" else data[: len(data) // 2]
    )
    with pytest.raises(ModelError) as caught:
        loaded(tmp_path, BS_ROFORMER)
    message = str(caught.value)
    assert "cannot load model_bs_roformer_ep_317_sdr_12.9755.ckpt" in message
    assert "damaged" in message
    assert list(scratch.iterdir()) == []


def test_a_damaged_config_is_named(tmp_path: Path) -> None:
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    (tmp_path / "uvr" / "model_bs_roformer_ep_317_sdr_12.9755.yaml").write_text("model: [unclosed")
    with pytest.raises(
        ModelError, match=r"cannot load model_bs_roformer_ep_317_sdr_12\.9755\.yaml"
    ):
        loaded(tmp_path, BS_ROFORMER)


def test_an_mdx_net_file_uvr_does_not_know_is_refused(tmp_path: Path) -> None:
    write_mdx_net(tmp_path)
    (tmp_path / "uvr" / "mdx_model_data.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match=r"cannot load UVR-MDX-NET-Inst_HQ_3\.onnx.*MD5 hash"):
        loaded(tmp_path, MDX_NET)


def test_the_separator_never_downloads_and_runs_where_told(tmp_path: Path) -> None:
    separator = OfflineSeparator(
        "cpu", log_level=logging.ERROR, model_file_dir=str(tmp_path), output_dir=str(tmp_path)
    )
    assert separator.torch_device == torch.device("cpu")
    assert separator.onnx_execution_provider == ["CPUExecutionProvider"]
    present = tmp_path / "present.json"
    present.write_text("{}")
    separator.download_file_if_not_exists("https://example.invalid/present.json", str(present))
    with pytest.raises(ModelError, match=r"wants absent\.json.*https://example\.invalid/x"):
        separator.download_file_if_not_exists(
            "https://example.invalid/x", str(tmp_path / "absent.json")
        )


def test_files_for_another_model_are_refused(tmp_path: Path) -> None:
    other = BS_CONFIG.replace("[vocals, other]", "[drums, other]").replace(
        "target_instrument: vocals", "target_instrument: drums"
    )
    write_roformer(tmp_path, BS_ROFORMER, other, BSRoformer)
    with pytest.raises(ModelError, match=r"separates \['drums', 'other'\]"):
        loaded(tmp_path, BS_ROFORMER)


def test_loading_leaves_the_processes_warning_filters_alone(tmp_path: Path) -> None:
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    before = list(warnings.filters)
    loaded(tmp_path, BS_ROFORMER)
    assert list(warnings.filters) == before


def test_the_model_cache_builds_uvr_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    monkeypatch.setitem(CATALOG, BS_ROFORMER, pinned(tmp_path, BS_ROFORMER))
    cache = ModelCache("cpu", models_dir=tmp_path, downloads=False)
    model = cache.get(BS_ROFORMER)
    assert isinstance(model, UVRModel)
    assert model.memory_bytes > 0
    cache.release()
    assert model.memory_bytes == 0


def test_unknown_params_are_refused(tmp_path: Path) -> None:
    write_roformer(tmp_path, BS_ROFORMER, BS_CONFIG, BSRoformer)
    with pytest.raises(ModelError, match="unknown params"):
        loaded(tmp_path, BS_ROFORMER).separate(noise(100), {"shifts": 1}, lambda _: None)


def test_every_catalog_entry_names_its_files_as_audio_separator_does() -> None:
    from importlib import resources

    listed = json.loads(resources.files("audio_separator").joinpath("models.json").read_text())
    known = {
        k: v
        for group in listed.values()
        for item in group.values()
        if isinstance(item, dict)
        for k, v in item.items()
    }
    entries = [s for s in CATALOG.values() if s.family == "uvr"]
    assert len(entries) >= 4
    for entry in entries:
        assert all(w.path.startswith("uvr/") and w.url for w in entry.weights)
        assert sorted(entry.slots) == ["instrumental", "vocals"]
        index = model_index(entry)
        listed_in = [name for name, models in index.items() if models]
        assert listed_in == (
            ["roformer_download_list"] if config_file(entry) else ["mdx_download_list"]
        )
        # Where audio-separator's own list knows the model, its config is the same file.
        if model_file(entry) in known:
            assert known[model_file(entry)] == config_file(entry)
    assert known[model_file(spec(MEL_ROFORMER))] == config_file(spec(MEL_ROFORMER))


@pytest.mark.parametrize(
    ("stem", "stems", "slot"),
    [
        ("other", ["vocals", "other"], "instrumental"),
        ("Instrumental", ["Vocals", "Instrumental"], "instrumental"),
        ("Vocals", ["Instrumental", "Vocals"], "vocals"),
        ("other", ["drums", "other"], "other"),
        ("bass", ["drums", "bass", "other", "vocals"], "bass"),
    ],
)
def test_uvr_stem_names_become_slots(stem: str, stems: list[str], slot: str) -> None:
    assert slot_for(stem, stems) == slot

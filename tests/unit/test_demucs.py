"""Demucs through Stemdeck's weights-only loading and demucs's apply_model, with small
models the tests build.

Pretrained weights cannot be downloaded here, so each test saves small randomly
initialised HTDemucs models the way demucs packages its own (``{sig}-{sha[:8]}.th``
beside a ``{name}.yaml`` bag file) into a temporary models dir, pinned in a catalog
entry by their SHA-256 as the real ones are: the real checking, unpickling and bag
code runs on them, and their stems are compared with demucs's own loading.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
import torch
from demucs.api import Separator
from demucs.apply import BagOfModels, Model, apply_model
from demucs.htdemucs import HTDemucs
from demucs.states import get_state, save_with_checksum

from stemdeck.core.catalog import CATALOG, ModelSpec, WeightFile, model_spec
from stemdeck.core.probe import probe
from stemdeck.core.strategies import Node, Strategy
from stemdeck.worker.audio import decode
from stemdeck.worker.executor import separate_file
from stemdeck.worker.models import demucs as demucs_module
from stemdeck.worker.models.base import SAMPLE_RATE, ModelError
from stemdeck.worker.models.cache import ModelCache
from stemdeck.worker.models.demucs import DemucsModel, create, members
from stemdeck.worker.models.demucs_weights import download, package_weights

Stereo = npt.NDArray[np.float32]

FOUR = ("drums", "bass", "other", "vocals")
SIX = (*FOUR, "guitar", "piano")
NAMES = ("htdemucs", "htdemucs_ft", "htdemucs_6s", "hdemucs_mmi", "mdx_extra")
# One-second segments: a few seconds of audio already run apply_model's split loop
# over several overlapping chunks, as a song does with the real 7.8 s segments.
SEGMENT = Fraction(1)
PARAMS = model_spec("demucs:htdemucs").params  # type: ignore[union-attr]
# Far below the 1e-4 asked for: these small models' stems peak near 0.02, and HTDemucs
# normalises inside too, so skipping the outer normalisation shifts them by only ~1e-5.
# The same operations run in the same order on both sides, so they agree to rounding
# (and to the 24-bit quantisation, 6e-8, for the files the executor writes).
TOLERANCE = 1e-6


def tiny_htdemucs(seed: int, sources: Sequence[str] = FOUR) -> HTDemucs:
    torch.manual_seed(seed)
    model: HTDemucs = HTDemucs(
        list(sources), channels=8, depth=3, nfft=2048, t_layers=1, t_heads=2, segment=SEGMENT
    )
    # Stored in half precision like demucs's released packages; the reference model
    # gets the same rounded weights.
    model.load_state_dict(get_state(model, None, half=True))  # type: ignore[no-untyped-call]
    model.eval()
    return model


def save_package(model: HTDemucs, folder: Path, sig: str) -> Path:
    """demucs's package format, named ``{sig}-{sha256[:8]}.th`` by its own save_with_checksum."""
    recorded: Any = model._init_args_kwargs  # by demucs's capture_init
    args, kwargs = recorded
    package = {
        "klass": HTDemucs,
        "args": args,
        "kwargs": kwargs,
        "state": get_state(model, None, half=True),  # type: ignore[no-untyped-call]
    }
    folder.mkdir(parents=True, exist_ok=True)
    save_with_checksum(package, folder / f"{sig}.th")  # type: ignore[no-untyped-call]
    [path] = folder.glob(f"{sig}-*.th")
    return path


def install(
    models_dir: Path,
    name: str,
    models: dict[str, HTDemucs],
    weights: list[list[float]] | None = None,
) -> ModelSpec:
    """Save ``models`` (signature -> model) and bag ``name`` of them; its catalog spec."""
    folder = models_dir / "demucs"
    files = [save_package(model, folder, sig) for sig, model in models.items()]
    bag = f"models: {list(models)}\n" + (f"weights: {weights}\n" if weights else "")
    (folder / f"{name}.yaml").write_text(bag, encoding="utf-8")
    first = next(iter(models.values()))
    return ModelSpec(
        id=f"demucs:{name}",
        label=f"test model {name}",
        slots=tuple(first.sources),
        cost=0.01,
        params=PARAMS,
        weights=tuple(WeightFile(f"demucs/{f.name}", sha256=sha256(f)) for f in files),
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference(model: Model | BagOfModels, audio: Stereo, **settings: Any) -> dict[str, Stereo]:
    """demucs's apply_model on ``audio``, normalised as demucs's Separator does it."""
    mix = torch.from_numpy(audio)
    mono = mix.mean(0)
    mean, std = mono.mean(), mono.std() + 1e-8
    out = apply_model(model, ((mix - mean) / std)[None], split=True, **settings)
    stems = (out[0] * std + mean).numpy()
    return dict(zip(model.sources, stems, strict=True))


def music(seconds: float, seed: int = 0) -> Stereo:
    """Quiet noise over a few tones: stems of a random model stay well inside full scale."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tones = sum(np.sin(2 * np.pi * f * t + p) for f, p in ((110, 0), (440, 1), (1760, 2)))
    audio = 0.05 * tones + 0.05 * rng.standard_normal((2, t.size))
    return np.ascontiguousarray(audio, dtype=np.float32)


class Recorder:
    def __init__(self) -> None:
        self.values: list[float] = []

    def __call__(self, fraction: float) -> None:
        self.values.append(fraction)


def assert_forward_to_one(values: list[float]) -> None:
    assert values and values[-1] == 1.0
    assert all(0 < v <= 1 for v in values)
    assert all(a < b for a, b in pairwise(values))


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelSpec, HTDemucs]:
    models_dir = tmp_path_factory.mktemp("models")
    model = tiny_htdemucs(seed=1)
    return models_dir, install(models_dir, "tiny", {"0a1b2c3d": model}), model


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelSpec, BagOfModels]:
    """Two members, each trusted for different stems, as htdemucs_ft's bag is."""
    models_dir = tmp_path_factory.mktemp("models")
    first, second = tiny_htdemucs(seed=2), tiny_htdemucs(seed=3)
    weights = [[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 0.5, 1.0]]
    spec = install(models_dir, "tinybag", {"1a2b3c4d": first, "2a3b4c5d": second}, weights)
    return models_dir, spec, BagOfModels([first, second], weights)


def loaded(models_dir: Path, spec: ModelSpec) -> DemucsModel:
    model = create(spec, models_dir)
    model.load("cpu")
    return model


# --- the catalog ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_catalog_lists_the_files_and_urls_demucs_itself_fetches(name: str) -> None:
    spec = model_spec(f"demucs:{name}")
    assert spec is not None
    assert [(w.path, w.url) for w in spec.weights] == [
        (w.path, w.url) for w in package_weights(name)
    ]
    for weight in spec.weights:
        # A full SHA-256 that begins with the digits demucs put in the file's name.
        assert weight.sha256 is not None and len(weight.sha256) == 64
        int(weight.sha256, 16)
        assert weight.sha256.startswith(Path(weight.path).stem.split("-")[1])
    assert spec.slots == (SIX if name == "htdemucs_6s" else FOUR)
    assert {p.name for p in spec.params} == {"shifts", "overlap"}
    assert spec.resolve_params({}) == {"shifts": 0.0, "overlap": 0.25}


# --- fidelity -------------------------------------------------------------------------


def test_stems_equal_demucs_apply_model_on_the_same_input(
    single: tuple[Path, ModelSpec, HTDemucs],
) -> None:
    models_dir, spec, original = single
    audio = music(2.6)
    model = loaded(models_dir, spec)

    stems = model.separate(audio, spec.resolve_params({}), Recorder())

    expected = reference(original, audio, shifts=0, overlap=0.25)
    assert list(stems) == list(FOUR)
    for slot in FOUR:
        assert stems[slot].dtype == np.float32
        assert stems[slot].shape == audio.shape
        np.testing.assert_allclose(stems[slot], expected[slot], rtol=0, atol=TOLERANCE)
    assert np.abs(expected["vocals"]).max() > 1e-3  # the model's output is not trivially zero


def test_stems_equal_demucs_own_separator_on_the_same_files(
    single: tuple[Path, ModelSpec, HTDemucs],
) -> None:
    """demucs's Python API end to end (its loading, normalisation and apply_model)."""
    models_dir, spec, _ = single
    audio = music(2.2, seed=3)
    separator = Separator(
        "tiny", repo=models_dir / "demucs", device="cpu", shifts=0, overlap=0.25, split=True
    )
    _, expected = separator.separate_tensor(torch.from_numpy(audio))

    stems = loaded(models_dir, spec).separate(audio, spec.resolve_params({}), Recorder())

    for slot in FOUR:
        np.testing.assert_allclose(stems[slot], expected[slot].numpy(), rtol=0, atol=TOLERANCE)


def test_a_weighted_bag_equals_demucs_apply_model_on_the_same_bag(
    bag: tuple[Path, ModelSpec, BagOfModels],
) -> None:
    models_dir, spec, original = bag
    audio = music(2.0, seed=1)
    model = loaded(models_dir, spec)

    stems = model.separate(audio, {"shifts": 0, "overlap": 0.5}, Recorder())

    expected = reference(original, audio, shifts=0, overlap=0.5)
    for slot in FOUR:
        np.testing.assert_allclose(stems[slot], expected[slot], rtol=0, atol=TOLERANCE)


def test_the_worker_executor_writes_the_stems_demucs_computes(
    single: tuple[Path, ModelSpec, HTDemucs],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models_dir, spec, original = single
    # The cache finds models by id in the catalog, as it does for the real demucs models.
    monkeypatch.setitem(CATALOG, spec.id, spec)
    source = tmp_path / "mix.wav"
    sf.write(source, music(3.1, seed=2).T, SAMPLE_RATE, subtype="FLOAT")
    strategy = Strategy(
        name="tiny",
        label="tiny demucs",
        tree=Node(model=spec, params=spec.resolve_params({}), outputs={s: s for s in FOUR}),
        stems=("vocals", "drums", "bass", "other"),
    )
    events: list[tuple[str, float]] = []
    cache = ModelCache("cpu", models_dir=models_dir)

    result = separate_file(
        source,
        probe(source),
        strategy,
        ["wav24"],
        tmp_path / "out",
        cache,
        lambda label, fraction: events.append((label, fraction)),
    )

    assert cache.loaded == [spec.id]
    assert result.notes == []  # no headroom gain: the files hold the stems as computed
    expected = reference(original, decode(source, probe(source)), shifts=0, overlap=0.25)
    for stem in result.stems:
        written, rate = sf.read(stem.files["wav24"], dtype="float32", always_2d=True)
        assert rate == SAMPLE_RATE
        np.testing.assert_allclose(written.T, expected[stem.name], rtol=0, atol=TOLERANCE)
    separating = [f for label, f in events if label == f"separating: {spec.id}"]
    assert len(separating) > 3  # chunk by chunk, not only at the start and the end


# --- progress, shapes -----------------------------------------------------------------


def test_progress_moves_forward_chunk_by_chunk_across_bag_members(
    bag: tuple[Path, ModelSpec, BagOfModels],
) -> None:
    models_dir, spec, _ = bag
    progress = Recorder()
    # 3 s in 0.75 s strides: 4 chunks per member, 8 in all.
    loaded(models_dir, spec).separate(music(3.0), spec.resolve_params({}), progress)

    assert_forward_to_one(progress.values)
    assert len(progress.values) == 8
    # Each member's chunks fill its own half of the bar.
    assert progress.values[3] == pytest.approx(0.5)


def test_progress_with_shifts_still_ends_at_one(
    single: tuple[Path, ModelSpec, HTDemucs],
) -> None:
    models_dir, spec, _ = single
    progress = Recorder()
    stems = loaded(models_dir, spec).separate(music(1.5), {"shifts": 2, "overlap": 0.25}, progress)

    assert_forward_to_one(progress.values)
    assert len(progress.values) >= 6
    assert all(stem.shape == (2, 1.5 * SAMPLE_RATE) for stem in stems.values())


@pytest.mark.parametrize("samples", [1, 4_099, 12_345])
def test_outputs_are_float32_and_exactly_the_input_length(
    single: tuple[Path, ModelSpec, HTDemucs], samples: int
) -> None:
    models_dir, spec, _ = single
    audio = music(1.0)[:, :samples]
    stems = loaded(models_dir, spec).separate(audio, spec.resolve_params({}), Recorder())

    assert list(stems) == list(FOUR)
    for stem in stems.values():
        assert stem.shape == (2, samples) and stem.dtype == np.float32
        assert np.isfinite(stem).all()


def test_six_sources_come_out_under_their_slot_names(tmp_path: Path) -> None:
    spec = install(tmp_path, "tiny6", {"3a4b5c6d": tiny_htdemucs(4, sources=SIX)})
    stems = loaded(tmp_path, spec).separate(music(0.5), spec.resolve_params({}), Recorder())
    assert set(stems) == set(SIX)


def test_silence_and_empty_input(single: tuple[Path, ModelSpec, HTDemucs]) -> None:
    models_dir, spec, _ = single
    model = loaded(models_dir, spec)
    for audio in (np.zeros((2, 4_000), np.float32), np.zeros((2, 0), np.float32)):
        stems = model.separate(audio, spec.resolve_params({}), Recorder())
        assert all(s.shape == audio.shape and np.isfinite(s).all() for s in stems.values())


def test_bad_params_and_mono_input_are_model_errors(
    single: tuple[Path, ModelSpec, HTDemucs],
) -> None:
    models_dir, spec, _ = single
    model = loaded(models_dir, spec)
    with pytest.raises(ModelError, match="overlap"):
        model.separate(music(0.5), {"shifts": 0, "overlap": 0.99}, Recorder())
    with pytest.raises(ModelError, match="stereo"):
        model.separate(music(0.5)[:1], spec.resolve_params({}), Recorder())


def test_memory_is_the_loaded_weights_and_release_frees_them(
    single: tuple[Path, ModelSpec, HTDemucs],
) -> None:
    models_dir, spec, original = single
    model = create(spec, models_dir)
    assert model.memory_bytes == 0
    model.load("cpu")
    expected = sum(t.numel() * 4 for t in (*original.parameters(), *original.buffers()))
    assert model.memory_bytes == expected
    model.release()
    assert model.memory_bytes == 0
    with pytest.raises(ModelError, match="not loaded"):
        model.separate(music(0.5), spec.resolve_params({}), Recorder())


# --- missing and damaged weights ------------------------------------------------------


def test_missing_weights_name_the_files_and_their_source_but_no_server_path(
    tmp_path: Path,
) -> None:
    spec = model_spec("demucs:htdemucs_ft")
    assert spec is not None
    with pytest.raises(ModelError) as caught:
        create(spec, tmp_path).load("cpu")
    message = str(caught.value)
    for weight in spec.weights:
        assert weight.path in message
        assert str(weight.url) in message
    assert str(tmp_path) not in message and "stemdeck models" in message


def test_a_truncated_weight_file_is_named_and_the_cache_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = install(tmp_path, "tiny", {"0a1b2c3d": tiny_htdemucs(1)})
    path = tmp_path / spec.weights[0].path
    path.write_bytes(path.read_bytes()[:5_000])
    monkeypatch.setitem(CATALOG, spec.id, spec)
    cache = ModelCache("cpu", models_dir=tmp_path)

    with pytest.raises(ModelError, match=f"{spec.weights[0].path} .*does not match") as caught:
        cache.get(spec.id)
    assert "stemdeck models" in str(caught.value) and str(tmp_path) not in str(caught.value)
    assert cache.loaded == []
    # Unpinned (a model of one's own), demucs's own check, the digits in the name, holds.
    unpinned = dataclasses.replace(
        spec, weights=(dataclasses.replace(spec.weights[0], sha256=None),)
    )
    with pytest.raises(ModelError, match="does not match the checksum in its name"):
        create(unpinned, tmp_path).load("cpu")


def test_a_damaged_file_without_a_checksum_in_its_name_is_named(tmp_path: Path) -> None:
    # demucs also loads ``{sig}.th`` files, without a checksum to catch damage early.
    folder = tmp_path / "demucs"
    folder.mkdir()
    (folder / "4a5b6c7d.th").write_bytes(b"PK\x03\x04 not really a zip file")
    (folder / "broken.yaml").write_text("models: ['4a5b6c7d']\n", encoding="utf-8")
    spec = ModelSpec(
        id="demucs:broken",
        label="broken",
        slots=FOUR,
        cost=0.01,
        params=PARAMS,
        weights=(WeightFile("demucs/4a5b6c7d.th"),),
    )
    model = create(spec, tmp_path)
    with pytest.raises(ModelError, match=r"4a5b6c7d\.th"):
        model.load("cpu")
    assert model.memory_bytes == 0


def test_files_for_other_sources_are_refused(tmp_path: Path) -> None:
    spec = install(tmp_path, "tiny6", {"3a4b5c6d": tiny_htdemucs(4, sources=SIX)})
    four_slot = ModelSpec(spec.id, spec.label, FOUR, spec.cost, spec.params, spec.weights)
    with pytest.raises(ModelError, match="guitar"):
        create(four_slot, tmp_path).load("cpu")


# --- running out of GPU memory --------------------------------------------------------


def failing_apply(times: int, segments: list[list[float]]) -> Callable[..., torch.Tensor]:
    """apply_model that runs out of GPU memory ``times`` times first; records each segment."""
    calls = {"n": 0}

    def apply(model: Model | BagOfModels, *args: Any, **kwargs: Any) -> torch.Tensor:
        segments.append([float(m.segment) for m in members(model)])
        calls["n"] += 1
        if calls["n"] <= times:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return apply_model(model, *args, **kwargs)

    return apply


def test_out_of_gpu_memory_retries_once_with_half_length_segments(
    bag: tuple[Path, ModelSpec, BagOfModels], monkeypatch: pytest.MonkeyPatch
) -> None:
    models_dir, spec, _ = bag
    segments: list[list[float]] = []
    monkeypatch.setattr(demucs_module, "apply_model", failing_apply(1, segments))
    model = loaded(models_dir, spec)
    audio = music(2.0)
    progress = Recorder()

    stems = model.separate(audio, spec.resolve_params({}), progress)

    assert segments == [[1.0, 1.0], [0.5, 0.5]]
    assert all(s.shape == audio.shape and np.isfinite(s).all() for s in stems.values())
    assert_forward_to_one(progress.values)
    assert len(progress.values) > 4  # the retry reports its chunks as it goes
    # The shorter segments were for the retry only.
    monkeypatch.setattr(demucs_module, "apply_model", failing_apply(0, segments))
    model.separate(audio, spec.resolve_params({}), Recorder())
    assert segments[-1] == [1.0, 1.0]


def test_out_of_gpu_memory_twice_is_a_model_error_that_says_what_to_do(
    single: tuple[Path, ModelSpec, HTDemucs], monkeypatch: pytest.MonkeyPatch
) -> None:
    models_dir, spec, _ = single
    segments: list[list[float]] = []
    monkeypatch.setattr(demucs_module, "apply_model", failing_apply(2, segments))
    model = loaded(models_dir, spec)

    with pytest.raises(ModelError, match=r"ran out of GPU memory.*STEMDECK_DEVICE=cpu"):
        model.separate(music(1.0), spec.resolve_params({}), Recorder())
    assert segments == [[1.0], [0.5]]
    assert model._model is not None
    assert [float(m.segment) for m in members(model._model)] == [1.0]


def test_a_model_too_big_for_the_gpu_is_a_model_error_and_not_kept(
    single: tuple[Path, ModelSpec, HTDemucs], monkeypatch: pytest.MonkeyPatch
) -> None:
    models_dir, spec, _ = single

    def out_of_memory(self: BagOfModels, *args: Any, **kwargs: Any) -> BagOfModels:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 MiB")

    monkeypatch.setattr(BagOfModels, "to", out_of_memory)
    model = create(spec, models_dir)
    with pytest.raises(ModelError, match="does not fit in the GPU"):
        model.load("cpu")
    assert model.memory_bytes == 0


# --- make models ----------------------------------------------------------------------


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a folder laid out as the models dir is."""
    served = tmp_path / "served"
    served.mkdir()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = served / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    httpd.shutdown()
    httpd.server_close()


def test_download_names_every_file_it_could_not_fetch(tmp_path: Path) -> None:
    # A closed port on loopback: no network here, and a test must never fetch hundreds
    # of MB where there is one.
    with pytest.raises(ModelError) as caught:
        download(["htdemucs", "mdx_extra"], tmp_path / "models", mirror="http://127.0.0.1:1")
    message = str(caught.value)
    for name in ("htdemucs", "mdx_extra"):
        spec = model_spec(f"demucs:{name}")
        assert spec is not None
        for weight in spec.weights:
            assert f"{weight.path} from {weight.url}" in message
    assert not list((tmp_path / "models").rglob("*.th"))


def test_download_puts_checked_weights_and_the_bag_file_in_the_demucs_folder(
    tmp_path: Path, mirror: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN htdemucs's catalog entry pinned to a file a mirror serves WHEN downloading
    THEN it lands in the demucs folder beside the bag file, and is not fetched twice."""
    url, served = mirror
    spec = model_spec("demucs:htdemucs")
    assert spec is not None
    (weight,) = spec.weights
    package = save_package(tiny_htdemucs(1), tmp_path / "made", "955717e8")
    (served / "demucs").mkdir()
    (served / weight.path).write_bytes(package.read_bytes())
    pinned = dataclasses.replace(weight, sha256=sha256(package))
    monkeypatch.setitem(CATALOG, spec.id, dataclasses.replace(spec, weights=(pinned,)))
    models_dir = tmp_path / "models"

    fetched = download(["htdemucs"], models_dir, mirror=url)

    assert fetched == [models_dir / weight.path]
    assert (models_dir / weight.path).read_bytes() == package.read_bytes()
    assert (models_dir / "demucs" / "htdemucs.yaml").read_text().startswith("models:")
    assert download(["htdemucs"], models_dir, mirror=url) == []  # nothing left to fetch
    with pytest.raises(ModelError, match="unknown demucs models"):
        download(["htdemucs_9s"], models_dir)


def test_a_download_that_does_not_match_its_pin_is_discarded(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    url, served = mirror
    spec = model_spec("demucs:htdemucs")
    assert spec is not None
    (served / "demucs").mkdir()
    (served / spec.weights[0].path).write_bytes(b"not the published htdemucs weights")
    models_dir = tmp_path / "models"

    with pytest.raises(ModelError, match="does not match the SHA-256 Stemdeck pins") as caught:
        download(["htdemucs"], models_dir, mirror=url)
    assert spec.weights[0].path in str(caught.value)
    assert not [p for p in models_dir.rglob("*") if p.is_file() and p.suffix != ".yaml"]

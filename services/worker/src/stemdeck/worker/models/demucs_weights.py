"""Demucs weights in STEMDECK_MODELS_DIR/demucs: the files each named model needs.

demucs names a model by a bag file, ``{name}.yaml`` (which trained models, how their
stems are weighed, their segment), and each trained model's file ``{sig}-{sha[:8]}.th``.
The bag files ship inside the demucs package, which is where loading reads them
(demucs_checkpoints); a download also copies them beside the weights, so the folder
stays a repository demucs's own command line can use. The catalog lists only the
``.th`` files, each with its full SHA-256: they are what has to be downloaded.

Run ``python -m stemdeck.worker.models.demucs_weights [NAME ...]`` to fetch weights
ahead of time (all names when none is given) into the settings' models dir.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml
from demucs.pretrained import REMOTE_ROOT, _parse_remote_files

from stemdeck.core.catalog import CATALOG, ModelSpec, WeightFile
from stemdeck.core.weights import WeightsUnavailable, fetch_missing, missing_files
from stemdeck.worker.models.base import ModelError

FAMILY = "demucs"
FOLDER = "demucs"  # under STEMDECK_MODELS_DIR, one folder for every demucs model


def repo_dir(models_dir: Path) -> Path:
    return models_dir / FOLDER


def model_name(spec: ModelSpec) -> str:
    """``demucs:htdemucs_ft`` -> ``htdemucs_ft``, the name demucs knows it by."""
    return spec.id.partition(":")[2]


def package_weights(name: str) -> tuple[WeightFile, ...]:
    """The files demucs's own remote loading fetches for ``name``, with their URLs.

    Read from the installed package's ``remote/`` folder: the bag file's signatures,
    resolved through ``files.txt`` as demucs resolves them.
    """
    bag = yaml.safe_load((REMOTE_ROOT / f"{name}.yaml").read_text(encoding="utf-8"))
    urls: dict[str, str] = _parse_remote_files(REMOTE_ROOT / "files.txt")
    signatures = list(dict.fromkeys(bag["models"]))  # a bag may use one model twice
    return tuple(
        WeightFile(f"{FOLDER}/{urls[sig].rsplit('/', 1)[1]}", urls[sig]) for sig in signatures
    )


def install_bag_file(name: str, models_dir: Path) -> Path:
    """``{name}.yaml`` in the demucs folder, copied from the package when absent."""
    target = repo_dir(models_dir) / f"{name}.yaml"
    if target.is_file():
        return target
    source = REMOTE_ROOT / f"{name}.yaml"
    if not source.is_file():
        raise ModelError(
            f"{target} is missing and demucs has no model named {name!r}: write the bag file "
            "there (`models: [signature, ...]`, as in demucs's remote/ folder)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Copied beside the target and renamed, so a worker starting at the same time reads
    # either no bag file or a whole one.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{name}-", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from workers running as other users
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _absent(spec: ModelSpec, models_dir: Path) -> list[WeightFile]:
    absent = set(missing_files(spec, models_dir))
    return [w for w in spec.weights if models_dir / w.path in absent]


def ensure_present(spec: ModelSpec, models_dir: Path) -> None:
    """ModelError naming every file ``spec`` lacks, and where each comes from.

    Fetching absent files is the model cache's job on first use (and ``download``'s ahead
    of time), so a worker with downloads switched off never reaches the network from here,
    and nothing here writes: the models dir may be a read-only volume.
    """
    if absent := _absent(spec, models_dir):
        files = ", ".join(f"{w.path} ({w.url or 'no download source'})" for w in absent)
        raise ModelError(
            f"{spec.id} weights are missing from the models directory: {files}. Run "
            "`stemdeck models` where the network allows, or put them there by hand."
        )


def specs_for(names: Sequence[str]) -> list[ModelSpec]:
    """Catalog specs for demucs model names; ModelError naming any it does not know."""
    known = {model_name(s): s for s in CATALOG.values() if s.family == FAMILY}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ModelError(f"unknown demucs models {unknown} (known: {', '.join(known)})")
    return [known[name] for name in names]


def download(names: Sequence[str], models_dir: Path, mirror: str = "") -> list[Path]:
    """Fetch the weights and bag files of demucs models ``names``; returns the files fetched.

    Every model is tried before failing, so one message names everything still missing.
    """
    fetched: list[Path] = []
    failures: list[str] = []
    for spec in specs_for(names):
        try:
            fetched += fetch_missing(spec, models_dir, mirror=mirror)
            install_bag_file(model_name(spec), models_dir)
        except WeightsUnavailable as error:
            still = ", ".join(f"{w.path} from {w.url}" for w in _absent(spec, models_dir))
            failures.append(f"{error} Still missing for {spec.id}: {still}.")
        except OSError as error:
            failures.append(f"{spec.id}: cannot write into {repo_dir(models_dir)} ({error})")
    if failures:
        raise ModelError("could not fetch demucs weights:\n" + "\n".join(failures))
    return fetched


def main(argv: list[str]) -> None:
    from stemdeck.core.settings import get_settings

    names = argv or [model_name(s) for s in CATALOG.values() if s.family == FAMILY]
    settings = get_settings()
    try:
        for path in download(names, settings.effective_models_dir, settings.model_mirror):
            print(path)
    except ModelError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main(sys.argv[1:])

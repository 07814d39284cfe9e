"""Loading a ``uvr:<model file>`` through audio-separator's Separator, with no network.

Besides the checkpoint (and, for RoFormer / MDX23C, its YAML config), audio-separator
0.47.1 reads files that it downloads from GitHub on every load when they are absent:

- ``download_checks.json`` (UVR's model index): read for every model, to learn the
  model's architecture and the config that goes with it;
- ``vr_model_data.json`` and ``mdx_model_data.json`` (UVR's parameters by checkpoint
  hash): read for MDX-Net ``.onnx`` models only.

The model index is generated here from the catalog entry, which already says which
checkpoint and config a model has, so it never goes stale and needs no download. UVR's
MDX-Net parameters cannot be made up: ``mdx_model_data.json`` is one of an MDX-Net
model's catalog weights, downloaded beside it. The files are linked into a private
folder that audio-separator sees as its model dir, so the shared models dir is only
read (it may be a read-only volume) and no worker ever writes a file another reads.

Before loading, every file with a pinned SHA-256 is checked against it. Checkpoints
(``.ckpt``) are pickles: audio-separator reads them with ``torch.load`` and no
``weights_only`` argument, which torch (2.6 and later) takes as weights-only, so a
file that names anything but tensors is refused rather than run. The environment
variable that would turn that off is refused here.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import pickle
import re
import sys
import tempfile
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import yaml
from audio_separator.separator import Separator

from stemdeck.core.catalog import ModelSpec
from stemdeck.core.weights import WeightsRejected, missing_files, verify_present
from stemdeck.worker.models.base import ModelError

FAMILY = "uvr"
FOLDER = "uvr"
MDX_MODEL_DATA = "mdx_model_data.json"
_VR_MODEL_DATA = "vr_model_data.json"
_INDEX = "download_checks.json"
# Every list audio-separator reads from the index, present even when empty.
_INDEX_LISTS = (
    "vr_download_list",
    "mdx_download_list",
    "mdx_download_vip_list",
    "demucs_download_list",
    "mdx23c_download_list",
    "mdx23c_download_vip_list",
    "roformer_download_list",
)


def model_file(spec: ModelSpec) -> str:
    """The checkpoint's file name: the model id after ``uvr:``."""
    return spec.id.split(":", 1)[1]


def folder(models_dir: Path) -> Path:
    return models_dir / FOLDER


def config_file(spec: ModelSpec) -> str | None:
    """The YAML config a RoFormer or MDX23C model names in its weights; None for MDX-Net."""
    configs = [w.path.rsplit("/", 1)[1] for w in spec.weights if w.path.endswith(".yaml")]
    return configs[0] if configs else None


def model_index(spec: ModelSpec) -> dict[str, dict[str, Any]]:
    """A ``download_checks.json`` listing just this model, as UVR's own lists it."""
    index: dict[str, dict[str, Any]] = {name: {} for name in _INDEX_LISTS}
    name = f"Stemdeck: {spec.label}"
    config = config_file(spec)
    if config is not None:
        # RoFormer and MDX23C models share audio-separator's MDXC architecture; either
        # list routes a checkpoint there with the config named beside it.
        index["roformer_download_list"][name] = {model_file(spec): config}
    elif model_file(spec).endswith(".onnx"):
        index["mdx_download_list"][name] = model_file(spec)
    else:
        raise ModelError(f"{spec.id}: the catalog gives no YAML config for a non-ONNX model")
    return index


# Set, it makes torch.load unpickle anything where the caller did not ask otherwise.
UNSAFE_LOAD_VARIABLE = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


def ensure_present(spec: ModelSpec, models_dir: Path) -> list[Path]:
    """Every file ``spec`` needs, checked against its pin; ModelError naming what is wrong."""
    absent = missing_files(spec, models_dir)
    if absent:
        sources = [f"{w.path.rsplit('/', 1)[1]} from {w.url}" for w in spec.weights if w.url]
        where = f" (download {', '.join(sources)})" if sources else ""
        raise ModelError(
            f"{spec.id} files are missing: {', '.join(p.name for p in absent)}. Put them in "
            f"the models directory's {FOLDER}/ folder{where}, or run `stemdeck models` where "
            "the network allows."
        )
    try:
        verify_present(spec, models_dir)
    except WeightsRejected as error:
        raise ModelError(str(error)) from None
    return [models_dir / w.path for w in spec.weights]


def refuse_unsafe_unpickling() -> None:
    if os.environ.get(UNSAFE_LOAD_VARIABLE, "").strip().lower() not in ("", "0", "false", "no"):
        raise ModelError(
            f"{UNSAFE_LOAD_VARIABLE} is set in this worker's environment, which would let a "
            "checkpoint run code as it loads: unset it."
        )


@contextmanager
def staged(spec: ModelSpec, models_dir: Path) -> Iterator[Path]:
    """A private model dir for audio-separator: links to the weights, plus the index."""
    files = ensure_present(spec, models_dir)
    with tempfile.TemporaryDirectory(prefix="stemdeck-uvr-") as tmp:
        staging = Path(tmp)
        for path in files:
            (staging / path.name).symlink_to(path.resolve())
        (staging / _INDEX).write_text(json.dumps(model_index(spec)), encoding="utf-8")
        if not (staging / _VR_MODEL_DATA).exists():
            # Read (and merged) on every hash lookup, though only VR models are in it.
            (staging / _VR_MODEL_DATA).write_text("{}", encoding="utf-8")
        yield staging


class OfflineSeparator(Separator):  # type: ignore[misc]  # audio-separator has no type hints
    """audio-separator's Separator on a chosen device that never downloads anything."""

    def __init__(self, device: str, **kwargs: Any) -> None:
        # Read by setup_torch_device, which the parent's __init__ calls.
        self._stemdeck_device = torch.device(device)
        super().__init__(**kwargs)

    def setup_torch_device(self, system_info: Any) -> None:
        # The parent picks the best accelerator it sees; the worker's setting decides here.
        super().setup_torch_device(system_info)
        device = self._stemdeck_device
        self.torch_device = device
        if device.type == "mps":
            self.torch_device_mps = device
        if device.type != "cuda":
            self.onnx_execution_provider = ["CPUExecutionProvider"]

    def check_ffmpeg_installed(self) -> None:
        # Only its file writer uses ffmpeg, and stems never go through it (see uvr.py).
        pass

    def download_file_if_not_exists(self, url: str, output_path: str) -> None:
        if os.path.isfile(output_path):
            return
        # Every file was checked before loading; reaching here is a file this module
        # does not know audio-separator needs.
        raise ModelError(
            f"audio-separator wants {Path(output_path).name}, which Stemdeck does not provide "
            f"(it would download it from {url}); add it to the model's catalog weights"
        )


def ensure_onnx2torch_importable() -> None:
    """Stand in for onnx2torch where it cannot be imported, so MDX-Net models still load.

    audio-separator's MDX-Net module imports onnx2torch at the top, though it converts
    with it only when the segment size differs from the model's (never with the settings
    used here: ONNX Runtime runs the model). onnx2torch imports torchvision, and PyPI's
    only torchvision builds for torch 2.13 are CUDA builds that fail to import beside the
    CPU torch ("operator torchvision::nms does not exist"). Where the real one imports,
    it is used.
    """
    try:
        importlib.import_module("onnx2torch")
    except (ImportError, RuntimeError) as error:
        reason = f"{type(error).__name__}: {error}"

        def convert(*args: Any, **kwargs: Any) -> Any:
            raise ModelError(
                "this MDX-Net model needs onnx2torch, which cannot be imported here "
                f"({reason}); install a torchvision build that matches torch"
            )

        stand_in = types.ModuleType("onnx2torch")
        stand_in.convert = convert  # type: ignore[attr-defined]
        sys.modules["onnx2torch"] = stand_in


def load_architecture(spec: ModelSpec, models_dir: Path, device: str) -> Any:
    """audio-separator's loaded model (an MDXCSeparator or MDXSeparator) for ``spec``."""
    refuse_unsafe_unpickling()
    if config_file(spec) is None:
        ensure_onnx2torch_importable()
    with staged(spec, models_dir) as staging:
        # The parent silences every Python warning process-wide when not logging at
        # DEBUG; catch_warnings puts the worker's filters back afterwards.
        with warnings.catch_warnings():
            separator = OfflineSeparator(
                device,
                log_level=logging.ERROR,
                model_file_dir=str(staging),
                output_dir=str(staging),
                sample_rate=44_100,
                use_autocast=False,
                use_native_fp16=False,
                use_torch_compile=False,
            )
        # AUDIO_SEPARATOR_MODEL_DIR, if set, would point elsewhere; the staged dir wins.
        separator.model_file_dir = str(staging)
        checkpoint = model_file(spec)
        try:
            separator.load_model(checkpoint)
        except ModelError:
            raise
        except yaml.YAMLError as error:
            raise _unreadable(spec, models_dir, config_file(spec) or checkpoint, error) from error
        except SystemExit as error:
            # MDXCSeparator exits the process when a checkpoint does not load.
            raise _unreadable(spec, models_dir, checkpoint, "it does not load") from error
        except torch.cuda.OutOfMemoryError as error:
            raise ModelError(
                f"{spec.id} does not fit in the GPU's free memory; free some (fewer workers "
                "or models per GPU) or run this worker on the CPU (STEMDECK_DEVICE=cpu)"
            ) from error
        except Exception as error:
            if refusal := _weights_only_refusal(error):
                raise _unreadable(spec, models_dir, checkpoint, refusal) from None
            raise _unreadable(spec, models_dir, checkpoint, error) from error
        # The loaded model holds its weights in memory; the staged links may go.
        return separator.model_instance


def _weights_only_refusal(error: BaseException) -> str | None:
    """torch's weights-only refusal, however audio-separator wrapped it: a long text
    around the one name that matters."""
    text = str(error)
    if not isinstance(error, pickle.UnpicklingError) and "Weights only load failed" not in text:
        return None
    named = re.search(r"GLOBAL (\S+)", text)
    return f"refused unrun: {f'it names {named[1]}' if named else 'it holds more than tensors'}"


def _unreadable(spec: ModelSpec, models_dir: Path, name: str, reason: object) -> ModelError:
    if isinstance(reason, BaseException):
        reason = f"{type(reason).__name__}: {reason}"
    return ModelError(
        f"{spec.id} cannot load {name} from the models directory's {FOLDER}/ folder "
        f"({reason}). The file is damaged, incomplete, for another model, or holds more "
        "than weights: delete it and run `stemdeck models` to download it again, or put "
        "an intact copy there."
    )

